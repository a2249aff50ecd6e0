#!/usr/bin/env bash
# kernels/cuda/declared-check.sh BUILD OUT - spak-judge-cuda on the GPU
# machine, in one call (issue 17; docs/declared-kernels.md):
#
#  1. builds what it needs into BUILD (make O=BUILD cuda-declared: the judge,
#     spak-runner-cuda, every examples/declared/*/*.cu and
#     tests/trust_gpu/declared/*.cu as a cubin, nvcc -cubin -arch=sm_90a);
#  2. each example (softmax, layernorm, sum): naive, better and the
#     reference itself as the candidate, against the reference kernel, with
#     the example's decl (examples/declared/K/cuda.decl.json, its @CAND@ and
#     @REF@ filled in); softmax's better also in a session with naive, and
#     alone without a reference (untrusted: every record says so);
#  3. each cheat of tests/trust_gpu/declared/ as softmax's candidate;
#  4. the table (kernels/cuda/declared_table.py): each run's outcome against
#     what it must be, the first timed shape's time and ratio to the
#     reference.
#
# Files under OUT: NAME.log (records and diagnostics of each run), NAME.decl.json,
# device.txt, ceilings.json, table.txt, cost.txt (where the time of two runs went:
# kernels/cuda/cost-table.py). Exit 0 when every run was as expected. Knobs:
# DC_REPS (--reps, default 10), DC_TIMEOUT (--timeout of a run, default 120;
# the hang cheat gets 20).
set -u
B=${1:?usage: declared-check.sh BUILD OUT}
OUT=${2:?usage: declared-check.sh BUILD OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$B" "$OUT"
B=$(cd "$B" && pwd)
OUT=$(cd "$OUT" && pwd)
REPS=${DC_REPS:-10}
TO=${DC_TIMEOUT:-120}
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv 2>&1
    ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libjansson|libsqlite3|libcurl' | head
} >"$OUT/device.txt"
cat "$OUT/device.txt"

if ! make -C "$ROOT" -j"$(nproc)" O="$B" cuda-declared >"$OUT/build.log" 2>&1; then
    tail -30 "$OUT/build.log"
    echo "declared-check: the build failed (log: $OUT/build.log)"
    exit 1
fi
J=$B/spak-judge-cuda
C=$B/cuda/declared

# decl NAME KERNEL CAND_CUBIN [REF_CUBIN|null]: OUT/NAME.decl.json from the example's template
decl() {
    local name=$1 k=$2 cand=$3 ref=${4:-}
    if [ "$ref" = null ]; then
        python3 - "$ROOT/examples/declared/$k/cuda.decl.json" "$cand" >"$OUT/$name.decl.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["candidate"] = sys.argv[2]; d["reference"] = None
print(json.dumps(d, indent=1))
PY
    else
        # the reference as its own candidate runs under the reference's entry
        # name (first GPU run, 2026-12-06: "no kernel 'softmax_rows' in the
        # module" for ref.cubin, whose kernel is softmax_ref)
        python3 - "$ROOT/examples/declared/$k/cuda.decl.json" "$cand" "$ref" >"$OUT/$name.decl.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["candidate"] = sys.argv[2]; d["reference"]["path"] = sys.argv[3]
if sys.argv[2] == sys.argv[3]:
    d["entry"] = d["reference"]["entry"]
print(json.dumps(d, indent=1))
PY
    fi
}

# run NAME [judge options...]: the judge on OUT/NAME.decl.json into OUT/NAME.log
run() {
    local name=$1
    shift
    echo "== $name"
    # one ceilings cache for every run, as spak run's (each run measured
    # them anew before: ~1-2 s of cuBLAS SGEMM 8192^3 and copies a run)
    timeout 900 "$J" --decl "$OUT/$name.decl.json" --reps "$REPS" --ceilings-cache "$OUT/ceilings.json" "$@" \
        >"$OUT/$name.log" 2>&1
    echo "   exit $?, $(grep -c '^__SPAK_TRACE__' "$OUT/$name.log") records"
}

for k in softmax layernorm sum; do
    for v in naive better ref; do
        decl "$k-$v" "$k" "$C/examples/declared/$k/$v.cubin" "$C/examples/declared/$k/ref.cubin"
        run "$k-$v" --timeout "$TO"
    done
done
decl softmax-better-session softmax "$C/examples/declared/softmax/better.cubin" "$C/examples/declared/softmax/ref.cubin"
run softmax-better-session --timeout "$TO" --candidate "$C/examples/declared/softmax/better.cubin" \
    --candidate "$C/examples/declared/softmax/naive.cubin"
decl softmax-better-untrusted softmax "$C/examples/declared/softmax/better.cubin" null
run softmax-better-untrusted --timeout "$TO"

for f in "$ROOT"/tests/trust_gpu/declared/d_*.cu; do
    n=$(basename "$f" .cu)
    decl "$n" softmax "$C/tests/trust_gpu/declared/$n.cubin" "$C/examples/declared/softmax/ref.cubin"
    if [ "$n" = d_hang ]; then run "$n" --timeout 20; else run "$n" --timeout "$TO"; fi
done

python3 "$HERE/declared_table.py" "$OUT" | tee "$OUT/table.txt"
rc=${PIPESTATUS[0]}
# where each run's time went (issue 18): the judge's Cost records
python3 "$HERE/cost-table.py" "$OUT"/softmax-naive.log "$OUT"/softmax-better-session.log | tee "$OUT/cost.txt"
exit "$rc"
