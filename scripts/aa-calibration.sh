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
python3 - "$T/perf.txt" "$RUNS" "$SHAPE" "$(nproc)" "$THREADS" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, math, statistics, sys
recs = [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1])]
ok = [r for r in recs if isinstance(r.get("ratio_ci"), list)]
cov = sum(1 for r in ok if r["ratio_ci"][0] <= 1 <= r["ratio_ci"][1])
hw = [r["ratio_rel_halfwidth"] for r in ok]
ended = {}
for r in ok:
    ended[r["reps_ended"]] = ended.get(r["reps_ended"], 0) + 1
level = ok[0]["ratio_ci_level"] if ok else float("nan")


def pct(xs, q):
    """the q-quantile of xs, interpolated between neighbours"""
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    i = min(int(pos), len(xs) - 2) if len(xs) > 1 else 0
    return xs[i] if len(xs) == 1 else xs[i] + (pos - i) * (xs[i + 1] - xs[i])


print(f"A/A calibration, shape {sys.argv[3]}, THREADS={sys.argv[5]}, {sys.argv[4]} CPUs, "
      f"{len(ok)} of {sys.argv[2]} runs with an interval; load average {sys.argv[6]} before, {sys.argv[7]} after")
print()
# the interval within each run (ratio_ci_within; ratio_ci before the judge
# widened it by --between-runs) and what it misses: the sd of the runs' log
# ratios beyond the runs' own standard errors, the figure --between-runs wants
within = [r.get("ratio_ci_within", r["ratio_ci"]) for r in ok]
cov_in = sum(1 for w in within if isinstance(w, list) and w[0] <= 1 <= w[1])
between = "-"
if len(ok) >= 3:
    se2 = []
    for r, w in zip(ok, within):
        n = r["reps"]
        t = 1.96 + 2.4 / max(n - 1, 1)  # the t-quantile at 0.975, close enough for n >= 10
        se2.append((math.log(w[1] / r["ratio"]) / t) ** 2)
    v = statistics.variance([math.log(r["ratio"]) for r in ok]) - statistics.mean(se2)
    between = f"{100 * math.sqrt(v):.2f}%" if v > 0 else "0 (none seen)"
print("| level | runs | intervals covering 1 | coverage | within the run: covering 1 | median half-width "
      "| median pairs | ended | median ratio | ratio p10-p90 | geometric mean | between runs (sd) | widened by "
      "| same batch size |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
if ok:
    ratios = [r["ratio"] for r in ok]
    gm = math.exp(statistics.mean(math.log(x) for x in ratios))
    print(f"| {level:g} | {len(ok)} | {cov} | {cov / len(ok):.2f} | {cov_in} ({cov_in / len(ok):.2f}) | "
          f"{100 * statistics.median(hw):.1f}% | "
          f"{statistics.median(r['reps'] for r in ok):g} | {', '.join(f'{k} {v}' for k, v in sorted(ended.items()))} "
          f"| {statistics.median(ratios):.3f} | {pct(ratios, 0.1):.3f}-{pct(ratios, 0.9):.3f} | {gm:.3f} | "
          f"{between} | {100 * ok[0].get('ratio_between_runs_sd', 0):.1f}% | "
          f"{sum(r['calls_per_batch'] == r.get('baseline_calls_per_batch') for r in ok)} of {len(ok)} |")
PY
