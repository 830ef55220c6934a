#!/usr/bin/env bash
# Builds the WebSocket libFuzzer target with ASan. Usage:
#   bash Tests/fuzz/websocket/build.sh [out-dir]        (default .build-fuzz)
# Run it:   <out-dir>/fuzz-websocket -max_total_time=60 <work-corpus> Tests/fuzz/websocket/corpus
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=${1:-.build-fuzz}
mkdir -p "$out"
srcs=(Sources/TetherWire/Base64.swift Sources/TetherWire/SHA1.swift
      Sources/TetherWire/UTF8Validator.swift Sources/TetherWire/WebSocket*.swift
      Tests/fuzz/websocket/fuzz.swift)
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name WebSocketFuzz \
    "${srcs[@]}" -o "$out/fuzz-websocket"
echo "built $out/fuzz-websocket"
