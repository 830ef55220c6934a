#!/usr/bin/env bash
# Assembles a small static musl root for one board architecture under $TETHER_CACHE/sysroot:
#   usr/include   musl headers (Debian's musl-dev) + the kernel headers of Debian's cross
#                 toolchain (linux/, asm/, asm-generic/); for x86_64 the host's own
#                 (linux-libc-dev: /usr/include/{linux,asm-generic}, asm from x86_64-linux-gnu/)
#   usr/lib       crt1.o crti.o crtn.o libc.a ... (musl-dev)
#   usr/lib/gcc/<clang triple>/12   crtbeginT.o, crtend.o, libgcc.a, libgcc_eh.a from Debian's
#                 cross gcc (x86_64: the host gcc's, libgcc-12-dev), so that clang
#                 (--gcc-install-dir) links static binaries itself.
# Usage: cross/musl-root.sh <board>
. "$(dirname "$0")/common.sh"
load_board "$1"

stamp=$MUSL_ROOT/.stamp
# What a usable root holds (libxcrypt needs linux/mman.h; musl's own headers, crt files, libgcc).
content=("$MUSL_ROOT/usr/include/stdio.h" "$MUSL_ROOT/usr/include/linux/mman.h"
         "$MUSL_ROOT/usr/include/asm/mman.h" "$MUSL_ROOT/usr/include/asm-generic/mman.h"
         "$MUSL_ROOT/usr/lib/libc.a" "$MUSL_ROOT/usr/lib/crt1.o" "$GCC_DIR/libgcc.a" "$GCC_DIR/crtbeginT.o")
stamp_ok "$stamp" "${content[@]}" && exit 0
log "musl root for $MUSL_TRIPLE"
rm -rf "$MUSL_ROOT"; mkdir -p "$MUSL_ROOT/usr/include" "$MUSL_ROOT/usr/lib" "$GCC_DIR"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$(ls "$TETHER_CACHE"/debs/musl-dev_*_"$DEB_ARCH".deb | head -n1)" "$tmp"
cp -a "$tmp/usr/include/$MUSL_TRIPLE/." "$MUSL_ROOT/usr/include/"
cp -a "$tmp/usr/lib/$MUSL_TRIPLE/." "$MUSL_ROOT/usr/lib/"
rm -f "$MUSL_ROOT"/usr/lib/*.so "$MUSL_ROOT/usr/lib/musl-gcc.specs"
if [ "$ARCH" = x86_64 ]; then
    # The host is the target: its kernel headers, with asm/ from the multiarch directory (glibc's
    # own headers there are not copied), and its gcc's libgcc.
    need_file /usr/include/linux/mman.h linux-libc-dev
    for d in /usr/include/linux /usr/include/asm-generic "/usr/include/$GNU_TRIPLE/asm"; do
        cp -a "$d" "$MUSL_ROOT/usr/include/"
    done
    [ -d /usr/include/mtd ] && cp -a /usr/include/mtd "$MUSL_ROOT/usr/include/"
    gcc_cross=/usr/lib/gcc/$GNU_TRIPLE/12
    gcc_package=libgcc-12-dev
else
    kernel=${TETHER_CROSS_INCLUDE:-/usr/$GNU_TRIPLE/include}   # Debian's linux-libc-dev-*-cross
    need_file "$kernel/linux/mman.h" "linux-libc-dev-$DEB_ARCH-cross"
    for d in linux asm asm-generic; do
        cp -a "$kernel/$d" "$MUSL_ROOT/usr/include/"
    done
    [ -d "$kernel/mtd" ] && cp -a "$kernel/mtd" "$MUSL_ROOT/usr/include/"
    gcc_cross=/usr/lib/gcc-cross/$GNU_TRIPLE/12
    gcc_package=gcc-$GNU_TRIPLE
fi
for f in crtbegin.o crtbeginS.o crtbeginT.o crtend.o crtendS.o libgcc.a libgcc_eh.a; do
    need_file "$gcc_cross/$f" "$gcc_package"
    cp "$gcc_cross/$f" "$GCC_DIR/"
done
for f in "${content[@]}"; do
    [ -e "$f" ] || { log "musl root for $MUSL_TRIPLE came out without $f: not stamped"; exit 1; }
done
echo "musl $(dpkg-deb -f "$(ls "$TETHER_CACHE"/debs/musl-dev_*_"$DEB_ARCH".deb | head -n1)" Version)" > "$stamp"
