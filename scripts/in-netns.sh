#!/usr/bin/env bash
# Runs COMMAND in a network namespace of its own with only a loopback interface (as root):
# servers with fixed ports (the real ShellHub server binds 8080 and 2222 on every interface)
# then meet nothing else on this machine, and nothing of the test can leave 127.0.0.0/8.
#   scripts/in-netns.sh COMMAND [ARGS...]
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/in-netns.sh COMMAND [ARGS...]" >&2; exit 2; }
exec unshare --net bash -c 'ip link set lo up && exec "$@"' in-netns "$@"
