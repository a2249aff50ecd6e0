#!/usr/bin/env bash
# kernels/cuda/gemm/cheats.sh [BUILD_DIR] - on the GPU machine: run the harness
# on every misbehaving candidate ($BUILD_DIR/cuda/cheats/cheat*.so, built by
# `make cuda-cheats`) and print, per cheat, each Correctness verdict. Every
# verdict must be "passed":false; the harness must exit 0 every time.
set -u
B=${1:-build}
OUT=${OUT:-/tmp/spak-cheats}
mkdir -p "$OUT"
LOG=$OUT/cheats.log
: >"$LOG"
names=(x zeros input cache lowprec stream hang illegal shapes)
bad=0
for n in 1 2 3 4 5 6 7 8; do
    echo "### cheat$n ${names[$n]}" >>"$LOG"
    timeout 300 "$B/spak-harness-cuda" --family gemm --candidate "$B/cuda/cheats/cheat$n.so" --seed 3 \
        --dtype bf16 --shapes 256x256x512 --heldout 129x263x72 --check-only --timeout 20 >>"$LOG" 2>&1
    rc=$?
    echo "### rc=$rc" >>"$LOG"
    v=$(awk '/^### cheat'$n' /{f=1;next} /^### rc/{f=0} f' "$LOG" | grep Correctness |
        sed -E 's/.*"shape":"([^"]*)".*"passed":(true|false).*"reason":"([^"]*)".*/\1 passed=\2 (\3)/')
    printf '%-8s rc=%d\n%s\n' "${names[$n]}" "$rc" "$(sed 's/^/    /' <<<"$v")"
    # "shapes" is right on the seen shape by design: the held-out shape must catch it
    if [ "$n" -eq 8 ]; then chk=$(grep -v '^256x256x512' <<<"$v"); else chk=$v; fi
    if [ "$rc" -ne 0 ] || grep -q 'passed=true' <<<"$chk" || [ -z "$v" ]; then bad=1; fi
done
[ $bad -eq 0 ] && echo "all cheats caught" || echo "SOME CHEAT NOT CAUGHT"
