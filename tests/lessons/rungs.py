#!/usr/bin/env python3
"""A stand-in measure command for the lessons tests: two rungs, one of which
ignores a parameter, the way the naive matmul ignores tile_k.

usage: rungs.py rung=naive|fast k=K j=J [flip=FILE]   (an absent parameter: k=)
naive: metric 10 whatever k and j (k cannot act there)
fast:  metric 100 * {1: 0.80, 2: 1.00, 3: 0.90}[k]; j has no effect
flip=FILE: when FILE exists, fast's k effect is reversed (k = 2 is the
worst), for the test where new measurements contradict a lesson.
Each value carries a +-0.3% deterministic jitter, inside the 1% timing
spread the records report (p20/p80 at +-1%, reps 50).
"""
import json
import os
import sys

a = dict(x.split("=", 1) for x in sys.argv[1:])
rung, k, j = a.get("rung", "fast"), a.get("k", ""), a.get("j", "")
if rung == "naive":
    metric = 10.0
else:
    f = {"1": 0.80, "2": 1.00, "3": 0.90}[k]
    if a.get("flip") and os.path.exists(a["flip"]):
        f = {"1": 1.00, "2": 0.70, "3": 0.95}[k]
    metric = 100.0 * f
seed = sum(ord(c) for c in rung + k + j)
metric *= 1 + ((seed % 7) - 3) / 1000.0
t = 1000.0 / metric


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


rec({"type": "Correctness", "passed": True, "reason": ""})
rec({"type": "Performance", "score": metric, "ratio": metric / 50.0, "time_ms": t, "time_ms_p20": t * 0.99,
     "time_ms_p80": t * 1.01, "reps": 50})
