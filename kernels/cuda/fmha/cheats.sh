#!/usr/bin/env bash
# kernels/cuda/fmha/cheats.sh [BUILD_DIR] - run every misbehaving candidate of
# cheats.cu (make cuda-fmha-cheats) through spak-harness-cuda-fmha on the GPU
# machine; each must fail. TAP output: "ok N - cheatK failed as it should (reason)".
# cheat3 (its work on a private stream, 50 ms late) is the exception: the
# runner synchronizes its whole device before answering DONE, so that work
# ends inside the judge's clock and gains nothing; it is timed instead, and
# must fail or show at least the 50 ms it hides in each call.
set -u
B=${1:-build}
H=$B/spak-harness-cuda-fmha
n=0 bad=0
for so in "$B"/cuda/fmha-cheats/cheat*.so; do
    [ -e "$so" ] || continue
    c=$(basename "$so" .so)
    mode="--check-only --timeout 20"
    [ "$c" = cheat3 ] && mode="--reps 3 --warmup 1 --timeout 200"
    # shellcheck disable=SC2086
    out=$(timeout 300 "$H" --family fmha --candidate "$so" --seed 7 --dtype fp16 $mode --no-baseline \
        --shapes 1x4x200x64c 2>&1)
    n=$((n + 1))
    rec=$(grep '"type":"Correctness"' <<<"$out" | tail -1)
    why=$(sed -n 's/.*"reason":"\([^"]*\)".*/\1/p' <<<"$rec")
    ms=$(grep '"type":"Performance"' <<<"$out" | sed -n 's/.*"time_ms":\([0-9.e+-]*\).*/\1/p' | tail -1)
    if grep -q '"passed":false' <<<"$rec"; then
        echo "ok $n - $c failed as it should ($why)"
    elif [ "$c" = cheat3 ] && [ -n "$ms" ] && awk -v t="$ms" 'BEGIN { exit !(t >= 50) }'; then
        echo "ok $n - $c: its late work is timed ($ms ms a call >= the 50 ms it hides)"
    else
        bad=$((bad + 1))
        echo "not ok $n - $c was not caught: ${rec:-no record} $(tail -2 <<<"$out")"
    fi
done
echo "1..$n"
[ "$bad" -eq 0 ]
