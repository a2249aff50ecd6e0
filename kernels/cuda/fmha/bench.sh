#!/usr/bin/env bash
# kernels/cuda/fmha/bench.sh [BUILD_DIR] - the FMHA ladder on the GPU machine,
# in ONE call (budgeted to stay under ~9 minutes), with prebuilt artifacts (it
# builds nothing). Carry from the development machine:
#   BUILD_DIR/spak-harness-cuda-fmha, BUILD_DIR/cuda/fmha/ (rungs + cudnn-dry),
#   BUILD_DIR/cuda/fmha-sweep/ (optional: make cuda-fmha-sweep)
#
# 0. device facts; cuDNN's SDPA graph stand-alone (cudnn-dry) on the issue's
#    shapes: does a plan finalize, with which variant, and does it execute?
# 0b. the harness against cheats.cu's nine misbehaving candidates (each must fail).
# 1. correctness of every rung (check-only, no baseline, fp16 and bf16) on
#    small shapes and held-out ones (S not a multiple of any tile, GQA, MQA,
#    causal); a rung that fails here is not timed.
# 2. timing against cuDNN, interleaved, on the issue's shapes:
#    D=128 S=4096 B=4 H=16 and D=64 S=4096 B=4 H=32, causal and not,
#    fp16 and bf16 (rungs 3 and 4 in full, rung 4 first; rung 2 fp16; rung 1
#    one shape).
# 3. if time is left: the rung-3/4 parameter variants (no baseline; the cuDNN
#    time of step 2 is the reference) on the D=128 shapes, fp16.
# Writes $OUT/bench.log (every record + stderr), $OUT/table.txt,
# $OUT/ceilings.json, $OUT/device.txt, $OUT/cudnn-dry.txt, $OUT/cheats.txt;
# prints the table last.
# Carry (run tool): build/spak-harness-cuda-fmha build/cuda/fmha build/cuda/fmha-cheats build/cuda/fmha-sweep
# Env: SEED (20261123), REPS (30), BUDGET_S (540), RUNGS (all built).
set -u
B=${1:-build}
OUT=${OUT:-/tmp/spak-fmha-bench}
mkdir -p "$OUT"
H=$B/spak-harness-cuda-fmha
DRY=$B/cuda/fmha/cudnn-dry
REPS=${REPS:-30}
SEED=${SEED:-20261123}
BUDGET_S=${BUDGET_S:-540}
LOG=$OUT/bench.log
: >"$LOG"
T0=$SECONDS
left() { echo $((BUDGET_S - (SECONDS - T0))); }

SMALL=1x2x128x64,1x2x128x64c,2x4x256x128g2c
HELD=1x3x1000x128,2x4x777x64g2c,1x1x33x64c,1x8x300x128g1c
PERF=4x16x4096x128,4x16x4096x128c,4x32x4096x64,4x32x4096x64c
PERF_HELD=2x8x1500x128g2c

# cuBLAS (ceiling) and cuDNN (baseline, dlopen) must resolve.
for lib in libcublas.so.13 libcudnn.so.9; do
    if ! ldconfig -p 2>/dev/null | grep -q "$lib"; then
        for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu \
                 $(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null) \
                 $(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__) + "/lib")' 2>/dev/null); do
            [ -e "$d/$lib" ] && export LD_LIBRARY_PATH="$d:${LD_LIBRARY_PATH:-}"
        done
    fi
done
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu --format=csv
    ldd "$H" | grep -E 'cublas|jansson|not found'
    ldconfig -p 2>/dev/null | grep -E 'libcudnn.so|libcudnn_engines' | head -4
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

# 0. cuDNN alone
: >"$OUT/cudnn-dry.txt"
if [ -x "$DRY" ]; then
    for c in "4x16x4096x128 fp16" "4x16x4096x128c fp16" "4x32x4096x64 bf16" "4x32x4096x64c bf16 lse" "2x8x1500x128g2c fp16"; do
        echo "## cudnn-dry $c" >>"$OUT/cudnn-dry.txt"
        # shellcheck disable=SC2086
        timeout 120 "$DRY" $c >>"$OUT/cudnn-dry.txt" 2>&1
    done
    grep -E "^(##|DRY|plan)" "$OUT/cudnn-dry.txt"
fi

# 0b. the harness against its misbehaving candidates (make cuda-fmha-cheats)
if [ -d "$B/cuda/fmha-cheats" ]; then
    bash "$(dirname "$0")/cheats.sh" "$B" >"$OUT/cheats.txt" 2>&1
    echo "cheats: $(grep -c '^ok' "$OUT/cheats.txt") caught, $(grep -c '^not ok' "$OUT/cheats.txt") missed ($(left) s left)"
    grep '^not ok' "$OUT/cheats.txt"
fi

RUNGS=${RUNGS:-$(cd "$B/cuda/fmha" && ls rung*.so | sed 's/\.so$//' | sort)}
GOOD=""
# 1. correctness
for r in $RUNGS; do
    so=$B/cuda/fmha/$r.so
    # smoke first: a rung that fails or hangs on one small shape costs 20 s, not 14 checks' worth
    echo "### $r fp16 smoke" >>"$LOG"
    timeout 60 "$H" --family fmha --candidate "$so" --seed "$SEED" --dtype fp16 --check-only --no-baseline \
        --shapes 1x2x128x64 --timeout 20 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
    if ! tail -n 3 "$LOG" | grep -q '"passed":true'; then
        echo "$r: smoke check 1x2x128x64 fp16 failed, not checked further nor timed ($(left) s left)" | tee -a "$LOG"
        continue
    fi
    pass=1
    for dt in fp16 bf16; do
        echo "### $r $dt check" >>"$LOG"
        timeout 240 "$H" --family fmha --candidate "$so" --seed "$SEED" --dtype "$dt" --check-only --no-baseline \
            --shapes "$SMALL" --heldout "$HELD" --timeout 20 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
        echo "### rc=$?" >>"$LOG"
        nfail=$(sed -n "/^### $r $dt check/,/^### rc=/p" "$LOG" | grep -c '"passed":false')
        npass=$(sed -n "/^### $r $dt check/,/^### rc=/p" "$LOG" | grep -c '"passed":true')
        echo "$r $dt: $npass passed, $nfail failed (check-only, $(left) s left)"
        [ "$nfail" -eq 0 ] && [ "$npass" -gt 0 ] || pass=0
    done
    [ "$pass" -eq 1 ] && GOOD="$GOOD $r"
done

# 2. timing against cuDNN
bench() { # rung dtype shapes heldout
    local so=$B/cuda/fmha/$1.so
    if [ "$(left)" -lt 60 ]; then echo "### $1 $2 bench: skipped, budget spent" | tee -a "$LOG"; return; fi
    echo "### $1 $2 bench" >>"$LOG"
    echo "# $H --family fmha --candidate $so --seed $SEED --dtype $2 --shapes $3 --heldout $4 --reps $REPS" >>"$LOG"
    timeout "$(left)" "$H" --family fmha --candidate "$so" --seed "$SEED" --dtype "$2" --shapes "$3" --heldout "$4" \
        --reps "$REPS" --timeout 150 --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
    echo "### rc=$?" >>"$LOG"
    echo "$1 $2 timed ($(left) s left)"
}
# highest rung first: if the budget runs out, it is the lower rungs that go untimed
for r in $(printf '%s\n' $GOOD | sort -r); do
    case $r in
    rung1*) bench "$r" fp16 4x16x4096x128 2x4x777x64g2c ;;
    rung2*) bench "$r" fp16 "$PERF" "$PERF_HELD" ;;
    *) bench "$r" fp16 "$PERF" "$PERF_HELD"; bench "$r" bf16 "$PERF" "$PERF_HELD" ;;
    esac
done

# 3. rung-3 variants, if any were built and time is left
if [ -d "$B/cuda/fmha-sweep" ]; then
    for so in "$B"/cuda/fmha-sweep/*.so; do
        [ -e "$so" ] || continue
        v=$(basename "$so" .so)
        if [ "$(left)" -lt 45 ]; then echo "### $v: skipped, budget spent" | tee -a "$LOG"; continue; fi
        echo "### $v fp16 bench" >>"$LOG"
        timeout "$(left)" "$H" --family fmha --candidate "$so" --seed "$SEED" --dtype fp16 --no-baseline \
            --shapes 4x16x4096x128,4x16x4096x128c --heldout 1x3x1000x128 --reps "$REPS" --timeout 60 \
            --ceilings-cache "$OUT/ceilings.json" >>"$LOG" 2>&1
        echo "### rc=$?" >>"$LOG"
    done
fi

python3 - "$LOG" "$(dirname "$0")/.." >"$OUT/table.txt" <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[2])
from bench_table import f, gather, note
# "### RUNG DTYPE bench|check" opens a section; smoke, rc and skip lines close it
order, rows = gather(sys.argv[1],
                     lambda line, cur: tuple(line.split()[1:4]) if len(line.split()) == 4 and line.split()[3] in ("bench", "check") else None,
                     lambda cur, r: (cur[0], r.get("dtype"), r.get("shape"), cur[2]))
hdr = "%-34s %-5s %-16s %-5s %8s %8s %6s %9s %9s %9s %-10s %s"
print(hdr % ("candidate", "dtype", "shape", "step", "TFLOP/s", "cuDNN", "ratio", "rel_err", "cudnn_err", "lse_err", "bottleneck", "note"))
for k in order:
    d = rows[k]
    c, p, a = d.get("Correctness", {}), d.get("Performance", {}), d.get("Analysis", {})
    n = note(c, 70)
    if p and p.get("baseline_error") and "no-baseline" not in (p.get("baseline_error") or ""):
        n += " cudnn: " + p["baseline_error"][:70]
    print(hdr % (k[0][:34], k[1], k[2], k[3], f(p.get("tflops"), "%.1f"), f(p.get("baseline_tflops"), "%.1f"),
                 f(p.get("ratio"), "%.3f"), f(c.get("rel_err"), "%.2e"), f(c.get("baseline_rel_err"), "%.2e"),
                 f(c.get("lse_err"), "%.1e"), a.get("bottleneck", "-"), n))
PY
echo "elapsed $((SECONDS - T0)) s"
cat "$OUT/table.txt"
