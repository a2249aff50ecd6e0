#!/usr/bin/env python3
"""A fake judge per fake device for tests/suites/scale_local.sh: the engine
gives each evaluation its device as CUDA_VISIBLE_DEVICES, as it gives a real
CUDA judge; this one sleeps (a measurement that takes time), then prints the
records of a candidate whose score is a known function of X, and says which
device it ran on (stderr). The device named by --fail-device is broken: every
evaluation on it fails (exit 1), as a GPU that fell off the bus does.

usage: fakejudge.py X [--sleep S] [--fail-device D]
"""
import json
import os
import sys
import time

x = float(sys.argv[1])
sleep, fail = 0.0, None
i = 2
while i < len(sys.argv):
    if sys.argv[i] == "--sleep":
        sleep = float(sys.argv[i + 1]); i += 2
    elif sys.argv[i] == "--fail-device":
        fail = sys.argv[i + 1]; i += 2
    else:
        i += 1
dev = os.environ.get("CUDA_VISIBLE_DEVICES", "")
print(f"fakejudge: x={x:g} on device '{dev}'", file=sys.stderr, flush=True)
if dev == "":
    sys.exit("fakejudge: no CUDA_VISIBLE_DEVICES: spak did not choose a device")
time.sleep(sleep)
if dev == fail:
    sys.exit(f"fakejudge: device {dev}: unspecified launch failure")
score = 100 - (x - 3) ** 2


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


rec({"type": "Correctness", "passed": True, "reason": ""})
rec({"type": "Performance", "score": score, "ratio": score / 50})
