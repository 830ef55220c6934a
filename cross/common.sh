# Shared settings for the cross scripts. Sourced, not run.
# Everything downloaded or built lives under $TETHER_CACHE (default .cache/, ignored by git);
# the scripts are idempotent and skip steps whose stamp file exists.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TETHER_CACHE=${TETHER_CACHE:-$ROOT/.cache}
APT_DIR=$TETHER_CACHE/apt
SRC_DIR=$TETHER_CACHE/src
SWIFT_BIN=$(dirname "$(readlink -f "$(command -v swiftc)")")
SWIFT_CLANG=$SWIFT_BIN/clang
# Debian source versions are whatever bookworm (+ security) serves; the stamps record them.
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

log() { printf 'cross: %s\n' "$*" >&2; }

# apt-get/apt-cache with a private state directory: the host's apt configuration is untouched,
# and ARM (and amd64) binary packages and source packages can be fetched without
# dpkg --add-architecture.
apt_private() {
    local tool=$1; shift
    "$tool" -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
        -o Dir::Etc::SourceParts="$APT_DIR/sources.list.d" \
        -o Dir::State::Lists="$APT_DIR/lists" -o Dir::State::Status="$APT_DIR/status" \
        -o Dir::Cache="$APT_DIR/cache" \
        -o APT::Architectures::=amd64 -o APT::Architectures::=arm64 \
        -o APT::Architectures::=armhf -o Debug::NoLocking=1 "$@"
}

# Loads board-configs/<board>.conf into the environment and derives the toolchain variables.
load_board() {
    local board=$1 file="$ROOT/board-configs/$1.conf"
    [ -f "$file" ] || { echo "cross: no board config $file" >&2; exit 2; }
    # shellcheck disable=SC1090
    . "$file"
    BOARD=$board
    case "$ARCH" in
        aarch64)
            SWIFT_TARGET=aarch64-none-none-elf
            CLANG_TARGET=aarch64-unknown-linux-musl
            DEB_ARCH=arm64; MUSL_TRIPLE=aarch64-linux-musl; GNU_TRIPLE=aarch64-linux-gnu
            QEMU=qemu-aarch64-static; FILE_MACHINE="ARM aarch64" ;;
        armv7hf)
            SWIFT_TARGET=armv7-none-none-eabihf
            CLANG_TARGET=armv7-unknown-linux-musleabihf
            DEB_ARCH=armhf; MUSL_TRIPLE=arm-linux-musleabihf; GNU_TRIPLE=arm-linux-gnueabihf
            QEMU=qemu-arm-static; FILE_MACHINE="ARM, EABI5" ;;
        x86_64)
            # Runs natively on the (x86_64) build machine: no qemu. Kernel headers and libgcc
            # come from the host's own packages (linux-libc-dev, libgcc-12-dev).
            SWIFT_TARGET=x86_64-unknown-none-elf
            CLANG_TARGET=x86_64-unknown-linux-musl
            DEB_ARCH=amd64; MUSL_TRIPLE=x86_64-linux-musl; GNU_TRIPLE=x86_64-linux-gnu
            QEMU=; FILE_MACHINE="x86-64" ;;
        *) echo "cross: $file: ARCH=$ARCH is not aarch64, armv7hf or x86_64" >&2; exit 2 ;;
    esac
    [ "${LIBC:-musl}" = musl ] || { echo "cross: $file: only LIBC=musl is supported" >&2; exit 2; }
    MUSL_ROOT=$TETHER_CACHE/sysroot/$MUSL_TRIPLE
    GCC_DIR=$MUSL_ROOT/usr/lib/gcc/$CLANG_TARGET/12
    # The library recipe's hash is part of the prefix: editing the recipe rebuilds the libraries.
    recipe=$( (cat "$ROOT/cross/build-libs.sh" "$ROOT/cross/mbedtls-board-config.h"; echo "$CPU_CFLAGS") | sha256sum | cut -c1-10)
    PREFIX=$TETHER_CACHE/prefix/$CLANG_TARGET${CPU_TAG:+-$CPU_TAG}-$recipe
    # C flags for everything compiled for this board with the toolchain's clang.
    BOARD_CFLAGS="--target=$CLANG_TARGET --sysroot=$MUSL_ROOT --gcc-install-dir=$GCC_DIR $CPU_CFLAGS"
    BOARD_LDFLAGS="-fuse-ld=lld -static"
}

# Fails at once, naming the package, when a file a step copies or uses is not on this machine
# (a step must never go on without it and leave a result that only fails later).
need_file() {
    local file=$1 package=$2
    [ -e "$file" ] && return 0
    echo "cross: missing $file: install Debian package $package (scripts/install-deps.sh)" >&2
    exit 1
}

# A cached step's stamp counts only while what it stands for is there: `stamp_ok STAMP FILE...`
# is true when STAMP and every FILE exist; a stamp whose content is gone or incomplete is removed
# (with one line) so that the step builds again instead of failing forever.
stamp_ok() {
    local stamp=$1 f; shift
    [ -f "$stamp" ] || return 1
    for f in "$@"; do
        if [ ! -e "$f" ]; then
            log "cached result $(dirname "$stamp") lacks $f: building it again"
            rm -f "$stamp"
            return 1
        fi
    done
}
