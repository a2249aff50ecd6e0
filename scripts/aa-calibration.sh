#!/usr/bin/env bash
# scripts/aa-calibration.sh [BUILD_DIR] [RUNS] [SHAPE] [THREADS] - an A/A
# calibration of the CPU judge's ratio interval: the same candidate (the
# packed matmul rung, THREADS pthreads, default 2) on both sides of the
# comparison (--baseline so --baseline-so the same .so), RUNS times (default
# 30). The true ratio is 1, so a 95% interval should cover 1 in about 95% of
# the runs; the table says how often it did, how wide the intervals were, how
# the repetitions ended, and the runs' ratios themselves: their median and
# the spread of the middle 80% (p10-p90), where a bias of the judge shows as
# a median away from 1 (a side that pays a cost the other does not), which
# wide intervals can hide. It also says how often the interval within each
# run (before the judge widens it by --between-runs) covered 1, and the
# spread between runs that those intervals miss ("between runs (sd)": the
# sd of the runs' log ratios beyond their own standard errors), the figure
# for the judge's --between-runs on this machine. Prints Markdown, with the
# machine's load before and after.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
RUNS=${2:-30}
SHAPE=${3:-256x256x256}
THREADS=${4:-2}
H="$B/spak-harness-cpu"
[ -x "$H" ] || { echo "aa-calibration: $H is missing (make first)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/spak-aa.XXXXXX")
trap 'rm -rf "$T"' EXIT
cc -O2 -march=native -fPIC -shared -DTHREADS="$THREADS" kernels/cpu/matmul/packed.c -o "$T/a.so" -lpthread -lm || exit 2
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq 1 "$RUNS"); do
    "$H" --family matmul --candidate "$T/a.so" --baseline so --baseline-so "$T/a.so" --shapes "$SHAPE" \
        --heldout "" --min-time 0.05 --ceilings-cache "$T/ceil.json" 2>/dev/null | grep '"type":"Performance"'
done >"$T/perf.txt"
python3 scripts/aa_table.py "$T/perf.txt" "A/A calibration, shape $SHAPE, THREADS=$THREADS, $(nproc) CPUs; load average $LOAD0 before, $(cut -d' ' -f1-3 /proc/loadavg) after" "$RUNS"
