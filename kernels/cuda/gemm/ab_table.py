#!/usr/bin/env python3
"""ab_table.py AB_LOG - the table of an ab_sweep.sh log: per variant, dtype
and shape the TFLOP/s and ratio of each round, failed checks spelled out."""
import json, sys
name = None
rows = {}
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("### ") and "round" in line:
        _, var, dt, rnd = line.split()
        name = (var, dt)
    elif line.startswith("__SPAK_TRACE__ ") and name:
        r = json.loads(line[15:])
        if r["type"] == "Performance" and not r.get("heldout"):
            rows.setdefault((name[0], name[1], r["shape"]), []).append(
                (r["tflops"], r["baseline_tflops"], r["ratio"], r.get("sm_clock_mhz", 0)))
        elif r["type"] == "Correctness" and not r.get("passed", True) and not r.get("skipped"):
            print("FAIL %s %s %s %s" % (name[0], name[1], r["shape"], r.get("reason", "")))
print("%-20s %-5s %-15s %s" % ("variant", "dtype", "shape", "TFLOP/s (cuBLAS) ratio per round | median ratio"))
for (v, dt, sh), l in rows.items():
    rs = sorted(x[2] for x in l)
    print("%-20s %-5s %-15s %s | %.3f" % (v, dt, sh, "  ".join("%.1f (%.1f) %.3f" % x[:3] for x in l), rs[len(rs) // 2]))
