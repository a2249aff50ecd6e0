# tests/cuda_rungs.sh - the rung and harness checks both CUDA compile suites
# share (tests/suites/cuda_compile.sh for GEMM, cuda_fmha_compile.sh for
# FMHA); sourced after tests/tap.sh, from the repository root, with $B the
# build dir.
#
#   cuda_suite FAMILY HARNESS SPILL_NAME SPILL_RE
#
# cuda_rungs below; without nvcc it also skips HARNESS, ends the TAP plan and
# exits the suite.
#
#   cuda_rungs FAMILY SPILL_NAME SPILL_RE
#
# Sets $NVCC, $rungs (kernels/cuda/FAMILY/rung*.cu without .cu) and $sodir.
# Without nvcc: one skip per rung, returns 1 (the suite skips its harness and
# ends). Otherwise each rung's shared object comes from make (BUILD_DIR's or
# build/'s cuda/FAMILY, when every .so is newer than its .cu and the family's
# candidate.cuh) or is compiled here in parallel with the make fragments'
# flags; then per rung: it compiled, it exports spak_FAMILY, spak_FAMILY_info
# and spak_FAMILY_kernel_info, it holds sm_90a code (when cuobjdump is
# there), and its ptxas report has no line matching SPILL_RE (test SPILL_NAME).
cuda_rungs() {
    local fam=$1 spill_name=$2 spill_re=$3 d r so syms cob rep pids=()
    NVCC=$(command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
    rungs=$(ls kernels/cuda/"$fam"/rung*.cu 2>/dev/null | xargs -n1 basename | sed 's/\.cu$//')
    if [ -z "$NVCC" ]; then
        for r in $rungs; do skip "$r compiles for sm_90a" "no nvcc"; done
        return 1
    fi
    # The make-built artifacts when fresh, else a local compile (same flags).
    sodir=""
    for d in "$B" build; do
        [ -d "$d/cuda/$fam" ] || continue
        sodir=$d/cuda/$fam
        for r in $rungs; do
            if [ ! -f "$sodir/$r.so" ] || [ "kernels/cuda/$fam/$r.cu" -nt "$sodir/$r.so" ] ||
               [ "kernels/cuda/$fam/candidate.cuh" -nt "$sodir/$r.so" ]; then sodir=""; break; fi
        done
        [ -n "$sodir" ] && break
    done
    if [ -z "$sodir" ]; then
        sodir=$B/cuda-test/$fam
        mkdir -p "$sodir"
        for r in $rungs; do
            "$NVCC" -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -Werror all-warnings \
                -Xcompiler -Wall,-Wextra,-Werror -shared -Xcompiler -fPIC -Xptxas -v \
                -o "$sodir/$r.so" "kernels/cuda/$fam/$r.cu" >"$sodir/$r.ptxas.txt" 2>&1 &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p"; done
    fi
    cob=$(command -v cuobjdump 2>/dev/null || true)
    [ -z "$cob" ] && [ -x "$(dirname "$NVCC")/cuobjdump" ] && cob=$(dirname "$NVCC")/cuobjdump
    for r in $rungs; do
        so=$sodir/$r.so
        check_run "$r compiles for sm_90a ($so)" test -s "$so"
        if [ -s "$so" ]; then
            syms=$(nm -D --defined-only "$so" 2>/dev/null)
            check_run "$r exports spak_$fam, spak_${fam}_info, spak_${fam}_kernel_info" \
                bash -c 'for s in "spak_$2" "spak_$2_info" "spak_$2_kernel_info"; do grep -qw "$s" <<<"$1" || exit 1; done' _ "$syms" "$fam"
            if [ -n "$cob" ]; then
                check_run "$r holds sm_90a machine code" bash -c '"$1" --list-elf "$2" 2>/dev/null | grep -q sm_90a' _ "$cob" "$so"
            fi
        fi
        rep=$sodir/$r.ptxas.txt
        if [ -f "$rep" ]; then
            check_run "$r: $spill_name" bash -c '! grep -E "$2" "$1" >/dev/null' _ "$rep" "$spill_re"
        fi
    done
    return 0
}

cuda_suite() {
    if ! cuda_rungs "$1" "$3" "$4"; then
        skip "$2" "no nvcc"
        echo "1..$n"
        exit 0
    fi
}

# cuda_harness NAME: sets $H to $B's or build/'s harness NAME, "" when
# neither has it.
cuda_harness() {
    local d
    H=""
    for d in "$B" build; do [ -x "$d/$1" ] && { H=$d/$1; break; }; done
}

# cuda_harness_usage FAMILY BAD_SHAPE: $H refuses a run without --candidate
# and one with the shape BAD_SHAPE (exit 2, "bad shape") - two tests.
cuda_harness_usage() {
    local out rc
    out=$("$H" --family "$1" --seed 1 2>&1); rc=$?
    check_run "harness: missing --candidate is a usage error (exit 2)" test "$rc" -eq 2 -a -n "$out"
    out=$("$H" --family "$1" --candidate x.so --seed 1 --shapes "$2" 2>&1); rc=$?
    check_run "harness: bad shape is a usage error" bash -c '[ "$1" -eq 2 ] && grep -q "bad shape" <<<"$2"' _ "$rc" "$out"
}

# cuda_gpu_run NAME CHECK: after a harness run on a rung (its output in $out,
# its status in $rc): without a device it said "no CUDA device" and exited 2,
# and the GPU test is skipped; with one, CHECK (bash code, the output in $1)
# is the test NAME.
cuda_gpu_run() {
    if grep -q "no CUDA device" <<<"$out"; then
        check_run "harness: without a device, says 'no CUDA device' and exits 2" test "$rc" -eq 2
        skip "gpu run" "no CUDA device"
    else
        check_run "$1" bash -c "$2" _ "$out"
    fi
}
