#!/usr/bin/env bash
# kernels/cuda/kt-side-by-side.sh prepare|run DIR - spak and Kernel Tuner side by
# side on Kernel Tuner's convolution problem with the filter fixed at 17x17
# (issue 17; docs/t1.md, "Side by side with Kernel Tuner"):
#
#   prepare DIR  (here, after `make`): DIR/w/kt/ gets Kernel Tuner's
#                test_T1_input.json and convolution.cu from its source
#                distribution (tests/t1/install.sh: PyPI, pinned), DIR/w/ the
#                spec kernels/cuda/kt/conv17.spak and spak's reference
#                conv_ref.cu, DIR/bin/ spak, spak-judge-cuda and spak-runner-cuda
#                (build/ copies), DIR/whl/ the wheels Kernel Tuner needs on the
#                GPU machine (kernel_tuner, python-constraint2, xmltodict, the
#                jsonschema family), DIR/kt_tune.py.
#   run DIR      (the GPU machine; `run` tool, carry: [DIR]): installs the wheels
#                into /tmp/kt-site and patches one line of Kernel Tuner's CuPy
#                backend there (the device uuid: that CuPy's is not 16 bytes, and
#                uuid.UUID(bytes=...) raises; the line keeps the uuid as text; the
#                patched line is printed), then, for each seed of SEEDS:
#                  spak run of conv17.spak with each strategy of SPAK_STRATEGIES
#                  (builds with nvcc in the build sandbox on this machine, --jobs
#                  SPAK_JOBS), FEVALS evaluations each;
#                  Kernel Tuner's tune_kernel with each strategy of KT_STRATEGIES
#                  (kt_tune.py, its CuPy backend), FEVALS evaluations each;
#                then each side's best configuration re-timed by the other
#                (RETIME=0 skips it) and the table (kt/kt_table.py).
#
# Files under OUT (default /tmp/out-kt): device.txt, spak-STRATEGY-SEED.{json,log,
# show.json}, kt-STRATEGY-SEED.{json,log}, retime-*.json, table.md, kt-homes.tgz (the
# spak homes' stores). Env: SEEDS (default "1"), FEVALS (30), SPAK_STRATEGIES
# ("default random"), KT_STRATEGIES ("random_sample genetic_algorithm bayes_opt"),
# SPAK_JOBS (4), STEP_TIMEOUT (seconds a run, default 300), PARTS (default
# "spak kt retime": which parts run).
set -u
MODE=${1:?usage: kt-side-by-side.sh prepare|run DIR}
D=${2:?usage: kt-side-by-side.sh prepare|run DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "$MODE" = prepare ]; then
    B=${BUILD:-$ROOT/build}
    for f in spak spak-judge-cuda spak-runner-cuda; do
        [ -x "$B/$f" ] || { echo "kt-side-by-side.sh: $B/$f is missing (make && make cuda-declared first)" >&2; exit 1; }
    done
    KT=$(bash "$ROOT/tests/t1/install.sh" | tail -1) && [ -d "$KT/test" ] || { echo "kt-side-by-side.sh: Kernel Tuner's source distribution: not found" >&2; exit 1; }
    rm -rf "$D/w" "$D/bin" "$D/whl"
    mkdir -p "$D/w/kt" "$D/bin" "$D/whl"
    cp "$KT/test/test_T1_input.json" "$KT/test/convolution.cu" "$D/w/kt/"
    cp "$HERE/kt/conv17.spak" "$HERE/kt/conv_ref.cu" "$D/w/"
    cp "$HERE/kt/kt_tune.py" "$HERE/kt/kt_table.py" "$D/"
    cp "$B/spak" "$B/spak-judge-cuda" "$B/spak-runner-cuda" "$D/bin/"
    VER=$(basename "$KT" | sed 's/^kernel_tuner-//')
    for p in "kernel_tuner==$VER" python-constraint2 xmltodict jsonschema jsonschema-specifications referencing rpds-py; do
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d "$D/whl" "$p" || { echo "kt-side-by-side.sh: pip download $p failed" >&2; exit 1; }
    done
    "$D/bin/spak" check "$D/w/conv17.spak" >/dev/null || { echo "kt-side-by-side.sh: conv17.spak does not check" >&2; exit 1; }
    echo "kt-side-by-side.sh: $D ready ($(du -sh "$D" | cut -f1)): Kernel Tuner $VER, $(ls "$D/whl" | wc -l) wheels"
    exit 0
fi
[ "$MODE" = run ] || { echo "kt-side-by-side.sh: '$MODE' is not prepare or run" >&2; exit 2; }

OUT=${OUT:-/tmp/out-kt}
mkdir -p "$OUT"
SEEDS=${SEEDS:-1}
FEVALS=${FEVALS:-30}
PARTS=" ${PARTS:-spak kt retime} "
STEP=${STEP_TIMEOUT:-300}
{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem --format=csv
    uname -r; nproc
} >"$OUT/device.txt" 2>&1
cat "$OUT/device.txt"

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/kt-site "$D"/whl/*.whl ||
    { echo "kt-side-by-side.sh: the wheels did not install" >&2; exit 1; }
CP=/tmp/kt-site/kernel_tuner/backends/cupy.py
sed -i 's/env\["uuid"\] = str(uuid.UUID(bytes=props\["uuid"\]))/env["uuid"] = str(props["uuid"])  # patched by spak (kt-side-by-side.sh): that CuPy'"'"'s uuid is not 16 bytes/' "$CP"
echo "# Kernel Tuner's CuPy backend, patched: $(grep -n 'patched by spak' "$CP")" | tee -a "$OUT/device.txt"
export PYTHONPATH=/tmp/kt-site${PYTHONPATH:+:$PYTHONPATH}

W=/tmp/kt-w
rm -rf "$W"; mkdir -p "$W"
cp -a "$D/w/." "$W/"; cp -a "$D/bin" "$W/bin"
chmod -R a+rX "$W"; chmod 755 "$W"
SPAK=$W/bin/spak

spak_run() {  # STRATEGY SEED: one spak run, its summary, its evaluations
    local s=$1 seed=$2 h="$W/h-$1-$2" t0 rc run
    rm -rf "$h"; t0=$(date +%s.%N)
    (cd "$W" && timeout "$STEP" "$SPAK" run --home "$h" --json --strategy "$s" --seed "$seed" --budget "$FEVALS" \
        --jobs "${SPAK_JOBS:-4}" --no-learn conv17.spak >"$OUT/spak-$s-$seed.json" 2>"$OUT/spak-$s-$seed.log")
    rc=$?
    python3 -c "import time; print(round(time.time() - $t0, 1))" >"$OUT/spak-$s-$seed.wall"
    echo "spak $s seed $seed: rc=$rc wall=$(cat "$OUT/spak-$s-$seed.wall") s; $(tail -1 "$OUT/spak-$s-$seed.log")"
    run=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' "$OUT/spak-$s-$seed.json" 2>/dev/null)
    [ -n "$run" ] || run=$(ls "$h/runs" 2>/dev/null | tail -1)
    "$SPAK" show --home "$h" --json "$run" >"$OUT/spak-$s-$seed.show.json" 2>/dev/null
}

for seed in $SEEDS; do
    if [[ $PARTS == *" spak "* ]]; then
        for s in ${SPAK_STRATEGIES:-default random}; do spak_run "$s" "$seed"; done
    fi
    if [[ $PARTS == *" kt "* ]]; then
        for s in ${KT_STRATEGIES:-random_sample genetic_algorithm bayes_opt}; do
            timeout "$STEP" python3 "$D/kt_tune.py" tune "$W/kt" "$W/conv_ref.cu" "$s" "$seed" "$FEVALS" \
                "$OUT/kt-$s-$seed.json" >"$OUT/kt-$s-$seed.log" 2>&1
            echo "kernel_tuner $s seed $seed: rc=$? $(tail -1 "$OUT/kt-$s-$seed.log")"
        done
    fi
done

if [[ $PARTS == *" retime "* ]]; then
    # each side's best configuration, timed by the other side's harness
    python3 "$D/kt_table.py" --best spak "$OUT" >"$OUT/best-spak.txt" 2>/dev/null
    python3 "$D/kt_table.py" --best kt "$OUT" >"$OUT/best-kt.txt" 2>/dev/null
    if [ -s "$OUT/best-spak.txt" ]; then
        timeout "$STEP" python3 "$D/kt_tune.py" point "$W/kt" "$W/conv_ref.cu" "$(cat "$OUT/best-spak.txt")" \
            "$OUT/retime-kt-of-spak.json" >"$OUT/retime-kt-of-spak.log" 2>&1
        echo "spak's best, timed by Kernel Tuner: rc=$? $(tail -1 "$OUT/retime-kt-of-spak.log")"
    fi
    if [ -s "$OUT/best-kt.txt" ]; then
        # a spec of that one point: conv17.spak with every parameter fixed
        python3 - "$W/conv17.spak" "$(cat "$OUT/best-kt.txt")" "$W/point.spak" <<'PY'
import sys
src, point, dst = sys.argv[1:]
fixed = "".join("        %s: %s\n" % tuple(kv.split("=")) for kv in point.split(","))
text = open(src).read()
a = text.index("    tuning_space {")
b = text.index("    }\n", a) + len("    }\n")
open(dst, "w").write(text[:a] + "    tuning_space {\n" + fixed + "    }\n" + text[b:])
PY
        h="$W/h-retime"; rm -rf "$h"
        (cd "$W" && timeout "$STEP" "$SPAK" run --home "$h" --json --budget 1 --no-learn point.spak \
            >"$OUT/retime-spak-of-kt.json" 2>"$OUT/retime-spak-of-kt.log")
        echo "Kernel Tuner's best, timed by spak: rc=$? $(tail -1 "$OUT/retime-spak-of-kt.log")"
        run=$(ls "$h/runs" 2>/dev/null | tail -1)
        "$SPAK" show --home "$h" --json "$run" >"$OUT/retime-spak-of-kt.show.json" 2>/dev/null
    fi
fi
tar czf "$OUT/kt-homes.tgz" -C "$W" $(cd "$W" && ls -d h-* 2>/dev/null) 2>/dev/null
python3 "$D/kt_table.py" "$OUT" | tee "$OUT/table.md"
