#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# builds: every (tests/run.sh: MemType Constant through spak-judge-cuda needs the release build, which has the CUDA judge)
# tests/suites/t1.sh BUILD_DIR - T1 files in (docs/t1.md), TAP on stdout.
# Kernel Tuner (PyPI kernel_tuner, pinned) is installed at test time into a
# cached venv and its source distribution unpacked into a cache
# (tests/t1/install.sh); nothing of it is copied into the repository.
#  - Kernel Tuner's test/test_T1_input.json (convolution) translates; every
#    point of its space with the filter fixed at 17x17 has the grid and block
#    Kernel Tuner's own functions give, and the same points (Searchspace, its
#    Conditions, the 1024-thread limit); so do two other sub-spaces; the
#    whole space (1.9 million points, about two minutes) with SPAK_T1_FULL=1;
#    the run's space (the translation's restrict, counted by spak check
#    --json) has as many points as Kernel Tuner's Searchspace, also for
#    Conditions where Python's // % and truth differ from C's;
#  - spak check / import take the T1 file; --set overrides; a spec that
#    imports the T1 file overrides and adds (t1: in its front matter);
#  - each refused T1 feature gives its message at file:line:col;
#  - the CUDA kernels of the T1 files compile through spak build (nvcc); a
#    MemType Constant argument reaches the decl as memory "constant", its
#    symbol in the cubin, and spak-judge-cuda accepts the decl;
#  - spak export --format t4 validates against Kernel Tuner's T4 schema.
# Kernel Tuner that cannot be installed is a failure, never a skip.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init t1 "${1:-build}"

if ! out=$("$ROOT/tests/t1/install.sh" 2>"$T/install.err"); then
    notok "Kernel Tuner could not be installed" "$(tail -3 "$T/install.err")"
    echo "1..$n"
    exit 1
fi
PY=$(sed -n 1p <<<"$out")
KT=$(sed -n 2p <<<"$out")
ok "Kernel Tuner $("$PY" -c 'import importlib.metadata as m; print(m.version("kernel_tuner"))') and its sdist at $KT"
# a copy in the scratch folder: the sandboxed build runs as an unprivileged user, who cannot read $HOME's cache
mkdir -p "$T/kt" && cp "$KT/test/test_T1_input.json" "$KT/test/convolution.cu" "$T/kt/" && chmod -R a+rX "$T/kt"
CONV="$T/kt/test_T1_input.json"

# ---- translation
"$SPAK" import t1 "$CONV" >"$T/conv.spak" 2>"$T/conv.err"
check "import t1: the convolution file translates (exit 0)" "[ $? -eq 0 ]"
check "import t1: its kernel block (entry, grid by GridDiv, block, the Size expression, constant memory)" \
    "grep -q 'entry: \"convolution_kernel\"' '$T/conv.spak' &&
     grep -qF 'grid: [ceil_div(problem_x, block_size_x * tile_size_x), ceil_div(problem_y, block_size_y * tile_size_y), 1]' '$T/conv.spak' &&
     grep -qF 'block: [block_size_x, block_size_y, 1]' '$T/conv.spak' &&
     grep -qF 'count: (problem_x + 33 - 1) * (problem_y + 33 - 1)' '$T/conv.spak' &&
     grep -qF 'access: \"read\", memory: \"constant\" }' '$T/conv.spak'"
check "import t1: the Condition in spak's syntax, and Kernel Tuner's 1024-thread block limit, as the space's restrictions" \
    "grep -qF 'restrict: [use_padding == 0 || block_size_x % 32 != 0, block_size_x * block_size_y <= 1024]' '$T/conv.spak' &&
     ! grep -q 'Conditions' '$T/conv.err'"
check "import t1: the judge's trace_schema and a measure block without a command (the kernel block's default)" \
    "grep -qF 'case Performance { shape: string, time_ms: float }' '$T/conv.spak' && grep -qF 'metric: \"time_ms\"' '$T/conv.spak' && ! grep -q 'cmd:' '$T/conv.spak'"
check "import t1: Values evaluated ([2**i for i in range(6)])" \
    "grep -qF 'block_size_y: [1, 2, 4, 8, 16, 32]' '$T/conv.spak'"
check "import t1: what is ignored is a warning at its place in the JSON (LocalSize)" \
    "grep -qE '^$CONV:[0-9]+:9: warning: KernelSpecification.LocalSize ignored' '$T/conv.err'"
"$SPAK" fmt "$T/conv.spak" >/dev/null 2>"$T/fmt.err"
check "the translation is a spec spak's parser reads (spak fmt)" "[ $? -eq 0 ]"

# ---- grids and points against Kernel Tuner's own functions
compare() {  # NAME SETS...
    local name=$1
    shift
    local sets=() kv
    for kv in "$@"; do sets+=(--set "$kv"); done
    "$SPAK" import t1 "${sets[@]}" --points "$CONV" >"$T/pts.jsonl" 2>/dev/null
    if "$PY" "$ROOT/tests/t1/compare.py" "$CONV" "$T/pts.jsonl" "$@" >"$T/cmp.out" 2>&1; then
        ok "$name: $(head -1 "$T/cmp.out")"
    else
        notok "$name" "$(head -6 "$T/cmp.out")"
    fi
}
compare "every point of the convolution space with the filter fixed at 17x17" filter_width=17 filter_height=17
compare "every point with filters 3x33 and 33x5" filter_width=3,33 filter_height=33,5
compare "every point with tiles of 8 (a grid that does not divide)" filter_width=3 filter_height=3 tile_size_x=7 tile_size_y=3
if [ -n "${SPAK_T1_FULL:-}" ]; then
    compare "every point of the whole convolution space"
else
    skip "every point of the whole convolution space" "SPAK_T1_FULL=1 runs it (1,867,776 points, about two minutes)"
fi

# a T1 file of our own, Kernel Tuner's vector_add: no GridDiv (the divisor is block_size_x), one ProblemSize
variant() {  # NAME EDIT: the convolution file (or $BASE) with the Python statement EDIT applied to d
    python3 - "${BASE:-$CONV}" "$T/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"), indent=4)
PY
}
# the variants are written into $T: the kernel files they name beside them
# (spak check resolves every source the space can produce)
cp "$KT/test/vector_add.cu" "$KT/test/convolution.cu" "$T/" && chmod a+r "$T/vector_add.cu" "$T/convolution.cu"
variant vadd 'ks = d["KernelSpecification"]
[ks.pop(k, None) for k in ("GridDivX", "GridDivY")]
ks.update(KernelName="vector_add", KernelFile="vector_add.cu", ProblemSize=10000000, Arguments=[
  {"Name": "c", "Type": "float", "MemoryType": "Vector", "AccessType": "WriteOnly", "FillType": "Constant", "FillValue": 0.0, "Size": "ProblemSize[0]", "Output": 1},
  {"Name": "a", "Type": "float", "MemoryType": "Vector", "AccessType": "ReadOnly", "FillType": "Random", "Size": "ProblemSize[0]"},
  {"Name": "b", "Type": "float", "MemoryType": "Vector", "AccessType": "ReadOnly", "FillType": "Random", "Size": "ProblemSize[0]"},
  {"Name": "n", "Type": "int32", "MemoryType": "Scalar", "FillValue": 10000000}])
d["ConfigurationSpace"] = {"TuningParameters": [{"Name": "block_size_x", "Type": "int", "Values": "[128+64*i for i in range(15)]"}], "Conditions": []}'
"$SPAK" import t1 --points "$T/vadd.json" >"$T/pts.jsonl" 2>/dev/null
if "$PY" "$ROOT/tests/t1/compare.py" "$T/vadd.json" "$T/pts.jsonl" >"$T/cmp.out" 2>&1; then
    ok "vector_add without GridDiv (block_size_x divides): $(head -1 "$T/cmp.out")"
else
    notok "vector_add without GridDiv" "$(head -6 "$T/cmp.out")"
fi
BASE="$T/vadd.json" variant vadd_noblock 'd["ConfigurationSpace"]["TuningParameters"] = [{"Name": "unroll", "Type": "int", "Values": "range(1, 5)"}]'
"$SPAK" import t1 --points "$T/vadd_noblock.json" >"$T/pts.jsonl" 2>/dev/null
if "$PY" "$ROOT/tests/t1/compare.py" "$T/vadd_noblock.json" "$T/pts.jsonl" >"$T/cmp.out" 2>&1 &&
    grep -qF '"grid": [10000000, 1, 1], "block": [256, 1, 1]' "$T/pts.jsonl"; then
    ok "no block_size_x parameter: block 256, grid the problem size, as Kernel Tuner: $(head -1 "$T/cmp.out")"
else
    notok "no block_size_x parameter" "$(head -6 "$T/cmp.out")" "$(head -1 "$T/pts.jsonl")"
fi
"$SPAK" import t1 "$T/vadd.json" >"$T/vadd.spak" 2>/dev/null
check "vector_add: the Size ProblemSize[0] is the size problem_x; a scalar is passed by value" \
    "grep -qF 'arg c { type: \"f32\", count: problem_x, fill: \"constant\", fill_args: [0], access: \"write\", output: true' '$T/vadd.spak' &&
     grep -qF 'arg n { type: \"i32\", value: 10000000 }' '$T/vadd.spak' && grep -qF 'grid: [ceil_div(problem_x, block_size_x), 1, 1]' '$T/vadd.spak'"

# a KernelFile whose name holds a backslash (a fuzz finding: the translation
# wrote it unescaped, and its own spec did not parse): escaped, the spec parses
# and names the file as it is spelled
mkdir -p "$T/bs" && cp "$T/vector_add.cu" "$T/bs/"'a\b.cu'
BASE="$T/vadd.json" variant vadd_bs 'd["KernelSpecification"]["KernelFile"] = "bs/a\\b.cu"'
"$SPAK" import t1 "$T/vadd_bs.json" -o "$T/vadd_bs.spak" 2>/dev/null
check "a backslash in KernelFile is escaped: the translation parses and checks, naming the file as spelled" \
    "grep -qF 'source: \"bs/a\\\\b.cu\"' '$T/vadd_bs.spak' && \"$SPAK\" check '$T/vadd_bs.spak' >/dev/null 2>&1"

# ---- the run's space (the translation's tuning_space and restrictions, as
# spak check --json counts it, the count every strategy and `spak run` use)
# against Kernel Tuner's Searchspace of the same values and Conditions
kt_count() {  # T1_FILE NAME=VALUES...: Kernel Tuner's number of points
    "$PY" - "$@" <<'PY'
import json, sys
from kernel_tuner.searchspace import Searchspace
doc = json.load(open(sys.argv[1]))
sets = dict(a.split("=", 1) for a in sys.argv[2:])
tp = {}
for p in doc["ConfigurationSpace"]["TuningParameters"]:
    v = eval(sets.get(p["Name"], p["Values"]))
    tp[p["Name"]] = list(v) if isinstance(v, (list, tuple, range)) else [v]
print(len(Searchspace(tp, [c["Expression"] for c in doc["ConfigurationSpace"].get("Conditions", [])], 1024).list))
PY
}
space_count() {  # NAME T1_FILE NAME=VALUES...
    local name=$1 file=$2 sets=() kv
    shift 2
    for kv in "$@"; do sets+=(--set "$kv"); done
    local ours kt
    ours=$("$SPAK" check --json "${sets[@]}" "$file" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["loops"][0]["points"])' 2>&1)
    kt=$(kt_count "$file" "$@" 2>&1)
    if [ -n "$ours" ] && [ "$ours" = "$kt" ]; then
        ok "$name: the run's space has Kernel Tuner's $kt points"
    else
        notok "$name: the run's space" "spak: $ours" "Kernel Tuner: $(tail -2 <<<"$kt")"
    fi
}
space_count "the convolution space with the filter fixed at 17x17" "$CONV" filter_width=17 filter_height=17
# the side by side with Kernel Tuner (kernels/cuda/kt-side-by-side.sh): the spec spak runs
# (kernels/cuda/kt/conv17.spak, the T1 file beside it in kt/) and the space kt_tune.py gives
# tune_kernel hold the same points
mkdir -p "$T/ktside/kt" && cp "$KT/test/test_T1_input.json" "$KT/test/convolution.cu" "$T/ktside/kt/" &&
    cp "$ROOT/kernels/cuda/kt/conv17.spak" "$ROOT/kernels/cuda/kt/conv_ref.cu" "$T/ktside/" && chmod -R a+rX "$T/ktside"
ours=$("$SPAK" check --json "$T/ktside/conv17.spak" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["loops"][0]["points"])' 2>&1)
theirs=$("$PY" - "$ROOT/kernels/cuda/kt" "$T/ktside/kt" <<'PY' 2>&1
import sys
sys.path.insert(0, sys.argv[1])
import kt_tune
from kernel_tuner.searchspace import Searchspace
params, conds = kt_tune.space(sys.argv[2])
print(Searchspace(params, conds, 1024).size)
PY
)
if [ -n "$ours" ] && [ "$ours" = "$theirs" ]; then
    ok "side by side: conv17.spak and kt_tune.py's space hold the same $ours points"
else
    notok "side by side: the two spaces" "spak: $ours" "kt_tune.py: $(tail -2 <<<"$theirs")"
fi
space_count "filters 3x33 and 33x5" "$CONV" filter_width=3,33 filter_height=33,5
# Python's semantics where spak's differ: // and % floor (a parameter with
# negative values), a truth value that is a number, not, int(a / b), in, **
variant pysem 'cs = d["ConfigurationSpace"]
cs["TuningParameters"].append({"Name": "shift", "Type": "int", "Values": "[-7, -4, -1, 0, 3, 5]"})
cs["Conditions"] = [{"Expression": e} for e in [
  "(shift - 1) % 3 != 1 or shift // 2 == -2", "block_size_x // 48 * 48 != block_size_x or use_padding",
  "not (tile_size_x - 3) % 4", "int(shift / 3) != -1 and tile_size_y ** 2 <= 16",
  "block_size_y in [1, 4, 16] and 32 <= block_size_x * block_size_y"]]'
space_count "conditions where Python's // % truth int() differ from C's" "$T/pysem.json" filter_width=17 filter_height=17 read_only=0
"$SPAK" import t1 --set filter_width=17 --set filter_height=17 "$T/pysem.json" 2>/dev/null | grep -F 'restrict:' >"$T/pysem.restrict"
check "... written with spak's operators: the floor forms only where a value may be negative" \
    "grep -qF '((shift - 1) % 3 + 3) % 3 != 1' '$T/pysem.restrict' && grep -qF '(block_size_x - block_size_x % 48) / 48 * 48' '$T/pysem.restrict' &&
     grep -qF '!(((tile_size_x - 3) % 4 + 4) % 4 != 0)' '$T/pysem.restrict' && grep -qF '(shift - shift % 3) / 3 != -1' '$T/pysem.restrict'"

# ---- --set, and spak check on the JSON
"$SPAK" import t1 --set 'filter_width=[17]' --set filter_height=17 --set 'block_size_x=[2**i for i in range(4, 8)]' "$CONV" \
    >"$T/set.spak" 2>/dev/null
check "--set replaces Values (a list, one value, a comprehension) before Sizes are evaluated" \
    "grep -qF 'filter_width: [17]' '$T/set.spak' && grep -qF 'block_size_x: [16, 32, 64, 128]' '$T/set.spak' &&
     grep -qF 'count: (problem_x + 17 - 1) * (problem_y + 17 - 1)' '$T/set.spak'"
"$SPAK" import t1 --set nope=1 "$CONV" >/dev/null 2>"$T/err"
check "--set of a name that is no parameter of the file is an error" "grep -q \"error: --set nope: no tuning parameter of that name\" '$T/err'"
"$SPAK" check --set 'filter_width=[1.5]' "$CONV" >/dev/null 2>"$T/err"
check "spak check FILE.json --set: the values replaced before the file is read (a float for an int parameter refused)" \
    "[ \$? -eq 1 ] && grep -q \"error: --set filter_width: the value 1.5 is not of Type 'int'\" '$T/err'"
"$SPAK" run --home "$T/hs" --set nope=3 "$CONV" >/dev/null 2>"$T/err"
check "spak run FILE.json --set reaches the run's reading of the file (an unknown name refused)" \
    "[ \$? -eq 1 ] && grep -q 'error: --set nope: no tuning parameter of that name' '$T/err'"
"$SPAK" check --set filter_width=17 "$ROOT/examples/matmul-cpu.spak" >/dev/null 2>"$T/err"
check "--set with a spec that is not a T1 file is refused" "[ \$? -eq 1 ] && grep -q 'replaces the parameter values of a T1 file' '$T/err'"
"$SPAK" check --json "$CONV" >"$T/check.json" 2>/dev/null
check "spak check FILE.json: every diagnostic of the T1 reader is a warning, and they point into the JSON" \
    "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))[0]; ds=[x for x in d[\"diagnostics\"] if not x[\"message\"].startswith(\"in its translation\")]; sys.exit(0 if ds and all(x[\"severity\"] == \"warning\" and x[\"line\"] > 1 and x[\"file\"] == sys.argv[2] for x in ds) else 1)' '$T/check.json' '$CONV'"

# ---- a spec that imports the T1 file: its tuning_space overrides, its entries merge in
mkdir -p "$T/imp"
cat >"$T/imp/conv17.spak" <<'SPEC'
---
t1: "../kt/test_T1_input.json"
---
// the convolution problem with the filter fixed at 17x17
system Conv17 {
    tuning_space {
        filter_width: 17
        filter_height: [17]
        block_size_y: [1, 2, 4]
        extra: [0, 1]
    }
    kernel convolution_kernel {
        reference { source: "conv_ref.cu", entry: "convolution_naive" }
    }
    engineering_loop Tune { budget { evaluations: 12 } }
}
SPEC
(cd "$T" && "$SPAK" import t1 imp/conv17.spak) >"$T/merged.spak" 2>"$T/merged.err"
check "a spec importing the T1 file: its name, the T1 values it sets (Sizes evaluated with them), its own parameter" \
    "grep -q '^system Conv17 {' '$T/merged.spak' && grep -qF 'filter_width: 17' '$T/merged.spak' &&
     grep -qF 'block_size_y: [1, 2, 4]' '$T/merged.spak' && grep -qF 'extra: [0, 1]' '$T/merged.spak' &&
     grep -qF 'count: (problem_x + 17 - 1) * (problem_y + 17 - 1)' '$T/merged.spak' && grep -qF 'count: 289' '$T/merged.spak'"
check "... its kernel entries merged into the kernel block, its loop's budget replacing the translation's, the kernel found beside the T1 file" \
    "grep -qF 'reference { source: \"conv_ref.cu\", entry: \"convolution_naive\" }' '$T/merged.spak' &&
     grep -qF 'entry: \"convolution_kernel\"' '$T/merged.spak' && grep -qF 'budget { evaluations: 12 }' '$T/merged.spak' &&
     ! grep -qF 'evaluations: 30' '$T/merged.spak' && grep -qF \"source: \\\"$T/kt/convolution.cu\\\"\" '$T/merged.spak'"
"$SPAK" fmt "$T/imp/conv17.spak" >"$T/fmt.out" 2>&1
check "spak fmt prints the importing spec as written, not its merge" "grep -q '^t1: ' '$T/fmt.out' && ! grep -q 'kernel_tuner\|grid:' '$T/fmt.out'"
sed 's|t1: "../kt/test_T1_input.json"|t1: "../kt/nope.json"|' "$T/imp/conv17.spak" >"$T/imp/nope.spak"
"$SPAK" check "$T/imp/nope.spak" >/dev/null 2>"$T/nope.err"
check "an importing spec whose T1 file is missing: an error that names it" "[ $? -eq 1 ] && grep -q 'error: t1: .*nope.json' '$T/nope.err'"

# ---- each refused T1 feature: its message at file:line:col, from import and from check
refused() {  # NAME MESSAGE-REGEX EDIT
    variant "$1" "$3"
    "$SPAK" import t1 "$T/$1.json" >/dev/null 2>"$T/$1.err"
    local rc=$?
    "$SPAK" check "$T/$1.json" >/dev/null 2>"$T/$1.cerr"
    local crc=$?
    if [ $rc -eq 1 ] && [ $crc -eq 1 ] && grep -qE "^$T/$1.json:[0-9]+:[0-9]+: error: $2" "$T/$1.err" &&
        grep -qE "^$T/$1.json:[0-9]+:[0-9]+: error: $2" "$T/$1.cerr"; then
        ok "refused, $1: $(grep -m1 -oE "error: $2.*" "$T/$1.err" | cut -c1-150)"
    else
        notok "refused, $1 (import exit $rc, check exit $crc)" "$(grep -m2 error "$T/$1.err")"
    fi
}
P='d["ConfigurationSpace"]["TuningParameters"]'
C='d["ConfigurationSpace"]["Conditions"][0]'
K='d["KernelSpecification"]'
A='d["KernelSpecification"]["Arguments"]'
refused opencl "KernelSpecification.Language: 'OpenCL' is not supported \(CUDA is\)" "$K[\"Language\"] = \"OpenCL\""
refused lambda "TuningParameters 'tile_size_x' Values: .*a lambda is not supported" "$P[4][\"Values\"] = \"list(map(lambda i: i, range(3)))\""
refused two_for "TuningParameters 'tile_size_y' Values: .*more than one 'for'" "$P[5][\"Values\"] = \"[i*j for i in range(3) for j in range(2)]\""
refused ternary "Conditions\[0\] Expression: .*a conditional expression \(X if C else Y\) is not supported" "$C[\"Expression\"] = \"1 if use_padding else 0\""
refused function "Conditions\[0\] Expression: 'sqrt\(block_size_x\) > 4': this function is not supported" "$C[\"Expression\"] = \"sqrt(block_size_x) > 4\""
refused attribute "Conditions\[0\] Expression: .*attribute access \('\.'\) is not supported" "$C[\"Expression\"] = \"math.pi > use_padding\""
refused dict "TuningParameters 'read_only' Values: .*a dict or set display is not supported" "$P[7][\"Values\"] = \"{0, 1}\""
refused bitwise "Conditions\[0\] Expression: .*the bitwise operator '&' is not supported" "$C[\"Expression\"] = \"block_size_x & 16 == 0\""
refused pow_param "Conditions\[0\] Expression: .*'\*\*' becomes a spak expression only with a constant exponent" "$C[\"Expression\"] = \"2 ** tile_size_x <= block_size_x\""
refused in_param "Conditions\[0\] Expression: .*'in' needs a list of constants" "$C[\"Expression\"] = \"tile_size_x in [tile_size_y, 2]\""
refused cond_call "Conditions\[0\] Expression: 'max\(tile_size_x, 2\) <= 4': this call .*has no spak condition expression" "$C[\"Expression\"] = \"max(tile_size_x, 2) <= 4\""
refused size_list "Arguments 'd_filter' Size: .*a parameter is its list of values in a Size: use max\(P\)" "$A[2][\"Size\"] = \"filter_width * 33\""
refused size_eval "Arguments 'd_filter' Size: .*division by zero" "$A[2][\"Size\"] = \"max(filter_width) // (min(tile_size_x) - 1)\""
refused no_problem "KernelSpecification: ProblemSize is required" "del $K[\"ProblemSize\"]"
refused cmem_write "Arguments 'd_filter': a MemType Constant argument is read by the kernel only: AccessType must be ReadOnly" "$A[2][\"AccessType\"] = \"ReadWrite\""
refused problem_expr "ProblemSize\[0\]: only integers are supported" "$K[\"ProblemSize\"] = [\"4096 * tile_size_x\", 4096]"
refused griddiv_name "GridDivY\[1\]: 'tile_y': the name 'tile_y' means nothing here" "$K[\"GridDivY\"][1] = \"tile_y\""
refused fill_gen "Arguments 'input_image': FillType 'Generator' is not supported" "$A[1][\"FillType\"] = \"Generator\""
refused mem_local "Arguments 'output_image': MemoryType 'Local' is not supported" "$A[0][\"MemoryType\"] = \"Local\""
refused vec_type "Arguments 'd_filter': Type 'float4' is not supported" "$A[2][\"Type\"] = \"float4\""
refused out_ro "Arguments 'input_image': an Output cannot be ReadOnly" "$A[1][\"Output\"] = 1"
refused value_type "TuningParameters 'use_padding' Values: the value 1.5 is not of Type 'int'" "$P[6][\"Values\"] = \"[0, 1.5]\""
refused overflow "TuningParameters 'block_size_y' Values: .*integer overflow in '\*\*'" "$P[3][\"Values\"] = \"[2**i for i in range(70)]\""
refused size_name "TuningParameters 'problem_x': the name of a problem size in the translation" "$P[7][\"Name\"] = \"problem_x\""
"$SPAK" import t1 --set 'tile_size_x=[1, 2' "$CONV" >/dev/null 2>"$T/err"
check "a --set value that does not parse: an error naming --set and the construct" \
    "[ \$? -eq 1 ] && grep -qE 'error: --set tile_size_x: .\\[1, 2.: the expression ends too early' '$T/err'"
printf '{"ConfigurationSpace": {\n  "TuningParameters": [,]\n}}\n' >"$T/notjson.json"
"$SPAK" check "$T/notjson.json" >/dev/null 2>"$T/notjson.err"
check "refused, not JSON: jansson's line and column" "grep -qE '^$T/notjson.json:2:2[0-9]: error: not JSON' '$T/notjson.err'"
"$SPAK" import t1 "$T/two_for.json" >/dev/null 2>"$T/err"
check "a refusal's column points into the expression (the second 'for')" \
    "grep -qE '^$T/two_for.json:[0-9]+:$(( $(grep -m1 -n 'for j in' "$T/two_for.json" | cut -d: -f2- | grep -bo 'for j' | cut -d: -f1) + 1 )): error' '$T/err'"

# ---- the CUDA kernels of the T1 files compile through spak build (nvcc)
with_measure() {  # the judge's measure command comes with the kernel block (docs/declared-kernels.md); spak build needs one
    sed 's|            metric: "time_ms"|            cmd: "true"\n            metric: "time_ms"|' "$1" >"$2"
}
NVCC=$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then
    skip "the convolution kernel compiles through spak build" "nvcc is not installed"
    skip "MemType Constant: memory \"constant\" and its symbol in the cubin" "nvcc is not installed"
    skip "MemType Constant: spak run and spak-judge-cuda" "nvcc is not installed"
    skip "vector_add compiles" "nvcc is not installed"
    skip "the convolution kernel compiles at every point of a small space" "nvcc is not installed"
else
    "$SPAK" import t1 --set filter_width=17 --set filter_height=17 --set block_size_x=16,128 --set block_size_y=8 \
        --set tile_size_x=1,4 --set tile_size_y=2 --set use_padding=0 --set read_only=1 -o "$T/conv4.t1.spak" "$CONV" 2>/dev/null
    with_measure "$T/conv4.t1.spak" "$T/conv4.spak"
    "$SPAK" build --home "$T/h" "$T/conv4.spak" >"$T/build.out" 2>&1
    check "the convolution kernel compiles through spak build at 4 points (the sources found beside the T1 file)" \
        "[ $? -eq 0 ] && grep -q '4 built, 0 failed' '$T/build.out'"
    # MemType Constant: the translation says memory "constant", the cubin holds the __constant__ symbol
    # cuModuleGetGlobal finds, and spak run hands spak-judge-cuda a decl it accepts up to the device
    cub=$(grep "ok .*\.cubin$" "$T/build.out" | tail -1 | awk '{print $NF}')
    check "MemType Constant: memory \"constant\" on d_filter, 289 floats, whose __constant__ symbol (33*33 floats) is in the candidate's cubin" \
        "grep -qF 'arg d_filter { type: \"f32\", count: 289, fill: \"normal\", access: \"read\", memory: \"constant\" }' '$T/conv4.t1.spak' &&
         readelf -sW '$cub' | grep -qE ' 4356 OBJECT .* d_filter\$'"
    if [ -x "$B/spak-judge-cuda" ]; then
        chmod 755 "$T/h"
        "$SPAK" run --home "$T/h" --json --quiet --strategy grid --budget 1 --no-learn "$T/conv4.t1.spak" >/dev/null 2>&1
        res=$(python3 - "$T/h" <<'PY'
import glob, json, os, sqlite3, sys
h = sys.argv[1]
decls = glob.glob(os.path.join(h, "runs", "*", "e*.lib", "decl.json"))
if not decls:
    print("no decl written"); sys.exit()
d = json.load(open(decls[0]))
a = {x["name"]: x for x in d["args"]}
st, err = sqlite3.connect(os.path.join(h, "spak.db")).execute("select status, stderr_tail from evaluations").fetchone()
bad = []
if a["d_filter"].get("memory") != "constant" or "memory" in a["input_image"]:
    bad.append("memory %s" % [(k, v.get("memory")) for k, v in a.items()])
if a["output_image"].get("fill_args") != [0.0]:
    bad.append("a constant fill's fill_args %s" % a["output_image"].get("fill_args"))
if not ("no CUDA device" in (err or "") or st == "done"):
    bad.append("the judge: %s %s" % (st, (err or "")[-200:]))
print("; ".join(bad) or "ok")
PY
)
        check "MemType Constant: spak run writes memory \"constant\" into the decl and spak-judge-cuda accepts it up to the device ($res)" '[ "$res" = ok ]'
    else
        skip "MemType Constant: spak run and spak-judge-cuda" "$B/spak-judge-cuda is not built (make with NVCC)"
    fi
    # the defines as kdecl's params_as "defines" writes them, names kept as written (vector_add has no
    # default for block_size_x): every point, nvcc straight from the points spak lists, with the file's flags
    nv_points() {  # T1_FILE CU SETS...: 0 when every listed point compiles to a cubin
        local f=$1 cu=$2 line defs bad=0 k=0
        shift 2
        "$SPAK" import t1 "$@" --points "$f" 2>/dev/null >"$T/nvp.jsonl"
        while IFS= read -r defs; do
            k=$((k + 1))
            "$NVCC" -std=c++11 -arch=sm_90 -cubin -o "$T/k$k.cubin" $defs "$cu" >"$T/nv.err" 2>&1 || { bad=1; sed 's/^/# /' "$T/nv.err" | head -5; }
        done < <(python3 -c 'import json,sys; [print(" ".join("-D%s=%s" % kv for kv in json.loads(l)["point"].items())) for l in open(sys.argv[1])]' "$T/nvp.jsonl")
        [ $k -gt 0 ] && [ $bad -eq 0 ]
    }
    check_run "vector_add compiles (nvcc -cubin, -Dblock_size_x=V as written) at every point of its space" \
        nv_points "$T/vadd.json" "$T/vector_add.cu" --set block_size_x=128,1024
    check_run "the convolution kernel compiles (nvcc -cubin, the defines as written) at every point of a small space (the condition keeps 2 of 4)" \
        nv_points "$CONV" "$T/kt/convolution.cu" --set filter_width=17 --set filter_height=3 --set block_size_x=16,128 \
            --set block_size_y=8 --set tile_size_x=1,4 --set tile_size_y=2 --set use_padding=1 --set read_only=1
fi
# ---- T4 out: a declared kernel's results, parameter names as written, valid against Kernel Tuner's T4 schema
# (the records of a stand-in for the declared-kernel judge: family "declared", the kernel's name, no reference;
# nothing built: the judge itself comes with decl-cpu and decl-cuda)
cat >"$T/judge.py" <<'PY'
import json, sys
b = int(sys.argv[1])
for t, d in (("Correctness", {"passed": True}), ("Performance", {"time_ms": 1.0 + 64.0 / b})):
    d.update(type=t, shape="problem_x=10000000", family="declared", kernel="vector_add", trusted=False)
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)
PY
"$SPAK" import t1 --set block_size_x=128,256,512 -o "$T/vt4.t1.spak" "$T/vadd.json" 2>/dev/null
sed -e 's|            metric: "time_ms"|            cmd: "python3 '"$T"'/judge.py {{block_size_x}}"\n            metric: "time_ms"|' \
    -e 's|strategy: "default"|strategy: "grid"|' -e '/^        source: /d' \
    "$T/vt4.t1.spak" >"$T/vt4.spak"
R=$("$SPAK" run --home "$T/h4" --json --budget 3 "$T/vt4.spak" 2>"$T/run4.err" | jlast 'd["run_id"]' 2>/dev/null)
"$SPAK" export --home "$T/h4" --format t4 -o "$T/v.t4.json" "$R" 2>"$T/t4.err"
check "export --format t4 of a run of the translated T1 file exits 0" "[ $? -eq 0 ] && [ -n '$R' ]"
if "$PY" - "$KT/kernel_tuner/schema/T4/1.0.0/results-schema.json" "$T/v.t4.json" >"$T/t4.check" 2>&1 <<'PY'
import json, sys, jsonschema
schema, doc = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.validate(doc, schema)
rs = doc["results"]
assert len(rs) == 3, rs
assert all(list(r["configuration"]) == ["block_size_x"] for r in rs), [r["configuration"] for r in rs]
assert sorted(r["configuration"]["block_size_x"] for r in rs) == [128, 256, 512]
meas = [{m["name"]: m["value"] for m in r["measurements"]} for r in rs]
assert all(m.get("kernel") == "vector_add" and m.get("spak_trusted") == "false" for m in meas), meas
assert doc["metadata"].get("kernel") == "vector_add", doc["metadata"]
print("3 results")
PY
then
    ok "T4: valid against the sdist's T4 schema; configuration as the T1 file names it; the kernel and 'spak_trusted' carried"
else
    notok "T4 of the translated T1 file" "$(tail -3 "$T/t4.check")" "$(tail -2 "$T/run4.err")"
fi

echo "1..$n"
