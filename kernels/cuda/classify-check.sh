#!/usr/bin/env bash
# kernels/cuda/classify-check.sh BUILD OUT - the GPU bottleneck classes
# (hc_classify, docs/bottleneck.md) on kernels of known character, timed for
# real by spak-judge-cuda on the GPU machine (issue 14; the CPU's twins are
# kernels/cpu/tests/test_classify.c, in CI):
#
#   copy   a streaming copy, 128 MiB in and out            -> memory
#   fma    8 independent FMA chains a thread, in registers  -> compute
#   chase  dependent loads through a 64 MiB table, one warp
#          a block and two blocks an SM                      -> latency
#   tiny   one block of 32 threads adding one               -> parallelism
#
# Each runs as a declared kernel (tests/classify_gpu/NAME.cu, its k_NAME
# against k_NAME_ref, the same arithmetic) with a decl written here: its
# flops and bytes are what its code does. Builds nothing: BUILD holds
# spak-judge-cuda, spak-runner-cuda and cuda/declared/tests/classify_gpu/*.cubin
# (`make cuda-declared` on the development machine, carried). Prints one line
# a kernel (class, expected, the numbers the class came from) and exits 0
# when every class is the expected one. Knobs: CC_REPS (--reps, default 10).
set -u
B=${1:?usage: classify-check.sh BUILD OUT}
OUT=${2:?usage: classify-check.sh BUILD OUT}
mkdir -p "$OUT"
B=$(cd "$B" && pwd)
OUT=$(cd "$OUT" && pwd)
C=$B/cuda/declared/tests/classify_gpu
for f in "$B/spak-judge-cuda" "$B/spak-runner-cuda" "$C/copy.cubin" "$C/fma.cubin" "$C/chase.cubin" "$C/tiny.cubin"; do
    [ -e "$f" ] || { echo "classify-check: $f is missing (make cuda-declared)" >&2; exit 2; }
done
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -1 | tee "$OUT/device.txt"

# the decls: one timed shape each, the counts and launches of the kernel's code
python3 - "$C" "$OUT" <<'PY'
import json, sys
C, OUT = sys.argv[1], sys.argv[2]
def buf(name, typ, access, fill="normal", output=False, tol=None, fill_args=None):
    a = {"name": name, "type": typ, "access": access, "fill": fill}
    if fill_args: a["fill_args"] = fill_args
    if output: a["output"], a["tolerance"] = True, tol
    return a
def scalar(name, typ):
    return {"name": name, "type": typ, "scalar": True}
def decl(name, args, counts, values, grid, block, smem, flops, nbytes, label):
    d = {"format": "spak-kernel-decl/1", "name": name, "language": "cuda", "entry": "k_" + name,
         "candidate": "%s/%s.cubin" % (C, name),
         "reference": {"kind": "function", "path": "%s/%s.cubin" % (C, name), "entry": "k_%s_ref" % name},
         "args": args,
         "shapes": [{"label": label, "heldout": False, "counts": counts, "values": values,
                     "grid": grid, "block": block, "shared_bytes": smem,
                     "reference_shared_bytes": 0, "flops": flops, "bytes": nbytes}]}
    json.dump(d, open("%s/%s.decl.json" % (OUT, name), "w"), indent=1)
n = 1 << 25                     # copy: 32 Mi floats, 128 MiB each way
decl("copy", [buf("x", "f32", "read"), buf("y", "f32", "write", "zero", True, 1e-7), scalar("n4", "i64")],
     [n, n, 0], [None, None, n // 4], [132 * 8, 1, 1], [256, 1, 1], 0, 0, 8 * n, "n=%d" % n)
t, iters = 132 * 2048 * 2, 2048  # fma: two waves of full SMs, 16 flops a trip
decl("fma", [buf("x", "f32", "read", "uniform", fill_args=[0, 1]), buf("y", "f32", "write", "zero", True, 1e-6),
             scalar("n", "i64"), scalar("m", "f32"), scalar("c", "f32"), scalar("iters", "i32")],
     [t, t, 0, 0, 0, 0], [None, None, t, 0.9999, 1e-4, iters], [t // 256, 1, 1], [256, 1, 1], 0,
     16.0 * iters * t, 8.0 * t, "threads=%d,iters=%d" % (t, iters))
m, steps, blocks = 1 << 24, 256, 264  # chase: 64 MiB of indices, 256 dependent loads a thread
decl("chase", [buf("x", "i32", "read", "index"), buf("y", "i32", "write", "zero", True, 0),
               scalar("mask", "i32"), scalar("steps", "i32")],
     [m, blocks * 32, 0, 0], [None, None, m - 1, steps], [blocks, 1, 1], [32, 1, 1], 110 * 1024,
     2.0 * steps * blocks * 32, 4.0 * steps * blocks * 32, "table=%d,steps=%d" % (m, steps))
decl("tiny", [buf("x", "f32", "read"), buf("y", "f32", "write", "zero", True, 1e-7)],
     [32, 32], [None, None], [1, 1, 1], [32, 1, 1], 0, 32, 256, "n=32")
PY

rc=0
printf '%-6s %-12s %-12s %s\n' kernel class expected "numbers (the judge's Analysis record)" | tee "$OUT/table.txt"
for k in copy:memory fma:compute chase:latency tiny:parallelism; do
    name=${k%%:*} want=${k#*:}
    timeout 300 "$B/spak-judge-cuda" --decl "$OUT/$name.decl.json" --reps "${CC_REPS:-10}" \
        --ceilings-cache "$OUT/ceilings.json" >"$OUT/$name.log" 2>&1
    echo "# $name: judge exit $?" >>"$OUT/$name.log"
    line=$(python3 - "$OUT/$name.log" "$want" <<'PY'
import json, sys
an = perf = corr = None
for l in open(sys.argv[1]):
    if l.startswith("__SPAK_TRACE__ "):
        r = json.loads(l[15:])
        t = r.get("type")
        if t == "Analysis": an = r
        elif t == "Performance": perf = r
        elif t == "Correctness": corr = r
if not an:
    why = corr.get("reason") if corr else "no records"
    print("none\t(no Analysis record: %s)" % why)
else:
    print("%s\t%s; time %.4f ms%s" % (an.get("bottleneck"), an.get("why", ""), perf.get("time_ms", float("nan")) if perf else float("nan"),
                                   "" if not corr or corr.get("passed") else "; FAILED: " + corr.get("reason", "")))
PY
)
    got=${line%%	*}
    printf '%-6s %-12s %-12s %s\n' "$name" "$got" "$want" "${line#*	}" | tee -a "$OUT/table.txt"
    [ "$got" = "$want" ] || rc=1
done
echo "classify-check: $([ $rc = 0 ] && echo "every class as expected" || echo "a class differs from the expected one")" | tee -a "$OUT/table.txt"
exit $rc
