#!/usr/bin/env bash
# fuzz/run.sh [SECONDS] - build the spec fuzzer (make fuzz) and run it for
# SECONDS (default 600) on one core over the seed corpus fuzz/corpus/.
#
# New corpus items go to build/fuzz/corpus-new/ (scratch, not committed);
# crashes, leaks, timeouts and contract violations (see fuzz/fuzz_spec.c)
# go to fuzz/findings/ (git-ignored). To fold the new items back into the
# kept corpus, minimized:
#   build/fuzz/fuzz_spec -merge=1 fuzz/corpus build/fuzz/corpus-new
# docs/fuzzing.md records the runs.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
make --no-print-directory fuzz >/dev/null
mkdir -p build/fuzz/corpus-new fuzz/findings
exec build/fuzz/fuzz_spec build/fuzz/corpus-new fuzz/corpus \
    -dict=fuzz/spak.dict -max_len=65536 -timeout=5 -rss_limit_mb=2048 \
    -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix=fuzz/findings/
