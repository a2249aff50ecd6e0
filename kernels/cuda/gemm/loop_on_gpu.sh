#!/usr/bin/env bash
# kernels/cuda/gemm/loop_on_gpu.sh - the spak loop over examples/gemm-h100.spak on the GPU
# machine (issue 6), as run on 2026-11-23 (docs/results-gpu-gemm.md). Expects, carried
# from the development machine: .gpu/spak, .gpu/spak-harness-cuda (build/ copies),
# .gpu/lib (fallback libs for spak, optional) and .spak/cache/build (spak build).
# Copies the tree to /tmp/w (reachable by the sandbox uid 65534), runs spak run with a
# fresh home there, writes run.json, run.log, show.txt, spak.db, runs.tgz to $OUT.
set -u
OUT=${OUT:-/tmp/outA}; mkdir -p $OUT
R=$PWD
{
date -u +%Y-%m-%dT%H:%M:%SZ
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu --format=csv
ls -l /dev/nvidia* | head
/usr/local/cuda/bin/nvcc --version | tail -2; which nvcc
uname -r; id
} > $OUT/device.txt 2>&1
cat $OUT/device.txt
# spak's own libraries (sqlite, curl): from the carried folder where missing
if ldd .gpu/spak | grep -q 'not found'; then echo "spak: using carried libs"; ldd .gpu/spak | grep 'not found'; export LD_LIBRARY_PATH=$R/.gpu/lib; fi
# the harness runs in the sandbox with a clean environment: its libraries must be in the ld cache
if ldd .gpu/spak-harness-cuda | grep -q 'not found'; then
  ldd .gpu/spak-harness-cuda | grep 'not found'
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13.0/lib $(python3 -c 'import nvidia.cublas, os; print(os.path.dirname(nvidia.cublas.__file__) + "/lib")' 2>/dev/null); do
    [ -e "$d/libcublas.so.13" ] && echo "$d" >> /etc/ld.so.conf.d/zz-spak-cuda.conf
  done
  ldd .gpu/spak-harness-cuda | grep -q 'libjansson.*not found' && cp .gpu/lib/libjansson.so.4 /usr/local/lib/
  ldconfig; echo "after ldconfig:"; ldd .gpu/spak-harness-cuda | grep -E 'cublas|jansson|not found'
fi
W=/tmp/w; rm -rf $W; mkdir -p $W/build $W/.spak/cache
cp -a examples kernels $W/; cp .gpu/spak .gpu/spak-harness-cuda $W/build/
cp -a .spak/cache/build $W/.spak/cache/
chmod -R a+rX $W; chmod 755 /tmp/w
cd $W
echo "== spak build (cache check)"; build/spak build --home $W/.spak examples/gemm-h100.spak 2>&1 | tail -12
echo "== spak run"
t0=$(date +%s)
timeout 480 build/spak run --home $W/.spak --json examples/gemm-h100.spak > $OUT/run.json 2> $OUT/run.log
echo "rc=$? wall=$(( $(date +%s) - t0 ))s"
cat $OUT/run.log; cat $OUT/run.json; echo
RUN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' $OUT/run.json 2>/dev/null)
[ -n "$RUN" ] || RUN=$(ls $W/.spak/runs | tail -1)
build/spak show --home $W/.spak "$RUN" > $OUT/show.txt 2>&1
cp $W/.spak/spak.db $OUT/spak.db
tar czf $OUT/runs.tgz -C $W/.spak runs cache/device 2>/dev/null
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,clocks_throttle_reasons.active --format=csv >> $OUT/device.txt 2>&1
if ! grep -q '"best":{' $OUT/run.json; then
  echo "== no best: direct harness probe as root for diagnosis"
  so=$(ls $W/.spak/cache/build/*.so | head -1)
  timeout 120 build/spak-harness-cuda --family gemm --candidate $W/.spak/cache/build/a59bafda0b95a9d3.so --seed 1 --dtype bf16 --check-only --shapes 256x256x128 --heldout 129x263x72 --timeout 30 --ceilings-cache /tmp/ceil.json 2>&1 | tail -5
  ls $W/.spak/runs/*/e1/ 2>/dev/null; head -c 3000 $W/.spak/runs/*/e1/* 2>/dev/null
fi
echo "== show"; head -c 6000 $OUT/show.txt
