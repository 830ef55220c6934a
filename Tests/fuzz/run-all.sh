#!/usr/bin/env bash
# Runs every fuzz target (each directory here with a fuzz.swift) for FUZZ_SECONDS each
# (default 60; CI smoke: FUZZ_SECONDS=10). Used by `make fuzz`. Stops at the first crash.
set -euo pipefail
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-60}
ran=0
for dir in */; do
    t=${dir%/}
    [ -f "$t/fuzz.swift" ] || continue
    echo "== fuzz $t for ${secs}s"
    # A build failure or a crash fails the run; the summary lines are printed either way.
    status=0
    out=$(bash ./run.sh "$t" "$secs" 2>&1) || status=$?
    printf '%s\n' "$out" | grep -E '^(Done|stat::number_of_executed_units)|ERROR|Fatal|SUMMARY|error:' || true
    if [ "$status" -ne 0 ] || [ -n "$(ls artifacts/"$t"-* 2>/dev/null)" ]; then
        printf '%s\n' "$out" | tail -20 >&2
        echo "fuzz $t failed (build error or crash; inputs in Tests/fuzz/artifacts/)" >&2
        exit 1
    fi
    ran=$((ran + 1))
done
echo "fuzz: $ran passed, 0 failed"
