#!/usr/bin/env bash
# `make demo`: installs what is needed, builds Tether, starts the dev hub (ShellHub's server
# side) with nginx TLS in front and the agent on loopback, prints the exact ssh command that
# reaches this machine's own shell through the tunnel, runs one command through it, and keeps
# everything up until Ctrl-C. DEMO_ONCE=1 stops right after the proof command;
# DEMO_TRANSPORT=1 uses ShellHub's v1 transport (revdial) instead of v2 (yamux).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build
bin=$PWD/.build/debug/tether
"$bin" --version
args=(--tether "$bin" --tls --transport "${DEMO_TRANSPORT:-2}")
[ -n "${DEMO_ONCE:-}" ] && args+=(--once)
cd Tests
exec ../.venv/bin/python -m hub.demo "${args[@]}"
