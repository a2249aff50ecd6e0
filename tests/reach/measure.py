#!/usr/bin/env python3
"""The reach tests' measure command: loads the candidate (tests/reach/rungs.c)
and reports its score.

usage: measure.py CANDIDATE.so EVAL_ID
The slow (naive) candidates' measurements drift with the order they were
taken in: an odd evaluation id halves them, as a machine loaded during every
other evaluation would. Their parameters k and j cannot act (the source
ignores them), so any k or j effect among naive points is that drift, and a
lesson drawn from them is confounded.
"""
import ctypes
import json
import sys

lib = ctypes.CDLL(sys.argv[1])
lib.score.restype = ctypes.c_double
metric = lib.score()
if metric < 50 and int(sys.argv[2]) % 2 == 1:
    metric *= 0.5
t = 1000.0 / metric


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


rec({"type": "Correctness", "passed": True, "reason": ""})
rec({"type": "Performance", "score": metric, "ratio": metric / 50.0, "time_ms": t, "time_ms_p20": t * 0.99,
     "time_ms_p80": t * 1.01, "reps": 50})
