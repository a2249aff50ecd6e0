#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/cuda_fmha_compile.sh BUILD_DIR - the CUDA FMHA target without a GPU:
#  - every FMHA rung (kernels/cuda/fmha/rung*.cu) compiles for sm_90a into a
#    shared object (reusing the ones kernels/cuda/fmha/fmha.mk built in BUILD_DIR
#    or build/, else compiling them here in parallel), exports the ABI symbols
#    of kernels/cuda/fmha/abi.h, and has no register spills;
#  - cuDNN's SDPA graph (cudnn-dry) finalizes up to the operation graph for
#    MHA/GQA, causal or not, fp16/bf16 (a device is needed past that);
#  - spak-harness-cuda-fmha exists, rejects bad usage, and without a device
#    says "no CUDA device" and exits 2; the GPU run is skipped then.
# TAP output. Skips everything (with a reason) when nvcc is absent.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../cuda_rungs.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

cuda_suite fmha spak-harness-cuda-fmha "no register spills, no stack (ptxas)" '[1-9][0-9]* bytes (spill (stores|loads)|stack frame)'

# Parameter variants compile too (the loop's tuning space).
vdir=build/cuda-test/fmha-variants # shared by the build and build/asan runs; rebuilt only when stale
mkdir -p "$vdir"
variants="rung3_mma:WARPS=8 rung3_mma:BLOCK_N=32 rung3_mma:STAGES=3 rung3_mma:WARPS=8,BLOCK_N=128 rung4_wgmma:BLOCK_N=64 rung4_wgmma:STAGES=2 rung4_wgmma:CONSUMERS=2"
pids=()
for rv in $variants; do
    r=${rv%%:*} v=${rv#*:}
    [ -f "kernels/cuda/fmha/$r.cu" ] || continue
    defs=$(echo "$v" | tr ',' ' ' | sed 's/\([A-Z_]*=[0-9]*\)/-D\1/g')
    nm_=$(echo "${r}_$v" | tr ',=' '__') # no ',' in output names: fatbinary splits its options on it
    fresh=1
    for src in "kernels/cuda/fmha/$r.cu" kernels/cuda/fmha/*.cuh; do
        [ "$vdir/$nm_.so" -nt "$src" ] || fresh=0
    done
    [ "$fresh" -eq 1 ] && continue
    # shellcheck disable=SC2086
    "$NVCC" -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror \
        -shared -Xcompiler -fPIC -Xptxas -v $defs -o "$vdir/$nm_.so" "kernels/cuda/fmha/$r.cu" >"$vdir/$nm_.log" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for rv in $variants; do
    r=${rv%%:*} v=${rv#*:}
    [ -f "kernels/cuda/fmha/$r.cu" ] || continue
    nm_=$(echo "${r}_$v" | tr ',=' '__')
    check_run "$r -D $v compiles without spills" \
        bash -c 'test -s "$1" && ! grep -E "[1-9][0-9]* bytes spill" "$2" >/dev/null' _ "$vdir/$nm_.so" "$vdir/$nm_.log"
done

# rung 3's swizzle / ldmatrix / mma fragment bookkeeping, simulated on the CPU.
if command -v python3 >/dev/null 2>&1; then
    out=$(python3 kernels/cuda/fmha/check_fragments.py 2>&1); rc=$?
    check_run "rung3 fragments: swizzled ldmatrix yields the mma.sync layouts, conflict-free ($(grep -c '^ok' <<<"$out") checks)" test "$rc" -eq 0
    out=$(timeout 120 python3 kernels/cuda/fmha/emulate_rung3.py 2>&1); rc=$?
    check_run "rung3 algorithm emulated thread by thread matches softmax(QK^T)V and the LSE ($(grep -c '^ok' <<<"$out") cases: tails, causal, D 64/128)" test "$rc" -eq 0
else
    skip "rung3 fragments simulated" "no python3"
    skip "rung3 algorithm emulated" "no python3"
fi

# cuDNN's graph, as far as it goes without a device.
DRY=""
for d in "$B" build; do [ -x "$d/cuda/fmha/cudnn-dry" ] && { DRY=$d/cuda/fmha/cudnn-dry; break; }; done
if [ -z "$DRY" ]; then
    skip "cudnn SDPA graph builds" "cudnn-dry not built (no cuDNN headers?)"
else
    for c in "2x4x128x64 fp16" "2x4x128x64c bf16 lse" "2x8x777x128g2c fp16 lse" "1x4x100x128g1 bf16"; do
        # shellcheck disable=SC2086
        out=$(timeout 120 "$DRY" $c 2>&1)
        if grep -q "^DRY OK" <<<"$out"; then ok "cudnn SDPA graph: $c ($(tail -1 <<<"$out" | cut -c1-60))"
        elif grep -q "dlopen" <<<"$out"; then skip "cudnn SDPA graph: $c" "libcudnn not loadable here"
        else notok "cudnn SDPA graph: $c: $(tail -1 <<<"$out")"; fi
    done
fi

# cuDNN behind the FMHA ABI: the baseline .so the judge runs in a runner.
BASE_SO=""
for d in "$B" build; do [ -f "$d/cuda/fmha/baseline-cudnn.so" ] && { BASE_SO=$d/cuda/fmha/baseline-cudnn.so; break; }; done
if [ -z "$BASE_SO" ] || ! command -v python3 >/dev/null 2>&1; then
    skip "baseline-cudnn.so declares the FMHA ABI" "not built (no cuDNN headers?) or no python3"
else
    abi_py='
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
class Info(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_int), ("name", ctypes.c_char_p), ("dtypes", ctypes.c_uint),
                ("head_dims", ctypes.c_uint)] + \
        [(n, ctypes.c_int) for n in ("s_multiple", "max_s", "causal", "gqa", "lse", "min_sm")]
lib.spak_fmha_info.restype = ctypes.POINTER(Info)
lib.spak_fmha_workspace.restype = ctypes.c_size_t
i = lib.spak_fmha_info().contents
print("info", i.abi_version, i.dtypes, i.head_dims, i.s_multiple, i.max_s, i.causal, i.gqa, i.lse)
w = lib.spak_fmha_workspace(*[int(a) for a in sys.argv[2:]])
print("workspace", "refused" if w == (1 << 64) - 1 else w)
'
    # fp16|bf16 = 6, D 64|128 = 3, any S, causal, GQA, the LSE
    want="info 1 6 3 1 0 1 1 1"
    # outside its declarations (D=256): refused (SIZE_MAX) before any graph is built (nothing on stderr)
    o256=$(python3 -c "$abi_py" "$BASE_SO" 1 2 2 64 256 0 1 2>"$B/cuda-test-baseline.err"); e256=$(cat "$B/cuda-test-baseline.err")
    # a declared shape: a plan's workspace on a device, else refused with cuDNN's reason on stderr
    o64=$(python3 -c "$abi_py" "$BASE_SO" 1 4 2 128 64 1 2 2>&1)
    rm -f "$B/cuda-test-baseline.err"
    if grep -q "^$want$" <<<"$o256" && grep -q "workspace refused" <<<"$o256" && [ -z "$e256" ] &&
       { grep -q "workspace [0-9]" <<<"$o64" || grep -q "no plan: cudnn" <<<"$o64"; }; then
        ok "baseline-cudnn.so declares the FMHA ABI (fp16/bf16, D 64/128, causal, GQA, LSE), refuses D=256, plans or names cuDNN's reason"
    else
        notok "baseline-cudnn.so declares the FMHA ABI" "$o256" "$e256" "$o64"
    fi
fi

cuda_harness spak-harness-cuda-fmha
if [ -z "$H" ]; then
    cudnn_h=$(ls "$(dirname "$NVCC")/../include/cudnn.h" /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h 2>/dev/null | head -1)
    if [ -z "$cudnn_h" ]; then
        skip "spak-harness-cuda-fmha" "no cuDNN headers (kernels/cuda/fmha/fmha.mk skips the harness)"
    else
        notok "spak-harness-cuda-fmha exists (make builds it)"
    fi
    echo "1..$n"
    exit 0
fi
ok "spak-harness-cuda-fmha exists ($H)"
cuda_harness_usage fmha 1x2x64
out=$("$H" --family fmha --candidate x.so --seed 1 --shapes 1x6x64x64g4 2>&1); rc=$?
check_run "harness: Hkv not dividing H is a usage error" bash -c '[ "$1" -eq 2 ] && grep -q "divide" <<<"$2"' _ "$rc" "$out"
out=$("$H" --family gemm --candidate x.so --seed 1 2>&1); rc=$?
check_run "harness: --family gemm refused" test "$rc" -eq 2
so3=$sodir/rung3_mma.so
out=$(timeout 300 "$H" --family fmha --candidate "$so3" --seed 1 --shapes 1x2x200x64c,1x4x130x128g2 --check-only 2>&1); rc=$?
cuda_gpu_run "gpu run: rung3 passes 1x2x200x64c and 1x4x130x128g2" '[ "$(grep -c "\"passed\":true" <<<"$1")" -eq 2 ]'
# the judge's timed rounds: the candidate and cuDNN each in a runner, every call checked
out=$(timeout 300 "$H" --family fmha --candidate "$so3" --seed 1 --shapes 1x4x256x64c --reps 3 --warmup 1 2>&1); rc=$?
cuda_gpu_run "gpu run: rung3 timed by the judge (verdict ok, batches of calls, sampled rows checked)" \
    'grep -q "\"type\":\"Performance\".*\"verdict\":\"ok\"" <<<"$1" && grep -q "\"calls_per_batch\":[1-9]" <<<"$1" &&
     grep -q "\"passed\":true.*sampled rows" <<<"$1"'
# a session: rung4 and rung3 side by side with cuDNN; then rung4 alone, with the interval rule's fields
out=$(timeout 600 "$H" --family fmha --candidate "$sodir/rung4_wgmma.so" --candidate "$so3" --seed 1 --shapes 2x8x2048x128 --heldout 1x2x200x64c --reps 3 2>&1); rc=$?
cuda_gpu_run "gpu run: rung4 and rung3 in one session (session, rival, versus, 10 rounds at least, no Analysis)" \
    'python3 kernels/cuda/session_table.py --check /dev/stdin <<<"$1"'
out=$(timeout 300 "$H" --family fmha --candidate "$sodir/rung4_wgmma.so" --seed 1 --shapes 2x8x2048x128 --reps 3 2>&1); rc=$?
cuda_gpu_run "gpu run: rung4 alone: ratio_ci, its level and precision, every round's samples" \
    'python3 kernels/cuda/session_table.py --check /dev/stdin <<<"$1"'
echo "1..$n"
