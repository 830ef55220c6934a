#!/usr/bin/env bash
# Builds the heap-counting variants used by Tests/bench/board_memory.py (not product builds):
#   board: dist/<board>/tether's own link line (taken from a verbose cross/build.sh, as
#          cross/size-report.sh does) re-run with Tests/bench/heap_count.c and ld --wrap of the
#          allocator entry points -> .build-bench/heapcount/<board>/tether
#   host:  heap_count.c as an LD_PRELOAD library -> .build-bench/heapcount/libheapcount.so
# Usage: Tests/bench/heap_count_board.sh <board>
. "$(dirname "$0")/../../cross/common.sh"
board=${1:?usage: Tests/bench/heap_count_board.sh <board>}
load_board "$board"
scratch=$ROOT/.build-cross/$BOARD
out=$ROOT/.build-bench/heapcount/$BOARD
mkdir -p "$out"
shim=$ROOT/Tests/bench/heap_count.c

read -r -a cpu_cflags <<<"$CPU_CFLAGS"
"$SWIFT_CLANG" --target="$CLANG_TARGET" --sysroot="$MUSL_ROOT" "${cpu_cflags[@]}" -Os \
    -DHEAP_COUNT_WRAP -c "$shim" -o "$out/heap_count.o"
rm -f "$scratch/release/tether"
link=$(CROSS_VERBOSE=1 bash "$ROOT/cross/build.sh" "$BOARD" 2>&1 | grep -E '/ld\.lld"? ' | tail -1)
[ -n "$link" ] || { echo "heap_count: no ld.lld line in the verbose build" >&2; exit 1; }
target=$(readlink -f "$scratch/release")/tether
wrap=--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,--wrap=reallocarray
wrap=$wrap,--wrap=aligned_alloc,--wrap=memalign,--wrap=posix_memalign
link=${link/" -o $target "/" ${wrap//,/ } -o $out/tether.debug $out/heap_count.o "}
eval "$link"
# valgrind 3.19 cannot read clang's DWARF 5; the symbol table is all the reader needs.
"$SWIFT_BIN/llvm-objcopy" --strip-debug "$out/tether.debug" "$out/tether"
rm -f "$out/tether.debug"
syms=$(nm "$out/tether")
grep -q ' T __wrap_malloc$' <<<"$syms" && grep -q ' D tether_heap_count$' <<<"$syms" \
    || { echo "heap_count: malloc not wrapped" >&2; exit 1; }
echo "$out/tether"

cc -O2 -fPIC -shared -o "$ROOT/.build-bench/heapcount/libheapcount.so" "$shim"
echo "$ROOT/.build-bench/heapcount/libheapcount.so"
