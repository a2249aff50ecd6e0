#!/usr/bin/env python3
"""A stand-in measure command for the engine tests: a 'user command in any
language' that prints trace records. Its metric is a known function of the
parameters, so tests can check what the loop found.

usage: measure.py X Y [--sleep S] [--foreign-load F] [--mode ok|wrong|badrecord|crash|norecord|hang|flat-y|heldout|noisy|precise|busy|busy-offence]
metric = 100 - (X-3)^2 - (Y-2)^2   (maximum 100 at X=3, Y=2)
flat-y: metric = 100 - 10 (X-3)^2, Y has no effect (only a +-0.3% jitter,
        inside the 1% timing spread the records report)
Performance records carry time_ms (= 1000 / metric) with p20/p80 at +-1%
and reps 50, like a harness's.
noisy: the ratio carries a +-10% interval (ratio_ci), precision_reached false;
precise: a +-0.5% interval, precision_reached true.
samples: every repetition's time as samples_ms (12 of them, 2% lognormal
noise drawn from a generator seeded by X, Y and --noise-seed N), time_ms
their median, all times --scale F times the plain ones (another machine).
--fail-x N: the candidates with X = N fail their check (any mode).
busy: with X = 1 the timed shape fails as a judge fails it for the
      machine's load ("verdict": "busy"); busy-offence: the same, and after it
      a failed runner record (the candidate exhausted its byte budget), in the
      order the CPU judge writes them.
badsamples: samples_ms, time_ms and ratio_ci of types no schema declares.
--cost: a Cost record first (a judge's phases: here the sleep), which no
schema declares and the engine keeps in the result's "cost".
--ncu: a Counters record too, as a judge asked for hardware counters writes
one (analyze/counters.h decides which evaluations keep the flag): numbers
when the check passed, else "not profiled: ..." as the GEMM judge says;
--ncu-fails: ncu ran and gave none ("available": false, its reason).
"""
import json
import math
import os
import random
import sys
import time

args = sys.argv[1:]
x, y = float(args[0]), float(args[1])
sleep = 0.0
mode = "ok"
scale = 1.0
noise_seed = 0
fail_x = None
cost = False
ncu = False
ncu_fails = False
foreign = None
i = 2
while i < len(args):
    if args[i] == "--sleep":
        sleep = float(args[i + 1]); i += 2
    elif args[i] == "--mode":
        mode = args[i + 1]; i += 2
    elif args[i] == "--scale":
        scale = float(args[i + 1]); i += 2
    elif args[i] == "--fail-x":
        fail_x = float(args[i + 1]); i += 2
    elif args[i] == "--noise-seed":
        noise_seed = int(args[i + 1]); i += 2
    elif args[i] == "--cost":
        cost = True; i += 1
    elif args[i] == "--ncu":
        ncu = True; i += 1
    elif args[i] == "--ncu-fails":
        ncu_fails = True; i += 1
    elif args[i] == "--foreign-load":
        foreign = float(args[i + 1]); i += 2
    else:
        i += 1
if sleep:
    time.sleep(sleep)
metric = 100 - (x - 3) ** 2 - (y - 2) ** 2
if mode == "flat-y":
    jitter = ((int(x * 7 + y * 13) % 7) - 3) / 1000.0
    metric = (100 - 10 * (x - 3) ** 2) * (1 + jitter)


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


if cost:
    rec({"type": "Cost", "scope": "run", "family": "toy", "shape": None, "wall_s": sleep,
         "phases": {"sleep": sleep}, "counts": {"sleep": 1}})
if mode == "crash" and x == 1:
    os.abort()
if mode == "hang" and x == 1:
    while True:
        pass
if mode == "norecord" and x == 1:
    sys.exit(0)
passed = not (mode == "wrong" and x == 1) and x != fail_x
rec({"type": "Correctness", "passed": passed, "reason": "" if passed else "wrong values"})
if ncu and not passed:
    rec({"type": "Counters", "shape": "toy", "available": False, "reason": "not profiled: the shape did not pass and get timed"})
elif ncu and ncu_fails:
    rec({"type": "Counters", "shape": "toy", "available": False, "reason": "ncu printed no numbers"})
elif ncu:
    rec({"type": "Counters", "shape": "toy", "available": True, "tool": "ncu", "metrics": {"dram__bytes.sum": 1e6 * x}})
if mode in ("busy", "busy-offence") and passed and x == 1:
    rec({"type": "Performance", "score": metric, "ratio": metric / 50.0, "passed": False, "verdict": "busy",
         "reason": "busy: other work took 50% of the judge's CPUs while the baseline was timed beside the candidate"})
    if mode == "busy-offence":
        rec({"type": "Correctness", "shape": "runner", "passed": False,
             "reason": "the candidate exhausted its byte budget of 256 MiB (no bytes left)"})
    sys.exit(0)
if mode == "badrecord" and x == 1:
    rec({"type": "Performance", "score": "high", "ratio": 1.0})
elif passed:
    t = 1000.0 / metric
    perf = {"type": "Performance", "score": metric, "ratio": metric / 50.0,
            "time_ms": t, "time_ms_p20": t * 0.99, "time_ms_p80": t * 1.01, "reps": 50}
    if mode in ("noisy", "precise"):
        w = 0.1 if mode == "noisy" else 0.005
        perf["ratio_ci"] = [perf["ratio"] * (1 - w), perf["ratio"] * (1 + w)]
        perf["precision_reached"] = mode == "precise"
    if mode == "samples":
        rng = random.Random(int(x) * 1000 + int(y) * 10 + noise_seed * 100000)
        xs = [t * scale * math.exp(0.02 * rng.gauss(0, 1)) for _ in range(12)]
        perf["samples_ms"] = xs
        perf["time_ms"] = sorted(xs)[6]
        perf["score"] = metric / scale
        perf["ratio"] = metric / scale / 50.0
    if foreign is not None:  # the CPU judge's share of its CPUs other work took
        perf["foreign_load"] = foreign
        perf["baseline_solo_foreign_load"] = foreign
    if mode == "badsamples":
        perf.update({"samples_ms": "12 13", "time_ms": "fast", "ratio_ci": [1], "precision_reached": "yes"})
    rec(perf)
    if mode == "heldout":
        # a held-out shape that is timed and looks wonderful: it must steer nothing
        rec({"type": "Performance", "score": 1000.0, "ratio": 20.0, "heldout": True})
    rec({"type": "Analysis", "bottleneck": "compute" if x >= 3 else "memory", "roofline_frac": metric / 100.0})
