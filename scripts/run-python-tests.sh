#!/usr/bin/env bash
# Runs the Python test suites (dev hub, WebSocket conformance, end-to-end) with the venv made
# by scripts/install-deps.sh. A suite whose folder does not exist yet is reported, not faked.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
[ -x "$py" ] || { echo "python tests: .venv missing; run 'make deps'" >&2; exit 1; }
suites=()
for d in Tests/build Tests/hub/tests Tests/conformance Tests/e2e; do
    if ls "$d"/test_*.py >/dev/null 2>&1; then suites+=("$d"); else echo "python tests: no tests in $d yet"; fi
done
[ ${#suites[@]} -gt 0 ] || { echo "python tests: none"; exit 0; }
exec "$py" -m pytest -q -p no:cacheprovider "${suites[@]}"
