#!/usr/bin/env bash
# kernels/cuda/gpu-checks.sh KIT STEP... - the checks that need a GPU, on the
# GPU machine, run from the repository's root with a kit made here
# (kernels/cuda/device-kit.sh pack DIR; KIT is DIR or DIR.tgz). Each STEP runs
# under its own wall limit, its output under $OUT/STEP (OUT defaults to a
# temporary folder), and the script ends with one table: step, exit status,
# seconds. The steps, in the order they are given:
#
#   adversary   tests/trust_gpu/run.sh (TG_TIMEOUT default 100: a shape's limit
#               25 s, what a hang costs): every GPU cheat and control through the
#               GEMM and FMHA judges (nvcc builds them there); TG_ONLY= passes
#   loops       kernels/cuda/loop_on_gpu.sh gemm, then fmha, building on the
#               GPU machine (BUILD_HERE=1, RUN_ARGS default "--jobs 4")
#   gemm-loop | fmha-loop   one of the two
#   aa-pin      the GEMM 1024^3 A/A calibration (kernels/cuda/aa-calibration.sh,
#               AA_RUNS runs, default 6) unpinned, then with the judge and its
#               runners on one CPU (PIN, default 3): docs/aa-calibration.md
#   declared    kernels/cuda/declared-check.sh (builds the declared judge there)
#
# STEP_TIMEOUT (seconds a step, default 540) keeps one step from taking the
# whole of a device call. Exit 0 when every step exited 0.
set -u
cd "$(dirname "$0")/../.." || exit 2
usage() {
    echo "usage: kernels/cuda/gpu-checks.sh KIT adversary|loops|gemm-loop|fmha-loop|aa-pin|declared..." >&2
    exit 2
}
[ $# -ge 2 ] || usage
KIT=$1
shift
for step in "$@"; do # every step known before any runs: a typo costs no device time
    case "$step" in adversary | loops | gemm-loop | fmha-loop | aa-pin | declared) ;;
    *) echo "gpu-checks: unknown step '$step'" >&2; usage ;;
    esac
done
bash kernels/cuda/device-kit.sh setup "$KIT" || echo "gpu-checks: a library is missing: the steps that need it will fail"
K=${KIT%.tgz}
K=$(cd "$K" && pwd) || exit 2
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/spak-gpu-checks.XXXXXX")}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -1 | tee "$OUT/device.txt"
head -1 "$K/KIT" 2>/dev/null | sed 's/^/kit commit /'
TO=${STEP_TIMEOUT:-540}
table=()
fails=0
for step in "$@"; do
    o=$OUT/$step
    mkdir -p "$o"
    t0=$(date +%s)
    case "$step" in
    adversary) TG_TIMEOUT=${TG_TIMEOUT:-100} timeout "$TO" bash tests/trust_gpu/run.sh "$K" "$o" >"$o/log.txt" 2>&1 ;;
    loops) OUT=$o/gemm BUILD_HERE=1 RUN_ARGS=${RUN_ARGS:---jobs 4} timeout "$TO" bash kernels/cuda/loop_on_gpu.sh gemm "$K" >"$o/gemm.txt" 2>&1 &&
        OUT=$o/fmha BUILD_HERE=1 RUN_ARGS=${RUN_ARGS:---jobs 4} timeout "$TO" bash kernels/cuda/loop_on_gpu.sh fmha "$K" >"$o/fmha.txt" 2>&1 ;;
    gemm-loop | fmha-loop)
        OUT=$o BUILD_HERE=1 RUN_ARGS=${RUN_ARGS:---jobs 4} timeout "$TO" bash kernels/cuda/loop_on_gpu.sh "${step%-loop}" "$K" >"$o/log.txt" 2>&1 ;;
    aa-pin) { OUT=$o/free FAMILIES=gemm GEMM_SHAPES=1024x1024x1024 timeout "$TO" bash kernels/cuda/aa-calibration.sh "$K" "${AA_RUNS:-6}" &&
        OUT=$o/pin PIN=${PIN:-3} FAMILIES=gemm GEMM_SHAPES=1024x1024x1024 timeout "$TO" bash kernels/cuda/aa-calibration.sh "$K" "${AA_RUNS:-6}"; } >"$o/log.txt" 2>&1 ;;
    declared) timeout "$TO" bash kernels/cuda/declared-check.sh "$o/build" "$o" >"$o/log.txt" 2>&1 ;;
    esac
    rc=$?
    [ "$rc" -eq 0 ] || fails=$((fails + 1))
    table+=("$(printf '| %-10s | %4s | %5s |' "$step" "$rc" "$(($(date +%s) - t0))")")
    tail -5 "$o"/*.txt 2>/dev/null | tail -12
done
echo
echo "| step       | exit | secs  |"
echo "| ---------- | ---- | ----- |"
printf '%s\n' "${table[@]}"
echo "outputs: $OUT"
[ "$fails" -eq 0 ]
