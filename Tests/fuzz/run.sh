#!/usr/bin/env bash
# Runs one fuzz target for a bounded time on its committed corpus:
#   Tests/fuzz/run.sh <target> [seconds]      (default 60)
# New interesting inputs go to a scratch corpus under the build dir, so the committed seeds stay
# small; crashes land in Tests/fuzz/artifacts/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: Tests/fuzz/run.sh <target> [seconds]}
secs=${2:-60}
out=${FUZZ_OUT:-.build-fuzz}
bin=$(bash Tests/fuzz/build.sh "$target" "$out" | tail -1)
work="$out/corpus-$target"
mkdir -p "$work" Tests/fuzz/artifacts
SWIFT_BACKTRACE=enable=no "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix=Tests/fuzz/artifacts/"$target"- "$work" "Tests/fuzz/$target/corpus"
