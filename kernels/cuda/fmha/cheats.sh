#!/usr/bin/env bash
# kernels/cuda/fmha/cheats.sh [BUILD_DIR] - run every misbehaving candidate of
# cheats.cu (make cuda-fmha-cheats) through spak-harness-cuda-fmha on the GPU
# machine; each must fail. TAP output: "ok N - cheatK failed as it should (reason)".
set -u
B=${1:-build}
H=$B/spak-harness-cuda-fmha
n=0 bad=0
for so in "$B"/cuda/fmha-cheats/cheat*.so; do
    [ -e "$so" ] || continue
    c=$(basename "$so" .so)
    out=$(timeout 120 "$H" --family fmha --candidate "$so" --seed 7 --dtype fp16 --check-only --no-baseline \
        --shapes 1x4x200x64c --timeout 20 2>&1)
    n=$((n + 1))
    rec=$(grep '"type":"Correctness"' <<<"$out" | tail -1)
    why=$(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' <<<"$rec")
    if grep -q '"passed":false' <<<"$rec"; then
        echo "ok $n - $c failed as it should ($why)"
    else
        bad=$((bad + 1))
        echo "not ok $n - $c was not caught: ${rec:-no record} $(tail -2 <<<"$out")"
    fi
done
echo "1..$n"
[ "$bad" -eq 0 ]
