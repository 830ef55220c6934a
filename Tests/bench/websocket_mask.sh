#!/usr/bin/env bash
# WebSocket masking micro-benchmark (release build: swiftc -O -wmo). Usage:
#   bash Tests/bench/websocket_mask.sh [out-dir]     (default .build-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-.build-bench}
mkdir -p "$out"
swiftc -O -wmo -parse-as-library -module-name WebSocketMaskBench \
    Sources/TetherWire/WebSocketMask.swift Sources/TetherWire/WebSocketOpcode.swift \
    Sources/TetherWire/WebSocketFrameEncoder.swift Tests/bench/websocket_mask_bench.swift \
    -lm -o "$out/websocket-mask-bench"
"$out/websocket-mask-bench"
