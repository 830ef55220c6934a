#!/usr/bin/env bash
# Installs everything Tether's build, tests and demo need on a Debian 12 machine (as root):
# Debian packages, then the Python test packages into .venv. Idempotent and quiet when done.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
    libssh-dev libmbedtls-dev                       # host build: libssh (server) + mbedTLS
    cmake ninja-build dpkg-dev xz-utils file binutils  # board builds: Debian sources, checks
    autoconf automake libtool pkg-config            # libxcrypt's build
    gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf   # crt files, libgcc and kernel headers
    libgcc-12-dev linux-libc-dev                    # the same for the x86_64 board (host's own)
    qemu-user-static                                # run board binaries in tests
    python3-venv nginx-light openssl                # dev hub, TLS front end
    openssh-client openssh-server openssh-sftp-server tmux  # real SSH peers in e2e tests
    hyperfine valgrind                              # benchmarks
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# nginx-light's package starts a system nginx on :80; the tests run their own instances.
if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
    systemctl stop nginx || true
fi
if [ ! -x .venv/bin/python ] || [ Tests/requirements.txt -nt .venv/.stamp ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    [ -f Tests/requirements.txt ] && .venv/bin/pip install -q -r Tests/requirements.txt
    touch .venv/.stamp
fi
echo "deps: ok"
