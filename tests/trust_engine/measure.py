#!/usr/bin/env python3
"""A measure command for tests/suites/trust_engine.sh, also installed as a
fake judge (spak-harness-cpu in a copy of spak's bin dir).

usage: measure.py MODE SHAPES HELDOUT X CEILINGS
  MODE ok             a passing Correctness record per shape (SHAPES and
                      HELDOUT, comma-separated), a Performance record
  MODE nullfail       the first shape's check fails with "rel_err": null
                      (a NaN output: nothing to measure) and a reason
  MODE heldout-crash  the held-out shapes' checks never come (their child
                      died without a word), the rest pass
The Performance record says who ran it (uid) and whether it could write the
device ceilings cache (the file CEILINGS)."""
import json
import os
import sys

mode, shapes, heldout, x, ceilings = sys.argv[1:6]


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


try:
    with open(ceilings, "w") as f:
        f.write("{}\n")
    cache = True
except OSError:
    cache = False
main = [s for s in shapes.split(",") if s]
held = [s for s in heldout.split(",") if s]
for i, s in enumerate(main):
    if mode == "nullfail" and i == 0:
        rec({"type": "Correctness", "shape": s, "heldout": False, "passed": False, "rel_err": None,
             "reason": "NaN output"})
    else:
        rec({"type": "Correctness", "shape": s, "heldout": False, "passed": True, "rel_err": 0.0, "reason": ""})
if mode != "heldout-crash":
    for s in held:
        rec({"type": "Correctness", "shape": s, "heldout": True, "passed": True, "rel_err": 0.0, "reason": ""})
score = 10.0 * float(x)
rec({"type": "Performance", "shape": main[0] if main else "-", "score": score, "ratio": score / 10.0,
     "uid": os.getuid(), "cache": cache})
