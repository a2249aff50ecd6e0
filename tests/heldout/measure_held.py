#!/usr/bin/env python3
"""A stand-in for a CPU harness, for tests/suites/heldout.sh: the records of
one timed shape, a known function of the parameters (with a timing spread, so
that `spak learn` has noise to weigh). With the file held.on beside this
script it also writes records of two held-out shapes whose numbers are absurd
(a 1e9 ratio, 1e12 GFLOP/s, another bottleneck class, a huge spread, a
roofline flag, another seed), one before and one after the timed records, and
a Counters record, a case that only held-out shapes have.

usage: measure_held.py RUNG TILE SEED
"""
import json
import os
import sys

rung, tile, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PEAK, BW, BASE = 200.0, 40.0, 120.0
shape = "512x512x512"
flops = 2.0 * 512 ** 3
held = os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "held.on"))


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


def absurd(hshape):
    rec({"type": "Correctness", "shape": hshape, "heldout": True, "passed": True, "rel_err": 1e-9,
         "seed": seed + 999, "reason": ""})
    rec({"type": "Performance", "shape": hshape, "heldout": True, "time_ms": 1e-9, "time_ms_p20": 1e-12,
         "time_ms_p80": 1e3, "reps": 1, "gflops": 1e12, "baseline": "stand-in", "baseline_gflops": 1e-3,
         "ratio": 1e9, "above_roofline": True, "seed": seed + 999})
    rec({"type": "Analysis", "shape": hshape, "heldout": True, "arith_intensity": 1e6, "peak_gflops": 1e9,
         "peak_gbps": 1e6, "bottleneck": "latency", "why": "HELD-OUT absurd analysis"})
    rec({"type": "Counters", "shape": hshape, "heldout": True, "l2_hit": 0.99})


if held:
    absurd("1000x999x1001")
ai = {"naive": 0.25 * tile / 32, "blocked": tile / 16.0, "packed": tile / 8.0}[rung]
eff = {"naive": 0.5, "blocked": 0.45, "packed": 0.8}[rung]
gflops = min(PEAK, ai * BW) * eff
bound = "memory" if ai < PEAK / BW else "compute"
time_ms = flops / (gflops * 1e6)
rec({"type": "Correctness", "shape": shape, "passed": True, "rel_err": 1e-7, "seed": seed, "reason": ""})
rec({"type": "Performance", "shape": shape, "time_ms": time_ms, "time_ms_p20": time_ms * 0.99,
     "time_ms_p80": time_ms * 1.01, "reps": 20, "gflops": gflops, "baseline": "stand-in",
     "baseline_gflops": BASE, "ratio": gflops / BASE})
rec({"type": "Analysis", "shape": shape, "arith_intensity": ai, "peak_gflops": PEAK, "peak_gbps": BW,
     "bottleneck": bound, "why": "AI %.2f flop/B against the ridge %.2f" % (ai, PEAK / BW)})
if held:
    absurd("257x511x129")
