#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# builds: every (tests/run.sh: the release build starts spak-judge-cuda, which the sanitizer build lacks; the sanitizer build checks the decl files spak writes)
# tests/suites/cuda_declared.sh BUILD_DIR - spak-judge-cuda (issue 17,
# docs/declared-kernels.md) without a GPU:
#  - every example kernel (examples/declared/*/*.cu) and every cheat of the
#    declared judge (tests/trust_gpu/declared/*.cu) compiles to an sm_90a
#    cubin, warning-free, without register spills, with its extern "C" entry;
#  - each example's decl (examples/declared/*/cuda.decl.json, filled in) is
#    accepted up to the device: the judge says "no CUDA device" and exits 2;
#  - decls it cannot honour are refused before the device, one line naming
#    the field (unknown type, a template entry, a missing reference image);
#  - declared_table.py's checks on hand-written records, declared-check.sh's
#    syntax;
#  - the spec to the judge: examples/declared/K-cuda.spak check clean, `spak
#    build` makes every point and the reference a cubin, `spak run` writes
#    each evaluation's decl file (the counts and launch of every shape, as
#    the spec's expressions give them at the point) and starts the judge;
#    extern_c: a kernel without extern "C" keeps its plain name, with cache
#    keys that do not depend on where the tree lies.
# The GPU run itself is kernels/cuda/declared-check.sh on the GPU machine.
# TAP output. Skips the nvcc parts (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

check_run "declared_table.py: the run checks catch what they must (no device)" \
    bash -c 'o=$(python3 kernels/cuda/declared_table.py --self-test 2>&1) || { sed "s/^/# /" <<<"$o"; exit 1; }'
check_run "declared-check.sh parses (bash -n)" bash -n kernels/cuda/declared-check.sh
check_run "declared_loop.sh parses (bash -n)" bash -n kernels/cuda/declared_loop.sh

NVCC=$(command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then
    skip "the declared kernels compile to cubins" "no nvcc"
    echo "1..$n"
    exit 0
fi
T=$(mktemp -d /tmp/spak-cuda-declared.XXXXXX)
trap 'rm -rf "$T"' EXIT
srcs=$(ls examples/declared/*/*.cu tests/trust_gpu/declared/*.cu tests/classify_gpu/*.cu)
pids=()
for f in $srcs; do
    o=$T/$(echo "${f%.cu}" | tr / _)
    "$NVCC" -cubin -arch=sm_90a -O3 -Werror all-warnings -Xptxas -v -o "$o.cubin" "$f" >"$o.txt" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for f in $srcs; do
    o=$T/$(echo "${f%.cu}" | tr / _)
    if [ ! -s "$o.cubin" ]; then
        notok "$f compiles to an sm_90a cubin" "$(head -5 "$o.txt")"
        continue
    fi
    ok "$f compiles to an sm_90a cubin, warning-free"
    # a cubin is an ELF file: the kernel is a FUNC symbol of its own name (cuModuleGetFunction's)
    for e in $(sed -n 's/.*extern "C" __global__ void \([A-Za-z_0-9]*\)(.*/\1/p' "$f"); do
        check_run "$f: its entry $e is in the cubin, unmangled" \
            bash -c 'readelf -sW "$1" 2>/dev/null | grep -qE "FUNC .* $2\$"' _ "$o.cubin" "$e"
    done
    check_run "$f: no register spills (ptxas)" bash -c '! grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$1" >/dev/null' _ "$o.txt"
done

J=""
for d in "$B" build; do [ -x "$d/spak-judge-cuda" ] && { J=$d/spak-judge-cuda; break; }; done
if [ -z "$J" ]; then
    notok "spak-judge-cuda exists (make builds it)"
    echo "1..$n"
    exit 0
fi
ok "spak-judge-cuda exists ($J)"
out=$("$J" --help 2>&1); rc=$?
check "judge: --help prints the usage, exit 0" '[ $rc -eq 0 ] && grep -q "usage: spak-judge-cuda --decl" <<<"$out"'
out=$("$J" --candidate x.cubin 2>&1); rc=$?
check "judge: no --decl is a usage error (exit 2)" '[ $rc -eq 2 ] && grep -q -- "--decl PATH is required" <<<"$out"'

# the GPU bottleneck twins (kernels/cuda/classify-check.sh): its decls, written
# by the script, accepted by the judge up to the device (on the GPU machine the
# script checks the classes)
CB=$T/cc-build
mkdir -p "$CB/cuda/declared/tests/classify_gpu"
JD=$(cd "$(dirname "$J")" && pwd)
ln -s "$JD/spak-judge-cuda" "$CB/spak-judge-cuda" && ln -s "$JD/spak-runner-cuda" "$CB/spak-runner-cuda"
for k in copy fma chase tiny; do cp "$T/tests_classify_gpu_$k.cubin" "$CB/cuda/declared/tests/classify_gpu/$k.cubin"; done
bash kernels/cuda/classify-check.sh "$CB" "$T/cc" >"$T/cc.out" 2>&1
for k in copy fma chase tiny; do
    if grep -q "no CUDA device" "$T/cc/$k.log" 2>/dev/null; then
        check "classify-check.sh: the $k twin's decl accepted up to the device ('no CUDA device')" "grep -q '^# $k: judge exit 2' '$T/cc/$k.log'"
    else
        check "classify-check.sh: the $k twin's class as expected on this GPU" "grep -qE '^$k +([a-z]+) +\\1 ' '$T/cc/table.txt'"
    fi
done

# fill(K, OUT, sed...): the example K's decl with the cubins compiled above
fill() {
    local k=$1 out=$2
    shift 2
    sed -e "s|@CAND@|$T/examples_declared_${k}_better.cubin|" -e "s|@REF@|$T/examples_declared_${k}_ref.cubin|" "$@" \
        "examples/declared/$k/cuda.decl.json" >"$out"
}
for k in softmax layernorm sum; do
    fill "$k" "$T/$k.json"
    out=$("$J" --decl "$T/$k.json" --check-only --timeout 60 2>&1); rc=$?
    if grep -q "no CUDA device" <<<"$out"; then
        check "judge: $k's decl accepted up to the device ('no CUDA device', exit 2)" '[ $rc -eq 2 ]'
    else
        check "judge: $k's decl checks on the device (every record passed)" \
            '[ $rc -eq 0 ] && grep -q "\"passed\":true" <<<"$out" && ! grep -q "\"passed\":false" <<<"$out"'
    fi
done
# refusals: exit 2, one line, the field named, before any device work
refuse() {
    local name=$1 want=$2 out rc
    out=$("$J" --decl "$T/bad.json" 2>&1); rc=$?
    if [ $rc -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok "$name"; else
        notok "$name" "exit $rc, want '$want'" "$out"; fi
}
fill softmax "$T/bad.json" -e '0,/"type": "f32"/s//"type": "f8"/'
refuse "judge refuses an unknown element type, naming args[0].type" "args[0].type: unknown element type 'f8'"
fill softmax "$T/bad.json" -e 's/"entry": "softmax_rows"/"entry": "softmax_rows<128>"/'
refuse "judge refuses a template entry, saying it is not supported yet" "template kernels (params_as \"template\""
fill softmax "$T/bad.json" -e "s|$T/examples_declared_softmax_ref.cubin|$T/missing.cubin|"
refuse "judge refuses a reference image it cannot load, naming reference.path" "reference.path: '$T/missing.cubin' cannot be loaded"
fill softmax "$T/bad.json" -e "s|$T/examples_declared_softmax_better.cubin|$T/missing.cubin|"
refuse "judge refuses a candidate image it cannot read" "cannot read the candidate's image"
fill softmax "$T/bad.json" -e 's/"counts": \[\n/&/' -e '0,/4194304,/s//4194304000,/'
refuse "judge refuses a buffer over the cap, naming its count" "shapes[0].counts[0] ('x')"

# ---- the spec to the judge (decl-glue): each examples/declared/K-cuda.spak
# checks clean, `spak build` compiles every point and the reference to
# cubins (nvcc -cubin in the build sandbox), and `spak run` writes, for the
# points it evaluates, the decl file with the launch and counts of every
# shape evaluated by spak, and starts spak-judge-cuda on it as a trusted
# judge (here: "no CUDA device"; on a GPU machine: the evaluation passes).
S=$(cd "$B" && pwd)/spak
H=$T/home
mkdir -p "$H" && chmod 755 "$T" "$H"
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | python3 -c '
import sys
t = sys.stdin.read().strip()
try:
    a, b = (int(x) for x in t.split("."))
    print("sm_%d%d%s" % (a, b, "a" if a >= 9 else ""))
except Exception:
    print("sm_90a")')
for k in softmax layernorm sum; do
    spec=examples/declared/$k-cuda.spak
    out=$("$S" check "$spec" 2>&1); rc=$?
    check "$k-cuda: spak check is clean (no error, no warning)" '[ $rc -eq 0 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -q ": ok: system" <<<"$out"'
    out=$("$S" build --home "$H" "$spec" 2>&1); rc=$?
    npts=$(grep -c '^\[' <<<"$out")
    check "$k-cuda: spak build compiles every point ($npts) to a cubin" \
        '[ $rc -eq 0 ] && grep -q "spak build: $npts built, 0 failed" <<<"$out" && [ "$(grep -c "ok .*\.cubin$" <<<"$out")" -eq "$npts" ]'
    reflog=$(grep -l "/declared/$k/ref.cu" "$H"/cache/build/*.log 2>/dev/null | head -1)
    check "$k-cuda: the reference is in the build cache too, a cubin for $arch" \
        '[ -n "$reflog" ] && [ -s "${reflog%.log}.cubin" ] && grep -q -- "-cubin -arch=$arch" "$reflog"'
    entry=$(sed -n 's/^ *entry: "\([A-Za-z_0-9]*\)".*/\1/p' "$spec" | head -1)
    cub=$(grep "ok .*\.cubin$" <<<"$out" | tail -1 | awk '{print $NF}')
    check_run "$k-cuda: a built candidate holds its entry $entry, unmangled" \
        bash -c 'readelf -sW "$1" 2>/dev/null | grep -qE "FUNC .* $2\$"' _ "$cub" "$entry"
    if [ ! -x "$B/spak-judge-cuda" ]; then  # the sanitizer build has no CUDA judges
        skip "$k-cuda: spak run writes each evaluation's decl and runs spak-judge-cuda on it" "no spak-judge-cuda in $B"
        continue
    fi
    out=$("$S" run --home "$H" --json --quiet --strategy grid --budget 2 --no-learn "$spec" 2>"$T/$k.err"); rc=$?
    run=$(jlast 'd["run_id"]' <<<"$out" 2>/dev/null)
    if [ -z "$run" ]; then
        notok "$k-cuda: spak run starts" "exit $rc" "$(tail -5 "$T/$k.err")"
        continue
    fi
    # the decl of each evaluation against the spec's formulas at its point
    res=$(python3 - "$k" "$H" "$run" <<'PY'
import json, sqlite3, sys, os
k, home, run = sys.argv[1:4]
db = sqlite3.connect(os.path.join(home, "spak.db"))
rows = db.execute("select e.eval_id, c.params_json, e.stderr_tail, e.status, e.result_json from evaluations e "
                  "join candidates c on c.run_id = e.run_id and c.cand_id = e.cand_id where e.run_id = ? "
                  "order by e.eval_id", (run,)).fetchall()
cdiv = lambda a, b: -(-a // b)
def want(p, sz):
    if k == "softmax":
        r, c = sz["rows"], sz["cols"]
        return dict(counts=[r * c, r * c, 0, 0], values=[None, None, r, c], grid=[r, 1, 1],
                    block=[p["block_x"], 1, 1], reference_grid=[cdiv(r, 128), 1, 1], reference_block=[128, 1, 1],
                    shared_bytes=0, flops=5 * r * c, bytes=8 * r * c)
    if k == "layernorm":
        r, c = sz["rows"], sz["cols"]
        return dict(counts=[r * c, c, c, r * c, 0, 0, 0], values=[None] * 4 + [r, c, 1e-5], grid=[r, 1, 1],
                    block=[p["block_x"], 1, 1], reference_grid=[cdiv(r, 128), 1, 1], reference_block=[128, 1, 1],
                    flops=8 * r * c, bytes=8 * r * c + 8 * c)
    n = sz["n"]
    return dict(counts=[n, 1, 0], values=[None, None, n], grid=[p["blocks"], 1, 1], block=[p["block_x"], 1, 1],
                reference_grid=[264, 1, 1], reference_block=[256, 1, 1], flops=n, bytes=4 * n)
bad = []
for eid, pj, err, status, rj in rows:
    p = json.loads(pj)
    lib = os.path.join(home, "runs", run, "e%d.lib" % eid)
    d = json.load(open(os.path.join(lib, "decl.json")))
    if d["language"] != "cuda" or not d["candidate"].endswith(".cubin") or not os.path.dirname(d["candidate"]) == lib:
        bad.append("e%d: candidate %s" % (eid, d["candidate"]))
    if not (d["reference"] and d["reference"]["path"].endswith(".cubin") and os.path.getsize(d["reference"]["path"]) > 0):
        bad.append("e%d: reference %s" % (eid, d["reference"]))
    listed = [s for s in d["shapes"] if not s.get("drawn")]
    drawn = [s for s in d["shapes"] if s.get("drawn")]
    if len(listed) != 4 or [s["heldout"] for s in listed] != [False, False, True, True]:
        bad.append("e%d: shapes %s" % (eid, [s["label"] for s in d["shapes"]]))
    # two held-out shapes spak drew at run time, after the listed ones, in
    # the user's alone (0600): their counts and launches checked below too
    if len(drawn) != 2 or not all(s["heldout"] for s in drawn) or d["shapes"][-2:] != drawn:
        bad.append("e%d: drawn shapes %s" % (eid, [s["label"] for s in drawn]))
    if os.stat(os.path.join(lib, "decl.json")).st_mode & 0o077:
        bad.append("e%d: decl.json is readable by others" % eid)
    for s in d["shapes"]:
        sz = {a: int(b) for a, b in (x.split("=") for x in s["label"].split(","))}
        for f, v in want(p, sz).items():
            if s.get(f) != v:
                bad.append("e%d %s: %s %r, want %r" % (eid, s["label"], f, s.get(f), v))
    r = json.loads(rj or "{}")
    if r.get("isolation", {}).get("profile") != "judge":
        bad.append("e%d: the judge did not run as spak's judge (%s)" % (eid, r.get("isolation")))
    if any(u in ("block_x", "blocks") for u in r.get("unreached", [])):
        bad.append("e%d: a launch parameter read as unreached (%s)" % (eid, r.get("unreached")))
    if not ("no CUDA device" in (err or "") or status == "done"):
        bad.append("e%d: %s, %s" % (eid, status, (err or "")[-200:]))
print("; ".join(bad) if bad else "ok %d" % len(rows))
PY
)
    check "$k-cuda: spak run writes each evaluation's decl (cubins, every shape's counts and launch as the spec says) and runs spak-judge-cuda on it as a judge ($res)" '[ "$res" = "ok 2" ]'
done

# extern_c: a kernel written without extern "C" (as Kernel Tuner's test
# kernels are) is built inside extern "C" { } and keeps its plain name; the
# unit names the source by its base name, so a copy of the tree elsewhere
# gets the same cache keys (a cache built here serves the GPU machine)
E1=$T/ec1
mkdir -p "$E1"
cat >"$E1/scale.cu" <<'CU'
__global__ void scale(float *y, const float *x, float a, int n) {
    int i = blockIdx.x * block_size_x + threadIdx.x;
    if (i < n) y[i] = a * x[i];
}
CU
cat >"$E1/ref.cu" <<'CU'
__global__ void scale_ref(float *y, const float *x, float a, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = a * x[i];
}
CU
cat >"$E1/ec.spak" <<'SPAK'
system EC {
    problem {
        target: "cuda"
        source: "scale.cu"
        shapes: ["n=1000"]
    }
    kernel scale {
        language: "cuda"
        extern_c: true
        entry: "scale"
        sizes: ["n"]
        grid: [ceil_div(n, block_size_x), 1, 1]
        block: [block_size_x, 1, 1]
        arg y { type: "f32", count: n, access: "write", output: true, tolerance: 1e-6 }
        arg x { type: "f32", count: n, access: "read" }
        arg a { type: "f32", value: 2.5 }
        arg len { type: "i32", value: n }
        reference { source: "ref.cu", entry: "scale_ref" }
    }
    tuning_space {
        block_size_x: [64, 128]
    }
    trace_schema {
        variant TraceItem {
            case Performance { time_ms: float }
        }
    }
    engineering_loop L {
        measure {
            metric: "time_ms"
            objective: minimize
        }
    }
}
SPAK
chmod -R a+rX "$E1"
cp -a "$E1" "$T/ec2"
o1=$("$S" build --home "$T/eh" "$E1/ec.spak" 2>&1)
o2=$("$S" build --home "$T/eh" "$T/ec2/ec.spak" 2>&1)
a1=$(grep -o '[^ ]*\.cubin$' <<<"$o1" | tr '\n' ' ')
a2=$(grep -o '[^ ]*\.cubin$' <<<"$o2" | tr '\n' ' ')
check "extern_c: both points build ($a1)" '[ "$(wc -w <<<"$a1")" -eq 2 ]'
check "extern_c: a copy of the tree elsewhere builds to the same cache keys" '[ -n "$a1" ] && [ "$a1" = "$a2" ]'
c1=${a1%% *}
check_run "extern_c: the kernel keeps its plain name in the cubin (scale)" \
    bash -c 'readelf -sW "$1" 2>/dev/null | grep -qE "FUNC .* scale\$"' _ "$c1"
reflog=$(grep -l "ec1/ref.cu inside extern" "$T"/eh/cache/build/*.log 2>/dev/null | head -1)
check_run "extern_c: the reference too (scale_ref)" \
    bash -c 'readelf -sW "${1%.log}.cubin" 2>/dev/null | grep -qE "FUNC .* scale_ref\$"' _ "$reflog"
sed -i 's/extern_c: true/extern_c: false/' "$E1/ec.spak"
o3=$("$S" build --home "$T/eh" "$E1/ec.spak" 2>&1)
c3=$(grep -o '[^ ]*\.cubin$' <<<"$o3" | head -1)
check_run "without extern_c the same kernel's name is mangled (what the judge could not find)" \
    bash -c 'readelf -sW "$1" 2>/dev/null | grep -qE "FUNC .* _Z5scale" && ! readelf -sW "$1" | grep -qE "FUNC .* scale\$"' _ "$c3"
echo "1..$n"
