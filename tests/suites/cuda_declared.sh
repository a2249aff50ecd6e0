#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/cuda_declared.sh BUILD_DIR - spak-judge-cuda (issue 17,
# docs/declared-cuda.md) without a GPU:
#  - every example kernel (examples/declared/*/*.cu) and every cheat of the
#    declared judge (tests/trust_gpu/declared/*.cu) compiles to an sm_90a
#    cubin, warning-free, without register spills, with its extern "C" entry;
#  - each example's decl (examples/declared/*/cuda.decl.json, filled in) is
#    accepted up to the device: the judge says "no CUDA device" and exits 2;
#  - decls it cannot honour are refused before the device, one line naming
#    the field (unknown type, a template entry, a missing reference image);
#  - declared_table.py's checks on hand-written records, declared-check.sh's
#    syntax.
# The GPU run itself is kernels/cuda/declared-check.sh on the GPU machine.
# TAP output. Skips the nvcc parts (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

check_run "declared_table.py: the run checks catch what they must (no device)" \
    bash -c 'o=$(python3 kernels/cuda/declared_table.py --self-test 2>&1) || { sed "s/^/# /" <<<"$o"; exit 1; }'
check_run "declared-check.sh parses (bash -n)" bash -n kernels/cuda/declared-check.sh

NVCC=$(command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then
    skip "the declared kernels compile to cubins" "no nvcc"
    echo "1..$n"
    exit 0
fi
T=$(mktemp -d /tmp/spak-cuda-declared.XXXXXX)
trap 'rm -rf "$T"' EXIT
srcs=$(ls examples/declared/*/*.cu tests/trust_gpu/declared/*.cu)
pids=()
for f in $srcs; do
    o=$T/$(echo "${f%.cu}" | tr / _)
    "$NVCC" -cubin -arch=sm_90a -O3 -Werror all-warnings -Xptxas -v -o "$o.cubin" "$f" >"$o.txt" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for f in $srcs; do
    o=$T/$(echo "${f%.cu}" | tr / _)
    entry=$(sed -n 's/.*extern "C" __global__ void \([A-Za-z_0-9]*\)(.*/\1/p' "$f" | head -1)
    if [ ! -s "$o.cubin" ]; then
        notok "$f compiles to an sm_90a cubin" "$(head -5 "$o.txt")"
        continue
    fi
    ok "$f compiles to an sm_90a cubin, warning-free"
    # a cubin is an ELF file: the kernel is a FUNC symbol of its own name (cuModuleGetFunction's)
    check_run "$f: its entry $entry is in the cubin, unmangled" \
        bash -c 'readelf -sW "$1" 2>/dev/null | grep -qE "FUNC .* $2\$"' _ "$o.cubin" "$entry"
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
echo "1..$n"
