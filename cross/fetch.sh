#!/usr/bin/env bash
# Fetches what board builds need from Debian's archive into $TETHER_CACHE:
#  - musl-dev for arm64, armhf and amd64 (headers, crt files, libc.a),
#  - the source packages of mbedtls, libssh and libxcrypt (with Debian's patches applied).
. "$(dirname "$0")/common.sh"

mkdir -p "$APT_DIR"/{sources.list.d,lists/partial,cache/archives/partial} "$SRC_DIR" "$TETHER_CACHE/debs"
touch "$APT_DIR/status"
# The stamp names the binary architectures in the lists: adding one updates them once more.
archs=amd64,arm64,armhf
if [ ! -f "$APT_DIR/updated-$archs.stamp" ]; then
    cat > "$APT_DIR/sources.list" <<SRC
deb [arch=$archs] $DEBIAN_MIRROR $DEBIAN_SUITE main
deb-src $DEBIAN_MIRROR $DEBIAN_SUITE main
deb-src $DEBIAN_SECURITY $DEBIAN_SUITE-security main
SRC
    log "apt update (private lists under $APT_DIR)"
    apt_private apt-get -qq update
    touch "$APT_DIR/updated-$archs.stamp"
fi

cd "$TETHER_CACHE/debs"
for pkg in musl-dev:arm64 musl-dev:armhf musl-dev:amd64; do
    if ! ls "${pkg%%:*}"_*_"${pkg##*:}".deb >/dev/null 2>&1; then
        log "download $pkg"
        apt_private apt-get -qq download "$pkg" 2>&1 | grep -v 'unsandboxed' || true
        ls "${pkg%%:*}"_*_"${pkg##*:}".deb >/dev/null
    fi
done

cd "$SRC_DIR"
for src in mbedtls libssh libxcrypt; do
    if ! stamp_ok "$SRC_DIR/$src.stamp" "$SRC_DIR/$src/debian/changelog"; then
        log "source $src"
        # Prefer the security update; the security pool is not always reachable from here,
        # then take the point release's version.
        apt_private apt-get -qq source "$src" >/dev/null 2>&1 \
            || apt_private apt-get -qq source "$src/$DEBIAN_SUITE" >/dev/null
        dir=$(ls -d "$src"-*/ | head -n1)
        ln -sfn "${dir%/}" "$src"
        ls "$src"_*.dsc > "$src.stamp"
    fi
done
log "sources: $(cat "$SRC_DIR"/*.stamp | tr '\n' ' ')"
