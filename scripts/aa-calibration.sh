#!/usr/bin/env bash
# scripts/aa-calibration.sh [BUILD_DIR] [RUNS] [SHAPE] - an A/A calibration of
# the CPU judge's ratio interval: the same candidate (the packed matmul rung)
# on both sides of the comparison (--baseline so --baseline-so the same .so),
# RUNS times (default 30). The true ratio is 1, so a 95% interval should
# cover 1 in about 95% of the runs; the table says how often it did, how
# wide the intervals were and how the repetitions ended. Prints Markdown.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
RUNS=${2:-30}
SHAPE=${3:-256x256x256}
H="$B/spak-harness-cpu"
[ -x "$H" ] || { echo "aa-calibration: $H is missing (make first)" >&2; exit 2; }
T=$(mktemp -d "${TMPDIR:-/tmp}/spak-aa.XXXXXX")
trap 'rm -rf "$T"' EXIT
cc -O2 -march=native -fPIC -shared -DTHREADS=2 kernels/cpu/matmul/packed.c -o "$T/a.so" -lpthread -lm || exit 2
for i in $(seq 1 "$RUNS"); do
    "$H" --family matmul --candidate "$T/a.so" --baseline so --baseline-so "$T/a.so" --shapes "$SHAPE" \
        --heldout "" --min-time 0.05 --ceilings-cache "$T/ceil.json" 2>/dev/null | grep '"type":"Performance"'
done >"$T/perf.txt"
python3 - "$T/perf.txt" "$RUNS" "$SHAPE" "$(nproc)" <<'PY'
import json, statistics, sys
recs = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])]
ok = [r for r in recs if isinstance(r.get("ratio_ci"), list)]
cov = sum(1 for r in ok if r["ratio_ci"][0] <= 1 <= r["ratio_ci"][1])
hw = [r["ratio_rel_halfwidth"] for r in ok]
ended = {}
for r in ok:
    ended[r["reps_ended"]] = ended.get(r["reps_ended"], 0) + 1
level = ok[0]["ratio_ci_level"] if ok else float("nan")
print(f"A/A calibration, shape {sys.argv[3]}, {sys.argv[4]} CPUs, {len(ok)} of {sys.argv[2]} runs with an interval")
print()
print("| level | runs | intervals covering 1 | coverage | median half-width | median pairs | ended |")
print("| --- | --- | --- | --- | --- | --- | --- |")
if ok:
    print(f"| {level:g} | {len(ok)} | {cov} | {cov / len(ok):.2f} | {100 * statistics.median(hw):.1f}% | "
          f"{statistics.median(r['reps'] for r in ok):g} | {', '.join(f'{k} {v}' for k, v in sorted(ended.items()))} |")
PY
