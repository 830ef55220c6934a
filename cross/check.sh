#!/usr/bin/env bash
# Checks dist/<board>/tether: a stripped, fully static ELF of the board's machine (armv7:
# hard-float calling convention), that runs under qemu-user (x86_64: natively), reports the
# right board, and passes its built-in self checks. Prints one line per check; exits non-zero
# on any failure.
. "$(dirname "$0")/common.sh"
board=${1:?usage: cross/check.sh <board>}
load_board "$board"
bin=$ROOT/dist/$BOARD/tether
pass=0 fail=0
check() {  # check <name> <command...>
    local name=$1; shift
    if out=$("$@" 2>&1); then pass=$((pass + 1)); echo "ok   $BOARD: $name"
    else fail=$((fail + 1)); echo "FAIL $BOARD: $name"; printf '%s\n' "$out" | sed 's/^/     /' | head -20; fi
}
info=$(file "$bin")
check "ELF for $FILE_MACHINE" grep -q "$FILE_MACHINE" <<<"$info"
check "statically linked" grep -q "statically linked" <<<"$info"
check "stripped" grep -q ", stripped" <<<"$info"
check "no program interpreter" bash -c "! readelf -l '$bin' | grep -q INTERP"
if [ "$ARCH" = armv7hf ]; then
    check "hard-float ABI (VFP args)" bash -c "readelf -A '$bin' | grep -q 'Tag_ABI_VFP_args: VFP registers'"
fi
# x86_64 has no runner: the binary runs directly.
runner=${QEMU:-native}
run=(); [ -n "$QEMU" ] && run=("$QEMU")
check "--version ($runner)" bash -c "${run[*]} '$bin' --version | grep -q '^tether .*($ARCH-linux-musl, embedded, board $BOARD)\$'"
check "selftest ($runner)" "${run[@]}" "$bin" selftest
echo "$BOARD: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
