#!/usr/bin/env bash
# kernels/cuda/fmha/ab.sh HARNESS ROUNDS "SO..." - A/B of prebuilt FMHA variants on the
# GPU machine: each variant first checked (check-only, fp16 and bf16, small and held-out
# shapes: S off every tile, GQA, MQA, causal); a variant that fails any check is not timed.
# Then ROUNDS rounds, each variant once per round in the given order, timed with --lse
# against cuDNN interleaved in the same process (dtype DT). Appends every record to $OUT/fab.log,
# prints the table (per variant and shape: TFLOP/s (ratio) per round).
# Env: SHAPES, HELD, REPS (30), SEED (20261124), DT (timed dtype, fp16), OUT.
set -u
H=$1 ROUNDS=$2; shift 2
OUT=${OUT:-/tmp/spak-fab}; mkdir -p "$OUT"
LOG=$OUT/fab.log
SHAPES=${SHAPES:-4x16x4096x128,4x16x4096x128c,4x32x4096x64,4x32x4096x64c}
HELD=${HELD:-1x3x1000x128,2x4x777x64g2c,1x1x33x64c,1x8x300x128g1c}
GOOD=""
for so in $@; do
    v=$(basename "$so" .so); ok=1
    for dt in fp16 bf16; do
        echo "### $v $dt check" >>"$LOG"
        timeout 180 "$H" --family fmha --candidate "$so" --seed "${SEED:-20261124}" --dtype $dt --check-only --no-baseline --lse \
            --shapes 1x2x128x64,1x2x128x64c,2x4x256x128g2c --heldout "$HELD" --timeout 30 --ceilings-cache "$OUT/ceil.json" >>"$LOG" 2>&1
        np=$(sed -n "/^### $v $dt check/,\$p" "$LOG" | grep -c '"passed":true'); nf=$(sed -n "/^### $v $dt check/,\$p" "$LOG" | grep -c '"passed":false')
        echo "$v $dt: $np passed, $nf failed"
        [ "$nf" -eq 0 ] && [ "$np" -ge 7 ] || ok=0
    done
    [ $ok -eq 1 ] && GOOD="$GOOD $so"
done
for round in $(seq 1 "$ROUNDS"); do
    for so in $GOOD; do
        echo "### $(basename "$so" .so) ${DT:-fp16} round$round" >>"$LOG"
        timeout 200 "$H" --family fmha --candidate "$so" --seed "${SEED:-20261124}" --dtype "${DT:-fp16}" --lse \
            --shapes "$SHAPES" --heldout 2x8x1500x128g2c --reps "${REPS:-30}" --timeout 150 --ceilings-cache "$OUT/ceil.json" >>"$LOG" 2>&1
    done
done
python3 - "$LOG" <<'PY'
import json, sys
name, rows = None, {}
for line in open(sys.argv[1], errors="replace"):
    if line.startswith("### ") and "round" in line:
        name = line.split()[1]
    elif line.startswith("### "):
        name = None
    elif line.startswith("__SPAK_TRACE__ ") and name:
        r = json.loads(line[15:])
        if r["type"] == "Performance":
            rows.setdefault((name, r["shape"]), []).append("%.1f (%.3f) %s MHz" % (r["tflops"], r.get("ratio") or 0, r.get("sm_clock_mhz")))
        elif r["type"] == "Correctness" and not r.get("passed"):
            print("FAIL", name, r["shape"], r.get("reason"))
for (v, sh), l in rows.items():
    print("%-24s %-18s %s" % (v, sh, " | ".join(l)))
PY
