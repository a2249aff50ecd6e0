#!/usr/bin/env bash
# kernels/cuda/bench-trust.sh OLD_DIR NEW_DIR [K] - what the judge/runner split
# (issue 13) costs on the GPU: the best GEMM and FMHA rungs timed by the old
# in-process harnesses (OLD_DIR/spak-harness-cuda{,-fmha}, built from 41591d7)
# and by the new judges (NEW_DIR/...), alternating old and new K times (default
# 3) in one run on one card. Prints per side the ratio to the baseline (cuBLAS,
# cuDNN; median over the K runs, and their range) and the wall time of one
# evaluation (median, range) and the candidate's own TFLOP/s (geometric mean
# over the timed shapes; median, range), then whether the ratios and the rates
# are equal within their ranges. Runs on the GPU machine; builds nothing. Logs under $OUT.
set -u
OLD=$1 NEW=$2 K=${3:-3}
OUT=${OUT:-/tmp/spak-bench-trust}
mkdir -p "$OUT"
GS=${GEMM_SHAPES:-8192x8192x8192,4096x4096x4096}
FS=${FMHA_SHAPES:-4x16x4096x128,4x16x4096x128c}
FAMS=${FAMILIES:-gemm fmha}
# FMHA_FLAGS: options both FMHA sides get, e.g. --lse (both sides write the
# LSE: the old harness's only cuDNN plan on cuDNN 9.14, which has none
# without the stats output for these shapes)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$OUT/device.txt"
one() {  # label harness family so shapes -> appends "ratio wall" lines to $OUT/label.txt
    local label=$1 h=$2 fam=$3 so=$4 shapes=$5 t0 ms
    t0=$(date +%s%N)
    local ho=129x263x72
    [ "$fam" = fmha ] && ho=1x4x200x64c
    "$h" --family "$fam" --candidate "$so" --seed 7 --dtype "${DT:-bf16}" --shapes "$shapes" --heldout "$ho" \
        --reps ${BENCH_REPS:-30} ${EXTRA:-} >"$OUT/$label.$i.out" 2>"$OUT/$label.$i.err"
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    python3 - "$OUT/$label.$i.out" "$ms" >>"$OUT/$label.txt" <<'PY'
import json, math, sys
v, t = [], []
for l in open(sys.argv[1]):
    if l.startswith("__SPAK_TRACE__ "):
        r = json.loads(l[15:])
        if r.get("type") != "Performance" or not r.get("passed", True) or r.get("heldout"):
            continue
        if isinstance(r.get("ratio"), (int, float)):
            v.append(r["ratio"])
        if isinstance(r.get("tflops"), (int, float)) and r["tflops"] > 0:
            t.append(r["tflops"])
geo = lambda x: math.exp(sum(map(math.log, x)) / len(x)) if x else float("nan")
print("%.4f %.3f %d %.2f %d" % (geo(v), int(sys.argv[2]) / 1000.0, len(v), geo(t), len(t)))
PY
    # one log per side (the records and the judge's stderr), not a file per run
    { echo "### run $i"; cat "$OUT/$label.$i.out" "$OUT/$label.$i.err"; } >>"$OUT/$label.log"
    rm -f "$OUT/$label.$i.out" "$OUT/$label.$i.err"
}
for i in $(seq 1 "$K"); do
    for side in old new; do
        d=$OLD; [ $side = new ] && d=$NEW
        case " $FAMS " in *" gemm "*) one "gemm-$side" "$d/spak-harness-cuda" gemm "$NEW/cuda/gemm/rung5_persistent.so" "$GS" ;; esac
        case " $FAMS " in *" fmha "*) DT=fp16 EXTRA=${FMHA_FLAGS:-} one "fmha-$side" "$d/spak-harness-cuda-fmha" fmha "$NEW/cuda/fmha/rung4_wgmma.so" "$FS" ;; esac
    done
done
python3 - "$OUT" <<'PY' | tee "$OUT/table.txt"
import math, statistics, sys
out = sys.argv[1]
print("%-6s %-4s %-28s %-24s %-28s %s" % ("family", "side", "ratio median (range)", "wall s median (range)",
                                       "candidate TFLOP/s (range)", "shapes with a ratio"))
rows = {}
import os
fams = [f for f in ("gemm", "fmha") if os.path.exists("%s/%s-old.txt" % (out, f))]
for fam in fams:
    for side in ("old", "new"):
        vals = [l.split() for l in open("%s/%s-%s.txt" % (out, fam, side))]
        r = [float(x[0]) for x in vals]; w = [float(x[1]) for x in vals]; n = [x[2] for x in vals]
        t = [float(x[3]) for x in vals]
        rows[fam, side] = r, t
        print("%-6s %-4s %.3f (%.3f-%.3f)%9s %.1f (%.1f-%.1f)%10s %7.1f (%.1f-%.1f)%9s %s" % (
              fam, side, statistics.median(r), min(r), max(r), "", statistics.median(w), min(w), max(w), "",
              statistics.median(t), min(t), max(t), "", ",".join(n)))
def overlap(a, b):
    return max(min(a), min(b)) <= min(max(a), max(b))
for fam in fams:
    (o, ot), (n, nt) = rows[fam, "old"], rows[fam, "new"]
    if any(math.isnan(x) for x in o + n):
        print("%s: ratios not comparable: a side timed no baseline (its log says why)" % fam)
    else:
        print("%s: old and new ratio ranges %s" % (fam, "overlap (equal within their ranges)" if overlap(o, n) else "DO NOT overlap"))
    # the candidate's own rate, which needs no baseline: where a side could not time its baseline
    # (no ratio), this is what still compares the two harnesses
    print("%s: old and new candidate TFLOP/s ranges %s" % (fam, "overlap (equal within their ranges)"
          if overlap(ot, nt) else "DO NOT overlap"))
PY
