#!/usr/bin/env bash
# kernels/cpu/bench.sh [BUILD_DIR] - benchmark of the CPU kernel ladders (not a
# test). Builds every rung with its best-known defines as a shared object, runs
# the trusted harness on each (checks first; only a passing rung is timed),
# matmul at 1024^3 and 2048^3 against OpenBLAS sgemm and attention at
# B=1 H=8 S=1024 D=64 (causal and not) against the naive rung, all timed
# interleaved in the same process, and prints a markdown table.
#
#   make && kernels/cpu/bench.sh build            (~3 minutes on 2 cores)
#   MIN_TIME=0.5 kernels/cpu/bench.sh             (longer timing per shape)
#
# naive matmul runs only at 1024^3 (at 2048^3 one call takes ~15 s).
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
H="$B/spak-harness-cpu"
MIN_TIME=${MIN_TIME:-0.3}
SEED=${SEED:-20261123}
[ -x "$H" ] || { echo "bench.sh: $H missing; run make" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/spak-cpu-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
CC=${CC:-cc}
CCF="-O3 -march=native -fPIC -shared"
CEIL="$B/ceilings-cpu.json"

so() {  # name src defines...
    local name=$1 src=$2; shift 2
    $CC $CCF "$@" "$src" -o "$T/$name.so" -lpthread -lm || { echo "bench.sh: cannot build $name" >&2; exit 1; }
    echo "$name|$*" >>"$T/defines"
}
so mm_naive kernels/cpu/matmul/naive.c
so mm_reorder kernels/cpu/matmul/reorder.c -DUNROLL_K=4
so mm_blocked kernels/cpu/matmul/blocked.c -DTILE_M=64 -DTILE_N=256 -DTILE_K=128 -DTHREADS=2
so mm_packed kernels/cpu/matmul/packed.c -DMR=6 -DNV=4 -DTILE_K=384 -DTILE_M=96 -DTILE_N=2048 -DTHREADS=2
so at_naive kernels/cpu/attention/naive.c
so at_online kernels/cpu/attention/online.c -DTHREADS=2
so at_blocked kernels/cpu/attention/blocked.c -DBQ=64 -DBK=128 -DTHREADS=2

run() {  # name family shapes baseline-args...
    local name=$1 fam=$2 shapes=$3; shift 3
    echo "bench.sh: $name $shapes" >&2
    "$H" --family "$fam" --candidate "$T/$name.so" --seed "$SEED" --shapes "$shapes" --heldout "" \
        --min-time "$MIN_TIME" --ceilings-cache "$CEIL" "$@" | sed "s/^__SPAK_TRACE__ /$name /" >>"$T/out"
}
run mm_naive matmul 1024x1024x1024
for r in mm_reorder mm_blocked mm_packed; do run $r matmul 1024x1024x1024,2048x2048x2048; done
for r in at_naive at_online at_blocked; do
    run $r attention 1x8x1024x64,1x8x1024x64c --baseline naive-attention --baseline-so "$T/at_naive.so"
done

python3 - "$T/out" "$T/defines" <<'PY'
import json, sys
defs = dict(l.rstrip("\n").split("|", 1) for l in open(sys.argv[2]))
rows, ana = [], {}
for line in open(sys.argv[1]):
    name, js = line.split(" ", 1)
    r = json.loads(js)
    if r["type"] == "Correctness" and not r["passed"]:
        rows.append((name, r["shape"], "FAILED: " + r["reason"]))
    elif r["type"] == "Performance":
        rows.append((name, r["shape"], r))
    elif r["type"] == "Analysis":
        ana[(name, r["shape"])] = r
print("| rung | defines | shape | time ms (p20-p80) | GFLOP/s | baseline | baseline ms | ratio | bottleneck (frac of peak) |")
print("|---|---|---|---|---|---|---|---|---|")
for name, shape, r in rows:
    if isinstance(r, str):
        print(f"| {name} | {defs.get(name,'')} | {shape} | {r} | | | | | |")
        continue
    a = ana.get((name, shape), {})
    print(f"| {name} | {defs.get(name,'') or '-'} | {shape} | {r['time_ms']:.2f} ({r['time_ms_p20']:.2f}-{r['time_ms_p80']:.2f}) | "
          f"{r['gflops']:.1f} | {r['baseline']} | {r['baseline_time_ms']:.2f} | **{r['ratio']:.2f}x** | "
          f"{a.get('bottleneck','?')} ({a.get('frac_peak_flops',0):.2f}) |")
if ana:
    a = next(iter(ana.values()))
    print(f"\nceilings: {a['peak_gflops']:.0f} GFLOP/s fp32 FMA ({a['isa']}, {a['threads']} threads), {a['peak_gbps']:.1f} GB/s copy")
PY
