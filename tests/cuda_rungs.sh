# tests/cuda_rungs.sh - the rung checks both CUDA compile suites share
# (tests/suites/cuda_compile.sh for GEMM, cuda_fmha_compile.sh for FMHA);
# sourced after tests/tap.sh, from the repository root, with $B the build dir.
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
#
#   cuda_rungs_or_end FAMILY HARNESS SPILL_NAME SPILL_RE   cuda_rungs; without
#                              nvcc the suite ends there (HARNESS skipped, the plan
#                              printed, exit 0)
#   cuda_built NAME            prints $B/NAME or build/NAME, the first that is
#                              executable; returns 1 when neither is
#   cuda_harness_usage H FAMILY BAD_SHAPE   harness H without --candidate, and
#                              with the shape BAD_SHAPE, is a usage error (exit 2)
#   cuda_device_or_skip OUT RC NAME COMMAND...   after a harness run that wrote
#                              OUT and exited RC: without a device, OUT says
#                              "no CUDA device", RC is 2 and the GPU run is
#                              skipped; with one, test NAME is COMMAND
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

cuda_built() {
    local d
    for d in "$B" build; do
        [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}

cuda_harness_usage() {
    local out rc
    out=$("$1" --family "$2" --seed 1 2>&1); rc=$?
    check_run "harness: missing --candidate is a usage error (exit 2)" test "$rc" -eq 2 -a -n "$out"
    out=$("$1" --family "$2" --candidate x.so --seed 1 --shapes "$3" 2>&1); rc=$?
    check_run "harness: bad shape is a usage error" bash -c '[ "$1" -eq 2 ] && grep -q "bad shape" <<<"$2"' _ "$rc" "$out"
}

cuda_device_or_skip() {
    if grep -q "no CUDA device" <<<"$1"; then
        check_run "harness: without a device, says 'no CUDA device' and exits 2" test "$2" -eq 2
        skip "gpu run" "no CUDA device"
    else
        local name=$3
        shift 3
        check_run "$name" "$@"
    fi
}

cuda_rungs_or_end() {
    if ! cuda_rungs "$1" "$3" "$4"; then
        skip "$2" "no nvcc"
        echo "1..$n"
        exit 0
    fi
}
