#!/usr/bin/env bash
# Builds dist/<board>/tether: the agent compiled with Embedded Swift for the board's CPU and
# linked fully static with musl, libssh (mbedTLS backend) and mbedTLS, then stripped.
# SwiftPM drives the build with a generated toolset (see cross/toolset.json.in).
# Usage: cross/build.sh <board>
. "$(dirname "$0")/common.sh"
board=${1:?usage: cross/build.sh <board>}
load_board "$board"
bash "$ROOT/cross/fetch.sh"
bash "$ROOT/cross/build-libs.sh" "$board"

embedded=$(dirname "$SWIFT_BIN")/lib/swift/embedded
case "$ARCH" in
    aarch64) stdlib_arch=aarch64-none-none-elf ;;
    armv7hf) stdlib_arch=armv7-none-none-eabi ;;
    x86_64) stdlib_arch=x86_64-unknown-none-elf ;;
esac
work=$TETHER_CACHE/toolsets
mkdir -p "$work"

# armv7 hard-float: the embedded stdlib ships for armv7-none-none-eabi only; an environment
# mismatch is accepted by the compiler, so an eabihf alias of each module is enough.
overlay=$TETHER_CACHE/overlay/$stdlib_arch
if [ "$ARCH" = armv7hf ]; then
    for m in Swift Synchronization _Volatile _Builtin_float; do
        mkdir -p "$overlay/$m.swiftmodule"
        ln -sfn "$embedded/$m.swiftmodule/armv7-none-none-eabi.swiftmodule" \
            "$overlay/$m.swiftmodule/armv7-none-none-eabihf.swiftmodule"
    done
fi

# The board's agent defaults, compiled into CShims (see Sources/CShims/shims.c).
defines=(
    "-DTETHER_BOARD=\"$BOARD\"" "-DTETHER_LIBC=\"musl\""
    "-DTETHER_KEY_PATH=\"$KEY_PATH\"" "-DTETHER_LOG_TARGET=\"$LOG_TARGET\""
    "-DTETHER_SESSION_SLOTS=$SESSION_SLOTS" "-DTETHER_MIDDLEBOX_IDLE=$MIDDLEBOX_IDLE"
)
json_list() { local first=1; printf '['; for a in "$@"; do [ $first = 1 ] || printf ', '; first=0
    a=${a//\\/\\\\}; printf '"%s"' "${a//\"/\\\"}"; done; printf ']'; }

read -r -a cpu_cflags <<<"$CPU_CFLAGS"
c_opts=(--target="$CLANG_TARGET" --sysroot="$MUSL_ROOT" --gcc-install-dir="$GCC_DIR"
        "${cpu_cflags[@]}" -I"$PREFIX/include" -ffunction-sections -fdata-sections
        -fno-asynchronous-unwind-tables -fno-unwind-tables
        "-DMBEDTLS_USER_CONFIG_FILE=<tether-mbedtls-config.h>" "${defines[@]}")
# -function-sections: without it each Swift file is one .text section and --gc-sections keeps
# every function of a file that has one live function (630 KB of dead code on aarch64).
# TETHER_BOARD_BUILD leaves host-only tools (ws-echo) out of the board binary.
swift_opts=(-enable-experimental-feature Embedded -Osize -Xfrontend -function-sections
            -D TETHER_BOARD_BUILD -target-cpu "$SWIFT_CPU"
            -Xfrontend -clang-target -Xfrontend "$CLANG_TARGET"
            -Xcc --sysroot="$MUSL_ROOT" -Xcc -I"$PREFIX/include"
            "-Xcc" "-DMBEDTLS_USER_CONFIG_FILE=<tether-mbedtls-config.h>")
for f in "${cpu_cflags[@]}"; do swift_opts+=(-Xcc "$f"); done
[ "$ARCH" = armv7hf ] && swift_opts+=(-I "$overlay")
link_opts=(-Xclang-linker --target="$CLANG_TARGET" -Xclang-linker --sysroot="$MUSL_ROOT"
           -Xclang-linker --gcc-install-dir="$GCC_DIR" -Xclang-linker -fuse-ld=lld
           -Xclang-linker -static -Xclang-linker -Wl,--gc-sections -Xclang-linker -Wl,--icf=all
           -Xclang-linker -Wl,--wrap=crypto_sign_ed25519,--wrap=crypto_sign_ed25519_open
           -Xclang-linker -Wl,--wrap=crypto_sign_ed25519_keypair
           -L"$PREFIX/lib" -L"$embedded/$stdlib_arch"
           -lssh -lmbedtls -lmbedx509 -lmbedcrypto -lcrypt -lswiftUnicodeDataTables)

toolset=$work/$BOARD.json
cat > "$toolset" <<JSON
{
  "schemaVersion": "1.0",
  "swiftCompiler": { "extraCLIOptions": $(json_list "${swift_opts[@]}" "${link_opts[@]}") },
  "cCompiler": { "extraCLIOptions": $(json_list "${c_opts[@]}") }
}
JSON

scratch=$ROOT/.build-cross/$BOARD
# Swift's multi-threaded WMO skips code generation for a file whose IR hash is unchanged, and
# that hash does not cover code generation flags: a changed toolset must start from scratch.
toolset_sum=$(sha256sum "$toolset" | cut -c1-16)
if [ "$(cat "$scratch/toolset.sum" 2>/dev/null)" != "$toolset_sum" ]; then
    rm -rf "$scratch"; mkdir -p "$scratch"; echo "$toolset_sum" > "$scratch/toolset.sum"
fi
# SwiftPM does not see changes in the static C libraries: always relink.
rm -f "$scratch/release/tether"
log "swift build for $BOARD ($SWIFT_TARGET, $CLANG_TARGET)"
(cd "$ROOT" && swift build -c release --triple "$SWIFT_TARGET" --toolset "$toolset" \
    --scratch-path "$scratch" --product tether ${CROSS_VERBOSE:+-v})

out=$ROOT/dist/$BOARD
mkdir -p "$out"
"$SWIFT_BIN/llvm-objcopy" --strip-all "$scratch/release/tether" "$out/tether"
size=$(stat -c %s "$out/tether")
log "dist/$BOARD/tether: $size bytes stripped"
file "$out/tether" | grep -q "$FILE_MACHINE" || { echo "cross: wrong machine: $(file "$out/tether")" >&2; exit 1; }
file "$out/tether" | grep -q "statically linked" || { echo "cross: not static: $(file "$out/tether")" >&2; exit 1; }
