#!/usr/bin/env bash
# tests/trust_gpu/run.sh - the GPU adversary's suite (issue 13): every
# candidate of tests/trust_gpu/ through the GPU judges, each expectation of
# expect.txt asserted on the judge's records (check.py). On the GPU machine:
#
#   tests/trust_gpu/run.sh BUILD_DIR OUT_DIR    build each candidate with nvcc
#                                               (as kernels/cuda/gemm/gemm.mk
#                                               builds the rungs, sm_90a), run it
#                                               through $BUILD/spak-harness-cuda
#                                               or -fmha, assert on its records
#   tests/trust_gpu/run.sh --build-only OUT_DIR compile every candidate only
#   tests/trust_gpu/run.sh --self-test          check.py against hand-written
#                                               judge outputs (selftest/),
#                                               expect.txt, README.md and the
#                                               .cu files against each other,
#                                               and this driver on fake judges
#
# Needs nothing but the build directory, nvcc (NVCC=, else PATH, else
# /usr/local/cuda/bin/nvcc) and python3. The honest controls run first (the
# failh cheats compare their ratio with ctl_g_two_streams / ctl_f_two_streams),
# then the build's rungs (controls too), then the cheats. One line per
# candidate, "PASS name: ... [N s]" or "FAIL name: ... [N s]" (the judge's
# wall seconds), then "N passed, N failed";
# exit 0 when every expectation held. Under OUT_DIR: so/ (the candidates),
# build/NAME.log (nvcc), logs/NAME.out (the judge's stdout: the records),
# logs/NAME.err (its stderr: diagnostics and the runners' logs), summary.txt.
#
# Knobs: TG_ONLY=ERE (only the candidates whose name matches, and the two-stream controls),
# TG_TIMEOUT=seconds (wall limit of one judge run, default 600),
# TG_ARCH (nvcc's -gencode, default arch=compute_90a,code=sm_90a).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)

usage() {
    echo "usage: $0 BUILD_DIR OUT_DIR | --build-only OUT_DIR | --self-test" >&2
    exit 2
}

# ---- self-test: the assertions on records written by hand ------------------
self_test() {
    local n=0 bad=0 file expect why control want got line
    while read -r file expect why control want; do
        case "$file" in '' | '#'*) continue ;; esac
        n=$((n + 1))
        local args=(--records "$HERE/selftest/$file.out" --expect "$expect" --timed 2 --heldout 1)
        [ "$why" != - ] && args+=(--why "$why")
        [ "$control" != - ] && args+=(--control "$HERE/selftest/$control.out")
        line=$(python3 "$HERE/check.py" "${args[@]}")
        got=${line%%:*}
        if [ "$got" = "$want" ]; then
            echo "ok $n - $file $expect ${why/-/}: $line"
        else
            bad=$((bad + 1))
            echo "not ok $n - $file $expect ${why/-/}: want $want, got: $line"
        fi
    done <"$HERE/selftest/cases.txt"
    # the three lists of candidates agree: the sources, expect.txt, README.md's table
    local srcs exp readme
    srcs=$(cd "$HERE" && ls ./*.cu | sed 's|^\./||; s|\.cu$||' | sort)
    exp=$(grep -v '^#' "$HERE/expect.txt" | awk 'NF {print $1}' | sort)
    readme=$(sed -n 's/^| `\([a-z_]*\)\.cu` |.*/\1/p' "$HERE/README.md" | sort)
    for pair in "expect.txt:$exp" "README.md:$readme"; do
        n=$((n + 1))
        if [ "${pair#*:}" = "$srcs" ]; then
            echo "ok $n - ${pair%%:*} lists every candidate, and no other"
        else
            bad=$((bad + 1))
            echo "not ok $n - ${pair%%:*} and the .cu files differ:"
            diff <(echo "$srcs") <(echo "${pair#*:}") | sed 's/^/    /'
        fi
    done
    # the driver itself, end to end, on fake judges that print canned records
    # (selftest/*.out) by the candidate's name, and prebuilt stand-ins for
    # the .so files (fresh: no nvcc needed)
    local tmp out rc want j
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/trust_gpu.XXXXXX")
    mkdir -p "$tmp/build/cuda/gemm" "$tmp/out/so"
    for j in spak-harness-cuda spak-harness-cuda-fmha; do
        cat >"$tmp/build/$j" <<EOF
#!/usr/bin/env bash
c=""; while [ \$# -gt 0 ]; do [ "\$1" = --candidate ] && c=\$2; shift; done
case \$(basename "\$c" .so) in ctl_* | rung*) f=control ;; g_lazy) f=lazy_caught ;; g_memo_hash) f=honest_slow ;; *) f=accepted_fast ;; esac
cat "$HERE/selftest/\$f.out"
EOF
        chmod +x "$tmp/build/$j"
    done
    echo stand-in >"$tmp/build/cuda/gemm/rung1_fake.so"
    for j in ctl_g_two_streams ctl_f_two_streams g_lazy g_memo_hash g_ptrace; do echo stand-in >"$tmp/out/so/$j.so"; done
    out=$(TG_ONLY='^(g_lazy|g_memo_hash|g_ptrace|gemm-rung1_fake)$' NVCC=/nonexistent bash "$HERE/run.sh" "$tmp/build" "$tmp/out" 2>&1)
    rc=$?
    for want in "^PASS ctl_g_two_streams:" "^PASS ctl_f_two_streams:" "^PASS gemm-rung1_fake:" "^PASS g_lazy: failed as it should" \
        "^PASS g_memo_hash: honest" "^FAIL g_ptrace: expected to fail, was accepted" "^5 passed, 1 failed$" "^rc=1$"; do
        n=$((n + 1))
        if grep -q -- "$want" <<<"$out"$'\n'"rc=$rc"; then
            echo "ok $n - the driver on fake judges: $want"
        else
            bad=$((bad + 1))
            echo "not ok $n - the driver on fake judges: $want"
            sed 's/^/    /' <<<"$out"
        fi
    done
    rm -rf "$tmp"
    echo "1..$n"
    echo "$((n - bad)) passed, $bad failed"
    [ "$bad" -eq 0 ]
}

# ---- building ---------------------------------------------------------------
find_nvcc() {
    if [ -n "${NVCC:-}" ]; then echo "$NVCC"; return; fi
    command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc
}

# fresh SO SRC: SO exists and is newer than SRC, the shared headers here and
# the families' ABI headers (what every candidate includes)
fresh() {
    local d
    [ -s "$1" ] && [ "$1" -nt "$2" ] || return 1
    for d in "$HERE"/*.cuh "$HERE"/../../kernels/cuda/gemm/abi.h "$HERE"/../../kernels/cuda/fmha/abi.h; do
        [ "$1" -nt "$d" ] || return 1
    done
}

# build_all OUT: every candidate into OUT/so/NAME.so, in parallel, unless
# fresh (a change of TG_ARCH or NVCC needs a new OUT); a failed build leaves
# no .so and its log under OUT/build/
build_all() {
    local out=$1 nvcc="" jobs f name
    mkdir -p "$out/so" "$out/build"
    jobs=$(nproc 2>/dev/null || echo 2)
    local flags=(-O3 -std=c++17 -gencode "${TG_ARCH:-arch=compute_90a,code=sm_90a}" -lineinfo -Werror all-warnings
        -Xcompiler -Wall,-Wextra,-Werror -shared -Xcompiler -fPIC)
    for f in "$HERE"/*.cu; do
        name=$(basename "$f" .cu)
        wanted "$name" || continue
        fresh "$out/so/$name.so" "$f" && continue
        if [ -z "$nvcc" ]; then
            nvcc=$(find_nvcc)
            [ -x "$nvcc" ] || command -v "$nvcc" >/dev/null || { echo "run.sh: no nvcc ($nvcc)" >&2; return 2; }
        fi
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
        ( rm -f "$out/so/$name.so"
          "$nvcc" "${flags[@]}" -o "$out/so/$name.so" "$f" >"$out/build/$name.log" 2>&1 || rm -f "$out/so/$name.so" ) &
    done
    wait
}

# ---- running ----------------------------------------------------------------
PASSED=0 FAILED=0

report() { # STATUS NAME TEXT
    printf '%s %s: %s\n' "$1" "$2" "$3" | tee -a "$OUT/summary.txt"
    if [ "$1" = PASS ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

# run_one NAME SO FAMILY EXPECT WHY: the judge on one candidate, then check.py
run_one() {
    local name=$1 so=$2 fam=$3 expect=$4 why=$5 judge ctl line rc
    local args=(--family "$fam" --candidate "$so" --seed 1)
    # the judge's own per-shape limit well inside the wall limit, so a hang
    # ends as the judge's failing record, not as a killed judge
    local tg=${TG_TIMEOUT:-600} jt
    jt=$((tg / 4)); [ "$jt" -gt 120 ] && jt=120; [ "$jt" -lt 5 ] && jt=5
    if [ "$fam" = gemm ]; then
        judge=$BUILD/spak-harness-cuda ctl=$OUT/logs/ctl_g_two_streams.out
        args+=(--dtype bf16 --shapes 512x512x512,1024x512x768 --heldout 129x263x72 --reps 10 --timeout "$jt")
    else
        judge=$BUILD/spak-harness-cuda-fmha ctl=$OUT/logs/ctl_f_two_streams.out
        args+=(--dtype fp16 --shapes 1x8x512x64c,2x4x256x128 --heldout 1x4x200x64c --reps 10 --lse --timeout "$jt")
    fi
    if [ ! -e "$so" ]; then
        report FAIL "$name" "did not build (see $OUT/build/$name.log)"
        return
    fi
    local t0=$SECONDS
    timeout -k 10 "$tg" "$judge" "${args[@]}" >"$OUT/logs/$name.out" 2>"$OUT/logs/$name.err"
    rc=$?
    local secs=$((SECONDS - t0))
    echo "run.sh: $judge exited $rc" >>"$OUT/logs/$name.err"
    if [ "$rc" -eq 2 ] && grep -q 'no CUDA device' "$OUT/logs/$name.err"; then
        echo "run.sh: $judge found no CUDA device: nothing to test here" >&2
        exit 2
    fi
    local cargs=(--records "$OUT/logs/$name.out" --expect "$expect" --timed 2 --heldout 1)
    [ -n "$why" ] && cargs+=(--why "$why")
    [ "$expect" = failh ] && cargs+=(--control "$ctl")
    line=$(python3 "$HERE/check.py" "${cargs[@]}")
    [ "$rc" -ne 0 ] && line="$line (judge exit $rc)"
    line="$line [${secs} s]"
    report "${line%%:*}" "$name" "${line#*: }"
}

# TG_ONLY's filter; the two-stream controls always run (the failh yardstick)
wanted() {
    [ -z "${TG_ONLY:-}" ] || [[ $1 =~ $TG_ONLY ]] || [[ $1 == ctl_?_two_streams ]]
}

family_of() { case "$1" in g_* | ctl_g_*) echo gemm ;; *) echo fmha ;; esac; }

case "${1:-}" in
--self-test) self_test; exit ;;
--build-only)
    [ $# -eq 2 ] || usage
    build_all "$2" || exit 2
    n=0 bad=0
    for f in "$HERE"/*.cu; do
        name=$(basename "$f" .cu)
        wanted "$name" || continue
        n=$((n + 1))
        if [ -e "$2/so/$name.so" ]; then echo "built $name"; else bad=$((bad + 1)); echo "NOT BUILT $name:"; sed 's/^/    /' "$2/build/$name.log"; fi
    done
    echo "$((n - bad)) built, $bad failed"
    [ "$bad" -eq 0 ]; exit ;;
'' | -*) usage ;;
esac
[ $# -eq 2 ] || usage
BUILD=$(cd "$1" && pwd) || usage
OUT=$2
mkdir -p "$OUT/logs" && OUT=$(cd "$OUT" && pwd)
: >"$OUT/summary.txt"
for j in spak-harness-cuda spak-harness-cuda-fmha; do
    [ -x "$BUILD/$j" ] || { echo "run.sh: $BUILD/$j is missing (make cuda on the GPU machine)" >&2; exit 2; }
done
build_all "$OUT" || exit 2

# the controls first (their ratios are the failh cheats' yardstick), then the rungs, then the cheats
mapfile -t MANIFEST < <(grep -v '^#' "$HERE/expect.txt" | awk 'NF')
for entry in "${MANIFEST[@]}"; do
    read -r name expect why <<<"$entry"
    [[ $name == ctl_* ]] || continue
    wanted "$name" || continue
    run_one "$name" "$OUT/so/$name.so" "$(family_of "$name")" "$expect" "${why:-}"
done
for so in "$BUILD"/cuda/gemm/rung*.so "$BUILD"/cuda/fmha/rung*.so; do
    [ -e "$so" ] || continue
    fam=gemm
    [[ $so == */fmha/* ]] && fam=fmha
    name=$fam-$(basename "$so" .so)
    wanted "$name" || continue
    run_one "$name" "$so" "$fam" honest ""
done
for entry in "${MANIFEST[@]}"; do
    read -r name expect why <<<"$entry"
    [[ $name == ctl_* ]] && continue
    wanted "$name" || continue
    run_one "$name" "$OUT/so/$name.so" "$(family_of "$name")" "$expect" "${why:-}"
done
echo "$PASSED passed, $FAILED failed" | tee -a "$OUT/summary.txt"
[ "$FAILED" -eq 0 ]
