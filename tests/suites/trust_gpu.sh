#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/trust_gpu.sh BUILD_DIR - the GPU adversary's suite where there
# is no GPU (tests/trust_gpu/; the run itself, tests/trust_gpu/run.sh BUILD
# OUT, needs the GPU machine):
#  - the verdicts of tests/trust_gpu/check.py on hand-written judge outputs,
#    and expect.txt, README.md and the candidates listing the same names
#    (run.sh --self-test), and the driver end to end on fake judges;
#  - every candidate compiles for sm_90a with the rungs' flags (run.sh
#    --build-only, into BUILD_DIR/trust_gpu or build/trust_gpu when that is
#    there, reused while fresh) and exports its family's two required
#    symbols. Skipped without nvcc.
# TAP output.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
cd "$(dirname "$0")/../.."
B=${1:-build}

while IFS= read -r line; do
    case "$line" in
    "ok "*) ok "self-test: ${line#ok * - }" ;;
    "not ok "*) notok "self-test: ${line#not ok * - }" ;;
    "    "*) echo "#$line" ;;
    esac
done < <(bash tests/trust_gpu/run.sh --self-test)

NVCC=$(command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then
    skip "the GPU adversary's candidates compile for sm_90a" "no nvcc"
else
    out=$B/trust_gpu
    # a second build dir (build/asan) reuses build/'s objects: nvcc products do
    # not depend on the host build's flags, and 41 compiles take minutes
    [ ! -d "$out/so" ] && [ -d build/trust_gpu/so ] && out=build/trust_gpu
    NVCC=$NVCC bash tests/trust_gpu/run.sh --build-only "$out" >"$B/trust_gpu.build.log" 2>&1
    for f in tests/trust_gpu/*.cu; do
        name=$(basename "$f" .cu) so=$out/so/$(basename "$f" .cu).so
        case "$name" in g_* | ctl_g_*) fam=gemm ;; *) fam=fmha ;; esac
        if [ -s "$so" ]; then
            syms=$(nm -D --defined-only "$so" 2>/dev/null)
            if grep -qw "spak_$fam" <<<"$syms" && grep -qw "spak_${fam}_info" <<<"$syms"; then
                ok "$name compiles for sm_90a and exports spak_$fam, spak_${fam}_info"
            else
                notok "$name exports spak_$fam and spak_${fam}_info" "$(grep spak_ <<<"$syms")"
            fi
        else
            notok "$name compiles for sm_90a" "$(head -5 "$out/build/$name.log" 2>/dev/null)"
        fi
    done
fi
echo "1..$n"
