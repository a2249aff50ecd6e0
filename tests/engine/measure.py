#!/usr/bin/env python3
"""A stand-in measure command for the engine tests: a 'user command in any
language' that prints trace records. Its metric is a known function of the
parameters, so tests can check what the loop found.

usage: measure.py X Y [--sleep S] [--mode ok|wrong|badrecord|crash|norecord]
metric = 100 - (X-3)^2 - (Y-2)^2   (maximum 100 at X=3, Y=2)
"""
import json
import os
import sys
import time

args = sys.argv[1:]
x, y = float(args[0]), float(args[1])
sleep = 0.0
mode = "ok"
i = 2
while i < len(args):
    if args[i] == "--sleep":
        sleep = float(args[i + 1]); i += 2
    elif args[i] == "--mode":
        mode = args[i + 1]; i += 2
    else:
        i += 1
if sleep:
    time.sleep(sleep)
metric = 100 - (x - 3) ** 2 - (y - 2) ** 2


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


if mode == "crash" and x == 1:
    os.abort()
if mode == "hang" and x == 1:
    while True:
        pass
if mode == "norecord" and x == 1:
    sys.exit(0)
passed = not (mode == "wrong" and x == 1)
rec({"type": "Correctness", "passed": passed, "reason": "" if passed else "wrong values"})
if mode == "badrecord" and x == 1:
    rec({"type": "Performance", "score": "high", "ratio": 1.0})
elif passed:
    rec({"type": "Performance", "score": metric, "ratio": metric / 50.0})
    rec({"type": "Analysis", "bottleneck": "compute" if x >= 3 else "memory"})
