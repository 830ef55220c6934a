#!/usr/bin/env bash
# Builds the board's static C libraries into $PREFIX with the toolchain's clang and lld:
#   mbedTLS 2.28 (Debian's source, upstream default config + cross/mbedtls-board-config.h)
#   libssh 0.10 (Debian's source and patches) with its mbedTLS backend, server and SFTP on,
#   no GSSAPI, no zlib, no pcap;
#   libxcrypt (crypt(3) with yescrypt).
# Usage: cross/build-libs.sh <board>
. "$(dirname "$0")/common.sh"
load_board "$1"
bash "$ROOT/cross/musl-root.sh" "$BOARD"

jobs=$(nproc)
# No unwind tables: nothing unwinds through C frames (Embedded Swift has no exceptions), and
# .eh_frame was 60 KB of the aarch64 binary.
NO_UNWIND="-fno-asynchronous-unwind-tables -fno-unwind-tables"
build_dir=$TETHER_CACHE/build/$(basename "$PREFIX")
mkdir -p "$build_dir" "$PREFIX"
toolchain=$build_dir/toolchain.cmake
cat > "$toolchain" <<CMAKE
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${ARCH%hf})
set(CMAKE_C_COMPILER $SWIFT_CLANG)
set(CMAKE_AR $SWIFT_BIN/llvm-ar)
set(CMAKE_RANLIB $SWIFT_BIN/llvm-ranlib)
set(CMAKE_C_FLAGS_INIT "$BOARD_CFLAGS -ffunction-sections -fdata-sections $NO_UNWIND -Wno-unused-command-line-argument")
set(CMAKE_EXE_LINKER_FLAGS_INIT "$BOARD_LDFLAGS")
set(CMAKE_FIND_ROOT_PATH $PREFIX $MUSL_ROOT)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_SHARED_LIBRARY_LINK_C_FLAGS "")
CMAKE
cmake_common=(
    -G Ninja -DCMAKE_BUILD_TYPE=MinSizeRel -DCMAKE_TOOLCHAIN_FILE="$toolchain"
    -DCMAKE_INSTALL_PREFIX="$PREFIX" -DBUILD_SHARED_LIBS=OFF
)

if ! stamp_ok "$PREFIX/mbedtls.stamp" "$PREFIX/lib/libmbedtls.a" "$PREFIX/lib/libmbedcrypto.a"; then
    log "mbedTLS for $CLANG_TARGET ($CPU_CFLAGS)"
    cp "$ROOT/cross/mbedtls-board-config.h" "$build_dir/tether-mbedtls-config.h"
    cmake -S "$SRC_DIR/mbedtls" -B "$build_dir/mbedtls" "${cmake_common[@]}" \
        -DCMAKE_C_FLAGS="$BOARD_CFLAGS -ffunction-sections -fdata-sections $NO_UNWIND -Wno-unused-command-line-argument -I$build_dir -DMBEDTLS_USER_CONFIG_FILE='<tether-mbedtls-config.h>'" \
        -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
        -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DMBEDTLS_FATAL_WARNINGS=OFF >"$build_dir/mbedtls.log"
    cmake --build "$build_dir/mbedtls" -j "$jobs" >>"$build_dir/mbedtls.log"
    cmake --install "$build_dir/mbedtls" >>"$build_dir/mbedtls.log"
    cp "$build_dir/tether-mbedtls-config.h" "$PREFIX/include/"
    cat "$SRC_DIR/mbedtls.stamp" > "$PREFIX/mbedtls.stamp"
fi

# libssh at -Oz (-13 KB on aarch64): its hot path is the ciphers, which are mbedTLS's (-Os).
if ! stamp_ok "$PREFIX/libssh.stamp" "$PREFIX/lib/libssh.a"; then
    log "libssh for $CLANG_TARGET (mbedTLS backend)"
    cmake -S "$SRC_DIR/libssh" -B "$build_dir/libssh" "${cmake_common[@]}" \
        -DCMAKE_C_FLAGS="$BOARD_CFLAGS -ffunction-sections -fdata-sections $NO_UNWIND -Wno-unused-command-line-argument -I$PREFIX/include -DMBEDTLS_USER_CONFIG_FILE='<tether-mbedtls-config.h>'" \
        -DCMAKE_C_FLAGS_MINSIZEREL="-Oz -DNDEBUG" \
        -DMBEDTLS_ROOT_DIR="$PREFIX" -DWITH_MBEDTLS=ON -DWITH_GSSAPI=OFF -DWITH_ZLIB=OFF \
        -DWITH_SERVER=ON -DWITH_SFTP=ON -DWITH_NACL=OFF -DWITH_PCAP=OFF -DWITH_EXAMPLES=OFF \
        -DWITH_SYMBOL_VERSIONING=OFF -DWITH_BLOWFISH_CIPHER=OFF -DWITH_DEBUG_CALLTRACE=OFF -DWITH_GEX=OFF \
        -DUNIT_TESTING=OFF -DCLIENT_TESTING=OFF -DSERVER_TESTING=OFF >"$build_dir/libssh.log"
    cmake --build "$build_dir/libssh" -j "$jobs" >>"$build_dir/libssh.log"
    cmake --install "$build_dir/libssh" >>"$build_dir/libssh.log"
    cat "$SRC_DIR/libssh.stamp" > "$PREFIX/libssh.stamp"
fi

# libxcrypt: crypt(3) with yescrypt ($y$, Debian 11+ and Raspberry Pi OS shadow files) besides
# $1$ $5$ $6$ (no bcrypt or DES: shadow files do not use them); musl lacks yescrypt. Only the library is built
# (its build-time table generators are not needed for these hashes).
if ! stamp_ok "$PREFIX/libxcrypt.stamp" "$PREFIX/lib/libcrypt.a"; then
    log "libxcrypt for $CLANG_TARGET"
    rm -rf "$build_dir/libxcrypt"; cp -a "$SRC_DIR/libxcrypt/" "$build_dir/libxcrypt"
    (
        cd "$build_dir/libxcrypt"
        autoreconf -fi >/dev/null 2>&1
        ./configure -q --host="$MUSL_TRIPLE" --prefix="$PREFIX" \
            CC="$SWIFT_CLANG $BOARD_CFLAGS -fuse-ld=lld" \
            CFLAGS="-Os -ffunction-sections -fdata-sections $NO_UNWIND -Wno-unused-command-line-argument" \
            LDFLAGS=--static --disable-shared --enable-static --disable-werror \
            --enable-hashes=md5crypt,sha256crypt,sha512crypt,yescrypt \
            --enable-obsolete-api=no --disable-xcrypt-compat-files >/dev/null 2>&1
        make -j "$jobs" lib/libcrypt.la >/dev/null
        make install-libLTLIBRARIES install-nodist_includeHEADERS >/dev/null
    ) >"$build_dir/libxcrypt.log" 2>&1 || { tail -20 "$build_dir/libxcrypt.log" >&2; exit 1; }
    rm -f "$PREFIX/lib/libcrypt.la"
    cat "$SRC_DIR/libxcrypt.stamp" > "$PREFIX/libxcrypt.stamp"
fi
log "libraries for $BOARD in $PREFIX"
