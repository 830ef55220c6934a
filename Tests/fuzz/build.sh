#!/usr/bin/env bash
# Builds one libFuzzer target: Tests/fuzz/build.sh <json|http|yamux|multistream> [out-dir]
# The target's fuzz.swift is compiled together with every TetherWire source as one module, so
# the harness reaches internal API too. Output: <out-dir>/<target> (default .build-fuzz/).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: Tests/fuzz/build.sh <target> [out-dir]}
out=${2:-.build-fuzz}
[ -f "Tests/fuzz/$target/fuzz.swift" ] || { echo "no such fuzz target: $target" >&2; exit 2; }
mkdir -p "$out"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name TetherFuzz \
    Sources/TetherWire/*.swift "Tests/fuzz/$target/fuzz.swift" \
    -o "$out/$target"
echo "$out/$target"
