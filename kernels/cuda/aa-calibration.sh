#!/usr/bin/env bash
# kernels/cuda/aa-calibration.sh BUILD [RUNS] - an A/A calibration of the GPU
# judges' ratio interval (the twin of scripts/aa-calibration.sh): the
# baseline itself as the candidate (cuBLAS's baseline-cublas.so through
# spak-harness-cuda, cuDNN's baseline-cudnn.so through spak-harness-cuda-fmha),
# RUNS times each (default 10), so both sides run the same code and the true
# ratio is 1. Prints one Markdown table a family (scripts/aa_table.py): how
# often the 95% interval covered 1, its median half-width, the runs' ratios,
# and the spread between runs that the within-run intervals miss. Runs on the
# GPU machine; builds nothing. Knobs: GEMM_SHAPES, FMHA_SHAPES, FAMILIES
# (default "gemm fmha"), OUT (the records, default a temporary folder), PIN
# (a CPU number: each judge run under `taskset -c PIN`, so the judge and the
# runners it starts, which inherit its affinity, share that one CPU: the
# experiment of docs/aa-calibration.md's fifth sitting, whether the 1024^3
# spread between runs follows the CPUs the processes land on).
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${1:?usage: aa-calibration.sh BUILD [RUNS]}
RUNS=${2:-10}
GS=${GEMM_SHAPES:-4096x4096x4096,1024x1024x1024}
FS=${FMHA_SHAPES:-4x16x4096x128,4x16x1024x128c}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/spak-aa-gpu.XXXXXX")}
mkdir -p "$OUT"
dev=$(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>&1 | head -1)
for fam in ${FAMILIES:-gemm fmha}; do
    case $fam in
        gemm) h=$B/spak-harness-cuda so=$B/cuda/gemm/baseline-cublas.so shapes=$GS held=129x263x72 dt=bf16 ;;
        fmha) h=$B/spak-harness-cuda-fmha so=$B/cuda/fmha/baseline-cudnn.so shapes=$FS held=1x4x200x64c dt=fp16 ;;
        *) echo "aa-calibration: unknown family '$fam'" >&2; exit 2 ;;
    esac
    [ -x "$h" ] && [ -e "$so" ] || { echo "aa-calibration: $h or $so is missing (make first)" >&2; exit 2; }
    t0=$(date +%s)
    for i in $(seq 1 "$RUNS"); do
        ${PIN:+taskset -c "$PIN"} "$h" --family "$fam" --candidate "$so" --seed "$i" --dtype "$dt" --shapes "$shapes" --heldout "$held" \
            >"$OUT/$fam.$i.out" 2>"$OUT/$fam.$i.err"
        grep '"type":"Performance"' "$OUT/$fam.$i.out"
    done >"$OUT/$fam.perf"
    if [ ! -s "$OUT/$fam.perf" ]; then
        echo "aa-calibration: $fam: no run gave a Performance record (the judge's stderr: $OUT/$fam.1.err)" >&2
        tail -3 "$OUT/$fam.1.err" >&2
        fails=$((${fails:-0} + 1))
        continue
    fi
    python3 scripts/aa_table.py "$OUT/$fam.perf" \
        "A/A calibration, $fam ($(basename "$so") against itself, $dt), $dev${PIN:+, pinned to CPU $PIN}, $(( $(date +%s) - t0 )) s" "$RUNS"
    echo
done
[ "${fails:-0}" -eq 0 ]
