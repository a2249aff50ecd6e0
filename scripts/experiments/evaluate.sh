#!/usr/bin/env bash
# scripts/experiments/evaluate.sh [--records DIR] [--out DIR] [--partial] [--min-time S] [--max-time S]
# The engineer's seat experiment judged (issue 16): for every finished arm
# that engineer.sh set up (experiments/ARM-REP.json), the best candidate
# after each step (trajectory) from its store; every arm's final candidate,
# the naive rung and our best hand-written rung re-timed side by side in
# one CPU judge session per family, ratios with intervals; the verdicts by
# the rule stated before the runs. Writes results.md, final.csv,
# trajectories.csv, verdicts.csv, trajectory-FAMILY.svg and the sessions'
# records into docs/experiments/ (or --out). scripts/experiments/evaluate.py
# says how. Needs build/spak-harness-cpu (make NVCC= all).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ -x "$ROOT/build/spak-harness-cpu" ] || { echo "evaluate.sh: $ROOT/build/spak-harness-cpu is not built (make NVCC= all)" >&2; exit 1; }
exec python3 "$ROOT/scripts/experiments/evaluate.py" "$@"
