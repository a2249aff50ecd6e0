#!/usr/bin/env bash
# kernels/cuda/loop_on_gpu.sh FAMILY DIR - the spak loop over examples/FAMILY-h100.spak
# (FAMILY gemm or fmha) on the GPU machine, with everything built on the development
# machine and carried in DIR (kernels/cuda/device-kit.sh pack DIR makes all but the cache):
#   DIR/spak, DIR/spak-harness-cuda{,-fmha}, DIR/spak-runner-cuda      (build/ copies, `make`)
#   DIR/cuda/FAMILY/baseline-*.so                                       (the judge's baseline)
#   DIR/home/cache/build          (`build/spak build --home DIR/home examples/FAMILY-h100.spak`)
# Copies the tree to /tmp/w (reachable by the sandbox uid 65534), runs `spak run` with a
# fresh home there (only the build cache copied in: nothing may compile on the GPU machine),
# and writes device.txt, run.json, run.log, show.txt, show.json, cost.txt (where the time went:
# kernels/cuda/cost-table.py) and FAMILY-loop.tgz (spak.db, runs,
# the device ceilings) to $OUT. Env: RUN_ARGS (extra `spak run` options, e.g.
# "--strategy grid" or "--jobs 4"), LOOP_TIMEOUT (seconds, default 360), BUILD_HERE=1
# (no cache copied and no cache check: the run builds its candidates with nvcc in
# the build sandbox on this machine, side by side with the measurements under
# --jobs; DIR/home/cache/build may then be absent).
set -u
FAM=${1:?usage: loop_on_gpu.sh gemm|fmha DIR}
D=${2:?usage: loop_on_gpu.sh gemm|fmha DIR}
case "$FAM" in gemm) JUDGE=spak-harness-cuda ;; fmha) JUDGE=spak-harness-cuda-fmha ;;
    *) echo "loop_on_gpu.sh: family '$FAM' is not gemm or fmha" >&2; exit 2 ;; esac
OUT=${OUT:-/tmp/out-$FAM}; mkdir -p "$OUT"
{
date -u +%Y-%m-%dT%H:%M:%SZ
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu --format=csv
uname -r; id
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
# the ld cache: cuBLAS, cuDNN and the libraries the kit carried (device-libs.sh)
. "$(dirname "$0")/device-libs.sh"
spak_device_libs "$D/lib" "$D/spak" "$D/$JUDGE" "$D/spak-runner-cuda"
W=/tmp/w-$FAM; rm -rf "$W"; mkdir -p "$W/build/cuda" "$W/.spak/cache"
cp -a examples kernels "$W/"
cp "$D/spak" "$D/$JUDGE" "$D/spak-runner-cuda" "$W/build/"
cp -a "$D/cuda/$FAM" "$W/build/cuda/"
[ "${BUILD_HERE:-0}" = 1 ] || cp -a "$D/home/cache/build" "$W/.spak/cache/"
chmod -R a+rX "$W"; chmod 755 "$W"
cd "$W" || exit 1
if [ "${BUILD_HERE:-0}" = 1 ]; then
    echo "== no build cache: the run compiles here ($(nproc) CPUs)"
else
    echo "== spak build (cache check: nothing may compile here)"; build/spak build --home "$W/.spak" "examples/$FAM-h100.spak" 2>&1 | tail -12
fi
echo "== spak run"
t0=$(date +%s)
# shellcheck disable=SC2086
timeout "${LOOP_TIMEOUT:-360}" build/spak run --home "$W/.spak" --json ${RUN_ARGS:-} "examples/$FAM-h100.spak" > "$OUT/run.json" 2> "$OUT/run.log"
echo "rc=$? wall=$(( $(date +%s) - t0 ))s"
tail -c 4000 "$OUT/run.log"; echo
RUN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$OUT/run.json" 2>/dev/null)
[ -n "$RUN" ] || RUN=$(ls "$W/.spak/runs" | tail -1)
build/spak show --home "$W/.spak" "$RUN" > "$OUT/show.txt" 2>&1
# where each evaluation's time went (issue 18): the engine's steps and the judge's phases
build/spak show --home "$W/.spak" --json "$RUN" > "$OUT/show.json" 2>&1
echo "== cost"; python3 kernels/cuda/cost-table.py "$OUT/show.json" | tee "$OUT/cost.txt"
tar czf "$OUT/$FAM-loop.tgz" -C "$W/.spak" spak.db runs cache/device 2>/dev/null
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,clocks_throttle_reasons.active --format=csv >> "$OUT/device.txt" 2>&1
echo "== show"; head -c 5000 "$OUT/show.txt"
