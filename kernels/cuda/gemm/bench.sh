#!/usr/bin/env bash
# kernels/cuda/gemm/bench.sh [BUILD_DIR] - the GEMM ladder benchmark, run on
# the GPU machine with prebuilt artifacts (it builds nothing):
#   BUILD_DIR/spak-harness-cuda, BUILD_DIR/cuda/gemm/rung*.so  (make, here)
# For each rung: a quick check-only smoke test on a small odd shape (a rung
# that fails or hangs there is not benchmarked), then bf16 and fp16 over
# 4096^3, 8192^3, 4096x14336x4096, 2048^3 and the held-out 3000x5000x2000 and
# 129x263x72, and fp32 over 4096^3 + the held-out shapes (rungs 1-2).
# Writes $OUT/bench.log (all records + stderr), $OUT/table.txt,
# $OUT/ceilings.json, $OUT/device.txt; prints the table last.
# Env: RUNGS="rung1_simt ..." to choose, REPS (30), SEED (20261123), SHAPES16, SHAPES32.
set -u
B=${1:-build}
OUT=${OUT:-/tmp/spak-bench}
mkdir -p "$OUT"
H=$B/spak-harness-cuda
REPS=${REPS:-30}
SEED=${SEED:-20261123}
SHAPES16=${SHAPES16:-4096x4096x4096,8192x8192x8192,4096x14336x4096,2048x2048x2048}
SHAPES32=${SHAPES32:-4096x4096x4096}
HELDOUT=${HELDOUT:-3000x5000x2000,129x263x72}
LOG=$OUT/bench.log
: >"$LOG"

# cuBLAS must resolve: look where the toolkit or the Python wheels keep it.
if ldd "$H" | grep -q 'not found'; then
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
             $(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null); do
        [ -e "$d/libcublas.so.13" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
    done
fi
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu --format=csv
    ldd "$H" | grep -E 'cublas|jansson|not found'
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

RUNGS=${RUNGS:-$(cd "$B/cuda/gemm" && ls rung*.so | sed 's/\.so$//' | sort)}
for r in $RUNGS; do
    so=$B/cuda/gemm/$r.so
    case $r in rung1*|rung2*) dts="bf16 fp16 fp32" ;; *) dts="bf16 fp16" ;; esac
    for dt in $dts; do
        echo "### $r $dt smoke" >>"$LOG"
        timeout 120 "$H" --family gemm --candidate "$so" --seed "$SEED" --dtype "$dt" --check-only \
            --shapes 256x256x128 --heldout 129x263x72 --timeout 30 \
            --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
        if ! tail -n 2 "$LOG" | grep -q '"passed":true'; then
            echo "### $r $dt: smoke check failed, not benchmarked" | tee -a "$LOG"
            continue
        fi
        if [ "$dt" = fp32 ]; then sh=$SHAPES32; else sh=$SHAPES16; fi
        echo "### $r $dt bench" >>"$LOG"
        echo "# $H --family gemm --candidate $so --seed $SEED --dtype $dt --shapes $sh --heldout $HELDOUT --reps $REPS --ceilings-cache $OUT/ceilings.json" >>"$LOG"
        timeout 900 "$H" --family gemm --candidate "$so" --seed "$SEED" --dtype "$dt" --shapes "$sh" \
            --heldout "$HELDOUT" --reps "$REPS" --timeout 120 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
        echo "### rc=$?" >>"$LOG"
    done
done

python3 - "$LOG" "$(dirname "$0")/.." >"$OUT/table.txt" <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
from bench_table import f, gather, note
# "### RUNG DTYPE bench|smoke" opens a section; only the bench sections' records make rows
order, rows = gather(sys.argv[1],
                     lambda line, cur: tuple(line.split()[1:4]) if " bench" in line or " smoke" in line else cur,
                     lambda cur, r: (cur[0], r.get("dtype"), r.get("shape")) if cur[2] == "bench" else None)
print("%-12s %-5s %-16s %8s %8s %6s %9s %6s %-10s %s" % ("rung", "dtype", "shape", "TFLOP/s", "cuBLAS", "ratio", "rel_err", "SMMHz", "bottleneck", "note"))
for k in order:
    d = rows[k]
    c, p, a = d.get("Correctness", {}), d.get("Performance", {}), d.get("Analysis", {})
    print("%-12s %-5s %-16s %8s %8s %6s %9s %6s %-10s %s" % (k[0], k[1], k[2], f(p.get("tflops"), "%.1f"),
          f(p.get("baseline_tflops"), "%.1f"), f(p.get("ratio"), "%.3f"), f(c.get("rel_err"), "%.2e"),
          f(p.get("sm_clock_mhz"), "%d"), a.get("bottleneck", "-"), note(c, 60)))
PY
cat "$OUT/table.txt"
