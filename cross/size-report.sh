#!/usr/bin/env bash
# Where a board binary's bytes go: relinks dist/<board>/tether's objects with an lld map and sums
# the kept input sections (.text, .rodata, .data, .eh_frame, ...) per library / Swift module.
# Usage: cross/size-report.sh <board> [top-N objects]
. "$(dirname "$0")/common.sh"
board=${1:?usage: cross/size-report.sh <board> [N]}
top=${2:-25}
load_board "$board"
scratch=$ROOT/.build-cross/$BOARD
out=$TETHER_CACHE/size-report/$BOARD
mkdir -p "$out"
rm -f "$scratch/release/tether"
# The link line SwiftPM runs (verbose), re-run with a map into a scratch output.
link=$(CROSS_VERBOSE=1 bash "$ROOT/cross/build.sh" "$BOARD" 2>&1 | grep -E '/ld\.lld"? ' | tail -1)
[ -n "$link" ] || { echo "size-report: no ld.lld line in the verbose build" >&2; exit 1; }
target=$(readlink -f "$scratch/release")/tether
link=${link/" -o $target "/" -Map=$out/tether.map -o $out/tether "}
eval "$link"
"$SWIFT_BIN/llvm-objcopy" --strip-all "$out/tether" "$out/tether.stripped"
echo "$BOARD: $(stat -c %s "$out/tether.stripped") bytes stripped"
python3 - "$out/tether.map" "$top" <<'PY'
import collections, re, sys
KEEP = ('.text', '.rodata', '.data', '.data.rel.ro', '.eh_frame', '.eh_frame_hdr', '.init_array',
        '.fini_array', '.got', '.tdata', '.ARM.exidx', '.ARM.extab')
section = None
groups, objects = collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    # lld map columns: VMA(16) LMA(16) Size(8) Align(5), then Out / In (8 spaces) / Symbol (16).
    if len(line) < 50:
        continue
    try:
        size = int(line[34:42], 16)
    except ValueError:
        continue
    name = line[49:].rstrip('\n')
    if not name.startswith(' '):
        section = name.strip()
        continue
    if name.startswith(' ' * 16) or section not in KEEP:
        continue
    name = name.strip()
    m = re.search(r'/(\w+)\.build/\w+\.(swift|c)\.o', name)
    if m:
        group = m.group(1) + (' (Swift)' if m.group(2) == 'swift' else ' (C)')
        obj = name.split('/')[-1].split(':(')[0]
    else:
        lib = re.search(r'/lib(\w+)\.a\((.*?)\)', name)
        if lib:
            group = {'mbedcrypto': 'mbedTLS', 'mbedx509': 'mbedTLS', 'mbedtls': 'mbedTLS',
                     'c': 'musl', 'crypt': 'libxcrypt', 'ssh': 'libssh', 'gcc': 'libgcc',
                     'swiftUnicodeDataTables': 'Swift Unicode tables'}.get(lib.group(1), lib.group(1))
            obj = f'lib{lib.group(1)}.a({lib.group(2)})'
        elif name.startswith('<internal>'):
            group = 'linker-made ' + section + (' (merged strings)' if '.str' in name else '')
            obj = group
        else:
            group = obj = name.split('/')[-1].split(':(')[0]
    groups[group] += size
    objects[obj] += size
total = sum(groups.values())
print(f'{total:>9,}  kept input sections')
for g, s in groups.most_common():
    print(f'{s:>9,}  {g}')
print(f'\nlargest {sys.argv[2]} objects:')
for o, s in objects.most_common(int(sys.argv[2])):
    print(f'{s:>9,}  {o}')
PY
