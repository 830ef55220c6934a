#!/usr/bin/env bash
# Checks that every file the build, the tests and the demo use is on this machine, and names the
# Debian package that brings each missing one. Independent of the list in install-deps.sh on
# purpose: a package dropped from that list fails here, at once, with its name, instead of as a
# confusing error twenty minutes into `make test`. A probe is a command name (looked up on PATH)
# or an absolute path; a new dependency gets a line here and a name in install-deps.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
multi=/usr/lib/x86_64-linux-gnu
probes=(
    # what                                         package               used by
    "ld                                            binutils              swift link"
    "gcc                                           gcc                   swift link, C shims"
    "/usr/include/stdio.h                          libc6-dev             swift, C shims"
    "/usr/include/c++/12                           libstdc++-12-dev      swift (C++ interop headers)"
    "/usr/lib/gcc/x86_64-linux-gnu/12/libgcc.a     libgcc-12-dev         swift link, x86_64 board"
    "$multi/libcurl.so.4                           libcurl4              swiftpm"
    "$multi/libxml2.so.2                           libxml2               swift toolchain"
    "$multi/libsqlite3.so.0                        libsqlite3-0          swiftpm"
    "$multi/libedit.so.2                           libedit2              swift toolchain"
    "$multi/libncursesw.so.6                       libncurses6           swift toolchain"
    "$multi/libpython3.11.so.1.0                   libpython3.11         swift toolchain (lldb)"
    "/usr/include/zlib.h                           zlib1g-dev            swift link"
    "/usr/share/zoneinfo/UTC                       tzdata                swift toolchain"
    "git                                           git                   swiftpm"
    "/etc/ssl/certs/ca-certificates.crt            ca-certificates       pip, tests' system CA bundle"
    "make                                          make                  make test"
    "/usr/include/libssh/libssh.h                  libssh-dev            host build"
    "/usr/include/mbedtls/ssl.h                    libmbedtls-dev        host build"
    "cmake                                         cmake                 board libssh/mbedTLS"
    "ninja                                         ninja-build           board libssh/mbedTLS"
    "dpkg-source                                   dpkg-dev              board sources"
    "xz                                            xz-utils              board sources, peers"
    "file                                          file                  cross/check.sh"
    "autoconf                                      autoconf              board libxcrypt"
    "automake                                      automake              board libxcrypt"
    "libtoolize                                    libtool               board libxcrypt"
    "pkg-config                                    pkg-config            board libxcrypt"
    "/usr/lib/gcc-cross/aarch64-linux-gnu/12/libgcc.a    gcc-aarch64-linux-gnu     aarch64 boards"
    "/usr/lib/gcc-cross/arm-linux-gnueabihf/12/libgcc.a  gcc-arm-linux-gnueabihf   armv7 boards"
    "/usr/aarch64-linux-gnu/include/linux/mman.h   linux-libc-dev-arm64-cross  aarch64 boards"
    "/usr/arm-linux-gnueabihf/include/linux/mman.h linux-libc-dev-armhf-cross  armv7 boards"
    "/usr/include/linux/mman.h                     linux-libc-dev        x86_64 board"
    "qemu-aarch64-static                           qemu-user-static      board tests"
    "qemu-arm-static                               qemu-user-static      board tests"
    "/usr/lib/python3/dist-packages                python3               Debian's python (venv base)"
    "nginx                                         nginx-light           TLS front, gateway"
    "openssl                                       openssl               test CA, keys"
    "ssh                                           openssh-client        e2e SSH client"
    "sftp                                          openssh-client        e2e sftp"
    "scp                                           openssh-client        e2e scp"
    "/usr/sbin/sshd                                openssh-server        SSH benchmark peer"
    "/usr/lib/openssh/sftp-server                  openssh-sftp-server   board's sftp-server"
    "tmux                                          tmux                  pty tests"
    "pgrep                                         procps                tests"
    "ss                                            iproute2              tests"
    "useradd                                       passwd                test users"
    "/usr/lib/postgresql/15/bin/postgres           postgresql            interop (ShellHub server)"
    "redis-server                                  redis-server          interop (ShellHub server)"
    "tinyproxy                                     tinyproxy             e2e HTTP CONNECT proxy"
    "hyperfine                                     hyperfine             benchmarks"
    "valgrind                                      valgrind              benchmarks"
)
missing=0
for line in "${probes[@]}"; do
    read -r probe package purpose <<<"$line"
    if [[ $probe == /* ]]; then [ -e "$probe" ] && continue; else command -v "$probe" >/dev/null && continue; fi
    echo "deps: missing $probe ($purpose): install Debian package $package (scripts/install-deps.sh)" >&2
    missing=$((missing + 1))
done
if [ ! -x .venv/bin/python ] && [ -z "${DEPS_NO_VENV:-}" ]; then
    echo "deps: missing .venv/bin/python: run scripts/install-deps.sh" >&2
    missing=$((missing + 1))
fi
[ "$missing" -eq 0 ] || { echo "deps: $missing missing" >&2; exit 1; }
