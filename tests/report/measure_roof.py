#!/usr/bin/env python3
"""A stand-in for a CPU harness, for the report tests: prints the records a
real harness prints, with values that are a known function of the
parameters. Device ceilings: 200 GFLOP/s, 40 GB/s (ridge at 5 flop/B).

usage: measure_roof.py RUNG TILE SEED
  naive + 128   fails its check (the reason holds markup the report must escape)
  packed + 32   exits 3 without a record
"""
import json
import sys

rung, tile, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
PEAK, BW, BASE = 200.0, 40.0, 120.0
shape = "512x512x512"
flops = 2.0 * 512 ** 3


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


if rung == "packed" and tile == 32:
    sys.exit(3)
if rung == "naive" and tile == 128:
    rec({"type": "Correctness", "shape": shape, "passed": False, "rel_err": 0.5, "seed": seed,
         "reason": "<script>alert(1)</script> mismatch at row 7"})
    sys.exit(0)
ai = {"naive": 0.25 * tile / 32, "blocked": tile / 16.0, "packed": tile / 8.0}[rung]
eff = {"naive": 0.5, "blocked": 0.45, "packed": 0.8}[rung]
gflops = min(PEAK, ai * BW) * eff
bound = "memory" if ai < PEAK / BW else "compute"
if eff < 0.3:
    bound = "latency"
time_ms = flops / (gflops * 1e6)
rec({"type": "Correctness", "shape": shape, "passed": True, "rel_err": 1e-7, "seed": seed, "reason": ""})
rec({"type": "Performance", "shape": shape, "time_ms": time_ms, "gflops": gflops, "baseline": "stand-in",
     "baseline_gflops": BASE, "ratio": gflops / BASE})
rec({"type": "Analysis", "shape": shape, "arith_intensity": ai, "peak_gflops": PEAK, "peak_gbps": BW,
     "bottleneck": bound, "why": "AI %.2f flop/B against the ridge %.2f: %.0f%% of the bound" % (ai, PEAK / BW, 100 * eff)})
