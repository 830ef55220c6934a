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
[ -f "$stamp" ] && exit 0
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
    for d in /usr/include/linux /usr/include/asm-generic /usr/include/mtd "/usr/include/$GNU_TRIPLE/asm"; do
        [ -d "$d" ] && cp -a "$d" "$MUSL_ROOT/usr/include/"
    done
    gcc_cross=/usr/lib/gcc/$GNU_TRIPLE/12
else
    kernel=/usr/$GNU_TRIPLE/include
    for d in linux asm asm-generic mtd; do
        [ -d "$kernel/$d" ] && cp -a "$kernel/$d" "$MUSL_ROOT/usr/include/"
    done
    gcc_cross=/usr/lib/gcc-cross/$GNU_TRIPLE/12
fi
for f in crtbegin.o crtbeginS.o crtbeginT.o crtend.o crtendS.o libgcc.a libgcc_eh.a; do
    cp "$gcc_cross/$f" "$GCC_DIR/"
done
echo "musl $(dpkg-deb -f "$(ls "$TETHER_CACHE"/debs/musl-dev_*_"$DEB_ARCH".deb | head -n1)" Version)" > "$stamp"
