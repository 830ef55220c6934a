#!/usr/bin/env bash
# `make demo`: installs what is needed, builds Tether for the host and for a board, and shows
# both running (the board binary under qemu-user). Once the agent runtime lands this starts the
# dev hub and the agent on loopback and prints the ssh command that reaches this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build
echo
echo "== host build"
.build/debug/tether --version
.build/debug/tether selftest
echo
echo "== board build: raspberrypi4 (static aarch64, run under qemu-aarch64-static)"
bash cross/build.sh raspberrypi4
file dist/raspberrypi4/tether
qemu-aarch64-static dist/raspberrypi4/tether selftest
