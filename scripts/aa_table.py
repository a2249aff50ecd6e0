#!/usr/bin/env python3
"""scripts/aa_table.py RECORDS TITLE - the table of an A/A calibration: the
same code on both sides of a judge's comparison, run after run, one row per
shape of the Performance records in RECORDS (one JSON record a line, with or
without the __SPAK_TRACE__ prefix; held-out shapes left out). The true ratio
is 1, so a 95% interval should cover 1 in about 95% of the runs. Columns: how
often the interval covered 1, and the interval within the run (before a judge
widens it by its between-runs spread, where it does) did; the median
half-width; the runs' ratios (median, p10-p90, geometric mean), where a bias
of the judge shows as a median away from 1; and the spread between runs that
the within-run intervals miss ("between runs (sd)": the sd of the runs' log
ratios beyond their own standard errors), the figure for a --between-runs
option. Used by scripts/aa-calibration.sh (CPU) and kernels/cuda/aa-calibration.sh."""
import json
import math
import statistics
import sys


def pct(xs, q):
    """the q-quantile of xs, interpolated between neighbours"""
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    i = min(int(pos), len(xs) - 2) if len(xs) > 1 else 0
    return xs[i] if len(xs) == 1 else xs[i] + (pos - i) * (xs[i + 1] - xs[i])


def records(path):
    for line in open(path):
        line = line.strip()
        if line.startswith("__SPAK_TRACE__ "):
            line = line[len("__SPAK_TRACE__ "):]
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if r.get("type") == "Performance" and not r.get("heldout"):
            yield r


def row(shape, ok, runs):
    """one Markdown row over the records ok (those with an interval) of one shape"""
    cov = sum(1 for r in ok if r["ratio_ci"][0] <= 1 <= r["ratio_ci"][1])
    within = [r.get("ratio_ci_within", r["ratio_ci"]) for r in ok]
    cov_in = sum(1 for w in within if w[0] <= 1 <= w[1])
    hw = [r.get("ratio_rel_halfwidth", (r["ratio_ci"][1] - r["ratio_ci"][0]) / 2 / r["ratio"]) for r in ok]
    ended = {}
    for r in ok:
        k = r.get("reps_ended", "precision" if r.get("precision_reached") else "cap")
        ended[k] = ended.get(k, 0) + 1
    between = "-"
    if len(ok) >= 3:
        se2 = []
        for r, w in zip(ok, within):
            t = 1.96 + 2.4 / max(r["reps"] - 1, 1)  # the t-quantile at 0.975, close enough for n >= 10
            se2.append((math.log(w[1] / r["ratio"]) / t) ** 2)
        v = statistics.variance([math.log(r["ratio"]) for r in ok]) - statistics.mean(se2)
        between = f"{100 * math.sqrt(v):.2f}%" if v > 0 else "0 (none seen)"
    ratios = [r["ratio"] for r in ok]
    gm = math.exp(statistics.mean(math.log(x) for x in ratios))
    widened = f"{100 * ok[0]['ratio_between_runs_sd']:.1f}%" if "ratio_between_runs_sd" in ok[0] else "not widened"
    same = (f"{sum(r['calls_per_batch'] == r.get('baseline_calls_per_batch') for r in ok)} of {len(ok)}"
            if "baseline_calls_per_batch" in ok[0] else "one for both sides")
    return (f"| {shape} | {ok[0]['ratio_ci_level']:g} | {len(ok)} of {runs} | {cov} ({cov / len(ok):.2f}) | "
            f"{cov_in} ({cov_in / len(ok):.2f}) | {100 * statistics.median(hw):.1f}% | "
            f"{statistics.median(r['reps'] for r in ok):g} | {', '.join(f'{k} {v}' for k, v in sorted(ended.items()))} "
            f"| {statistics.median(ratios):.3f} | {pct(ratios, 0.1):.3f}-{pct(ratios, 0.9):.3f} | {gm:.3f} | "
            f"{between} | {widened} | {same} |")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: aa_table.py RECORDS TITLE RUNS")
    by_shape = {}
    for r in records(sys.argv[1]):
        by_shape.setdefault(r.get("shape", "?"), []).append(r)
    print(sys.argv[2])
    print()
    print("| shape | level | runs with an interval | covering 1 | within the run: covering 1 | median half-width "
          "| median pairs | ended | median ratio | ratio p10-p90 | geometric mean | between runs (sd) | widened by "
          "| same batch size |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for shape, rs in by_shape.items():
        ok = [r for r in rs if isinstance(r.get("ratio_ci"), list) and None not in r["ratio_ci"]]
        print(row(shape, ok, sys.argv[3]) if ok else f"| {shape} | no run with an interval |" + " |" * 12)


main()
