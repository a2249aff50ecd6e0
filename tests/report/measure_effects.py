#!/usr/bin/env python3
"""A stand-in for a harness, for the report tests (tests/report/effects.spak):
a rate that is a known function of the parameters, with a timing spread
(p20/p80 at -2%/+3% of the median) and a ratio interval (ratio_ci, +-4%);
mode = turbo multiplies the rate by 65 (one huge effect beside small ones).

usage: measure_effects.py UNROLL MODE BLOCK
"""
import json
import sys

unroll, mode, block = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
shape, BASE = "256x256x256", 50.0
flops = 2.0 * 256 ** 3
gflops = 10.0 * (1 + 0.04 * unroll) * (0.97 if mode == "safe" else 1) * (1 + 0.02 * (block == 32) - 0.03 * (block == 64))
if mode == "turbo":
    gflops *= 65
t = flops / (gflops * 1e6)
ratio = gflops / BASE


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


rec({"type": "Correctness", "shape": shape, "passed": True, "rel_err": 1e-7})
rec({"type": "Performance", "shape": shape, "time_ms": t, "time_ms_p20": t * 0.98, "time_ms_p80": t * 1.03,
     "reps": 30, "gflops": gflops, "baseline": "stand-in", "baseline_gflops": BASE, "ratio": ratio,
     "ratio_ci": [ratio * 0.96, ratio * 1.04]})
