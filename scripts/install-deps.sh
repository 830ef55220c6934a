#!/usr/bin/env bash
# Installs everything Tether's build, tests and demo need on a Debian 12 machine (as root):
# Debian packages, then the Python test packages into .venv. Idempotent and quiet when done.
#
# Every package anything here touches is named below, with what it is for: nothing relies on a
# recommendation (--no-install-recommends) or on what a base image happens to carry beyond the
# Swift toolchain itself. `scripts/check-deps.sh` then checks, independently of this list, the
# files each part uses and names the package that brings each one; `.ci/run` runs all of this
# in a fresh Debian root, so a package missing here fails CI with a line naming it.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
    # The Swift toolchain (/opt/swift, not a Debian package) links with the system's C runtime
    # and needs these libraries to run swiftc, SwiftPM and Swift Testing.
    binutils gcc libc6-dev libstdc++-12-dev libgcc-12-dev
    libcurl4 libxml2 libsqlite3-0 libedit2 libncurses6 libpython3.11 zlib1g-dev tzdata git
    ca-certificates make
    libssh-dev libmbedtls-dev                       # host build: libssh (server) + mbedTLS
    cmake ninja-build dpkg-dev xz-utils file        # board builds: Debian sources, checks
    autoconf automake libtool pkg-config            # libxcrypt's build
    gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf   # crt files and libgcc of the ARM boards
    linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross  # their kernel headers (linux/mman.h)
    linux-libc-dev                                  # kernel headers of the x86_64 board
    qemu-user-static                                # run board binaries in tests
    python3 python3-venv nginx-light openssl        # dev hub, TLS front end
    openssh-client openssh-server openssh-sftp-server tmux  # real SSH peers in e2e tests
    procps iproute2 passwd login                    # ps/pgrep, ss, useradd/chpasswd, test users
    postgresql redis-server                         # the real ShellHub server's stores (interop)
    tinyproxy                                       # a real HTTP CONNECT proxy (e2e)
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
# nginx-light's package starts a system nginx on :80, postgresql and redis-server their own
# instances; the tests run their own.
if command -v systemctl >/dev/null; then
    for unit in nginx postgresql redis-server tinyproxy; do
        systemctl is-active -q "$unit" 2>/dev/null && systemctl stop "$unit" || true
    done
fi
if [ ! -x .venv/bin/python ] || [ Tests/requirements.txt -nt .venv/.stamp ]; then
    python3 -m venv .venv
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -r Tests/requirements.txt
    touch .venv/.stamp
fi
bash scripts/check-deps.sh
echo "deps: ok"
