#!/usr/bin/env bash
# seconds: 59 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# apart: survivors (tests/run.sh: never beside trust_cpu or declared of the same build: check.py survivors counts, and kills, every lingering runner of the build, the other suite's too)
# tests/suites/declared.sh BUILD_DIR - declared kernels on the CPU (issue 17),
# end to end through `spak run` (TAP):
#   - each example of examples/declared/ (softmax, layer normalisation, sum):
#     every point done, correct and timed; the judge's records name the
#     family "declared" and the kernel, every shape (held-out ones included)
#     passed its check, the decl file spak wrote has every expression
#     evaluated;
#   - wrong variants caught: softmax off by one, softmax normalised wrongly,
#     layernorm with the sample variance (n - 1);
#   - a candidate writing its read-only argument caught (the write faults);
#   - the adversarial classes of tests/trust against the softmax ABI
#     (tests/declared/): stale output after the checked calls, work after
#     return, reading the judge's files with a forged record on stdout, a fork
#     left writing the output; after each, nothing of it runs and no forged
#     record is stored as trusted;
#   - a candidate that solves the judge's input generator from its inputs
#     predicts none of the later calls' inputs, nor a matmul check's
#     Freivalds vectors (tests/declared/redteam/);
#   - held-out shapes drawn at run time: two in every decl (0600, new each
#     evaluation, the second odd, within a declared range and step), checked
#     once and recorded "drawn"; kernels right only on the listed shapes
#     (listed_only.c, odd_rows.c) caught by them; read_decl.c finds them in
#     neither argv, environment nor the decl (and does in a readable copy);
#   - without a reference: every record says "trusted": false and the
#     evaluation is stored as untrusted;
#   - the judge refuses a decl file it cannot honour, naming the field.
# Runtime: about 3 minutes on 2 loaded cores. KEEP=1 keeps the scratch dir.
set -u
. "$(dirname "$0")/../tap.sh"
suite_init declared "${1:-build}"
export SPAK_TRUST_BUILD="$B" # check.py counts lingering processes of this build only
. "$ROOT/tests/trust/checkd.sh" # $CHECK: check.py, one process for the suite
EX=$T/ex
mkdir -p "$EX" "$T/h"
cp -r "$ROOT/examples/declared/." "$EX/"
cp "$ROOT"/tests/declared/*.c "$ROOT"/tests/declared/*.h "$EX/softmax/"
chmod -R a+rX "$EX"

WRONG='wrong|rel_err|unwritten|not written|nan|stale|cached'

# run NAME SPEC: spak run in home $T/h/NAME; $T/NAME.run, $T/NAME.show
run() {
    local name=$1 spec=$2 id
    H=$T/h/$name
    "$SPAK" run --home "$H" --json --no-learn --eval-timeout 300 "$spec" >"$T/$name.run" 2>&1 </dev/null
    id=$(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' "$T/$name.run" | head -1)
    "$SPAK" show --json --home "$H" "$id" >"$T/$name.show" 2>>"$T/$name.run"
}

# records NAME: every stored trace record of NAME's run, one JSON a line
records() { sql "$T/h/$1/spak.db" "select record_json from traces where valid = 1"; }

# variant SPEC NAME CAND: a copy of example SPEC whose design space is the one
# candidate CAND, as $EX/NAME.spak
variant() {
    sed -e "s/variant: \[[^]]*\]/variant: [\"$3\"]/" -e 's/evaluations: [0-9]*/evaluations: 1/' \
        -e '/threads: \[/d' "$EX/$1" >"$EX/$2.spak"
}

# quick SPEC: the judge's default command (src/spec/kernel.h) with the
# smallest window, 5 timed batches, for a run whose checks read records, not
# a time: the default's 0.2 s of candidate time, every timed call checked
# and settled, took 5 s a shape of 1024x1024 (2.5 s with this). Not for the
# examples as shipped (their default command is what they test), nor for
# predict (each timed call is a chance for it to predict one)
quick() {
    sed -i 's|^\( *\)measure {|&\n\1    cmd: "{{harness}} --family declared --decl {{decl}} --candidate {{candidate}} --min-time 0 --ceilings-cache {{ceilings}}"|' "$1"
}

expect() { # NAME KIND REGEX WHAT
    local out
    out=$($CHECK outcome "$T/$1.show" "$2" "$3" 0 2>&1)
    if [ $? -eq 0 ]; then ok "$1: $4 ($out)"; else notok "$1: $4" "$out" "$(tail -3 "$T/$1.run" | cat -v)"; fi
}

after() {
    local out
    out=$($CHECK survivors "$T" 2>&1) && ok "$1: nothing of it still runs" || notok "$1: nothing of it still runs" "$out"
    out=$($CHECK forged "$H" 2>&1) && ok "$1: no forged record stored as trusted" || notok "$1: no forged record" "$out"
}

# ---- the examples, end to end ------------------------------------------------
for ex in softmax layernorm reduce; do
    run "$ex" "$EX/$ex-cpu.spak"
    out=$(python3 - "$T/$ex.show" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
evs = d.get("evaluations") or []
bad = [e["candidate"] for e in evs if not (e["status"] == "done" and e["correct"] is True and (e["metric"] or 0) > 0)]
print("%d evaluations, %d not done/correct/timed %s" % (len(evs), len(bad), bad))
sys.exit(0 if len(evs) == 3 and not bad else 1)
PY
    )
    [ $? -eq 0 ] && ok "$ex: every variant done, correct and timed ($out)" || notok "$ex: every variant done, correct, timed" "$out" "$(tail -3 "$T/$ex.run")"
    out=$(records "$ex" | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
kinds = {}
for r in recs: kinds.setdefault(r.get("type"), []).append(r)
c, p = kinds.get("Correctness", []), kinds.get("Performance", [])
assert c and p, "no Correctness or Performance records"
assert all(r.get("family") == "declared" for r in c), "a Correctness record without family declared"
assert all(r.get("kernel") for r in recs), "a record without the kernel name"
assert all(r.get("passed") for r in c), "a failed check"
assert any(r.get("heldout") for r in c), "no held-out shape checked"
assert all("trusted" not in r for r in recs), "a record says untrusted"
assert all(r.get("time_ms", 0) > 0 and not r.get("heldout") for r in p), "a bad Performance record"
assert all(r.get("checks", 0) >= 3 for r in c if not r.get("heldout")), "timed calls not checked"
print("%d Correctness, %d Performance, kernel %s" % (len(c), len(p), c[0]["kernel"]))' 2>&1)
    [ $? -eq 0 ] && ok "$ex: the judge's records ($out)" || notok "$ex: the judge's records" "$out"
done
decl=$(ls "$T"/h/softmax/runs/*/e1.lib/decl.json 2>/dev/null | head -1)
out=$(python3 - "$decl" <<'PY' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "spak-kernel-decl/1" and d["entry"] == "softmax_rows", d
assert d["reference"]["kind"] == "function" and d["reference"]["entry"] == "softmax_ref"
s = {x["label"]: x for x in d["shapes"]}
a = s["rows=37,cols=77"]
assert a["heldout"] and a["counts"] == [37 * 77, 37 * 77, 0, 0] and a["values"] == [None, None, 37, 77], a
assert s["rows=1024,cols=1024"]["flops"] == 5 * 1024 * 1024
print("counts, values, flops evaluated per shape")
PY
)
[ $? -eq 0 ] && ok "softmax: decl.json ($out)" || notok "softmax: decl.json" "$out"

# ---- held-out shapes drawn at run time -----------------------------------------
# every decl holds two held-out shapes spak drew from the OS (each size in
# 1..the largest listed; the second odd), new for each evaluation, in a file
# only its user can read; the judge checked them ("drawn": true) and they
# count in nothing (every example above passed them, 3 runs of 3 evaluations)
out=$(python3 - "$T"/h/softmax/runs/*/e*.lib/decl.json <<'PY' 2>&1
import json, os, stat, sys
seen = set()
for f in sys.argv[1:]:
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, (f, oct(os.stat(f).st_mode))
    d = json.load(open(f))
    dr = [s for s in d["shapes"] if s.get("drawn")]
    assert len(dr) == 2 and all(s["heldout"] for s in dr) and d["shapes"][-2:] == dr, d["shapes"]
    for i, s in enumerate(dr):
        v = dict((a, int(b)) for a, b in (x.split("=") for x in s["label"].split(",")))
        assert 1 <= v["rows"] <= 1024 and 1 <= v["cols"] <= 1024, s
        assert i == 0 or (v["rows"] % 2 and v["cols"] % 2), s          # the second: odd sizes
        assert s["counts"] == [v["rows"] * v["cols"]] * 2 + [0, 0] and s["values"][2:] == [v["rows"], v["cols"]], s
        seen.add(s["label"])
assert len(seen) == 2 * len(sys.argv[1:]), seen                       # new draws each evaluation
print("%d decls, 0600, drawn %s" % (len(sys.argv[1:]), " ".join(sorted(seen))))
PY
)
[ $? -eq 0 ] && ok "softmax: each decl holds two held-out shapes drawn at run time ($out)" || notok "softmax: drawn shapes in the decl" "$out"
out=$(records softmax | python3 -c '
import json, sys
c = [r for r in map(json.loads, filter(str.strip, sys.stdin)) if r.get("type") == "Correctness"]
d = [r for r in c if r.get("drawn")]
assert len(d) == 6 and all(r["heldout"] and r["passed"] and r.get("checks") == 1 for r in d), d
print(" ".join(r["shape"] for r in d))' 2>&1)
[ $? -eq 0 ] && ok "softmax: the judge checked each drawn shape once and recorded it held out ($out)" || notok "softmax: drawn records" "$out"

# a range in the kernel block bounds the draws and keeps the kernel's stated
# divisibility (cols a multiple of 16, from 16 to 1024; rows 1..2048, above
# the largest listed)
sed -e 's/variant: \[[^]]*\]/variant: ["naive"]/' -e 's/evaluations: [0-9]*/evaluations: 2/' -e '/threads: \[/d' \
    -e 's/heldout: \[.*\]/heldout: ["rows=37,cols=80", "rows=1,cols=16"]/' \
    -e 's|        sizes: \["rows", "cols"\]|&\n        range rows { max: 2048 }\n        range cols { min: 16, max: 1024, step: 16 }|' \
    "$EX/softmax-cpu.spak" >"$EX/ranged.spak"
run ranged "$EX/ranged.spak"
out=$(python3 - "$T"/h/ranged/runs/*/e*.lib/decl.json <<'PY' 2>&1
import json, sys
labels = []
for f in sys.argv[1:]:
    dr = [s for s in json.load(open(f))["shapes"] if s.get("drawn")]
    assert len(dr) == 2, dr
    for i, s in enumerate(dr):
        v = dict((a, int(b)) for a, b in (x.split("=") for x in s["label"].split(",")))
        assert 1 <= v["rows"] <= 2048 and 16 <= v["cols"] <= 1024 and v["cols"] % 16 == 0, s
        assert i == 0 or (v["rows"] % 2 and (v["cols"] // 16) % 2), s
        labels.append(s["label"])
assert len(labels) == 2 * len(sys.argv[1:]) > 0, sys.argv
print(" ".join(labels))
PY
)
[ $? -eq 0 ] && ok "ranged: the drawn sizes keep the declared range and step ($out)" || notok "ranged: drawn within the range" "$out" "$(tail -3 "$T/ranged.run")"
out=$(python3 -c 'import json,sys; ev=json.load(open(sys.argv[1]))["evaluations"]; print([(e["status"], e["correct"]) for e in ev]); sys.exit(0 if len(ev) == 1 and all(e["status"] == "done" and e["correct"] is True for e in ev) else 1)' "$T/ranged.show" 2>&1)
[ $? -eq 0 ] && ok "ranged: the honest kernel passes its drawn shapes ($out)" || notok "ranged: honest and done" "$out"

# right only on the shapes it can know: accepted while every held-out shape
# was listed; a drawn shape catches each (the failing record is a drawn one)
cp "$ROOT"/tests/declared/redteam/{listed_only,odd_rows,read_decl}.c "$EX/softmax/"
for cheat in listed_only odd_rows; do
    variant softmax-cpu.spak "$cheat" "$cheat"
    run "$cheat" "$EX/$cheat.spak"
    expect "$cheat" fail "$WRONG" "$cheat (right only on the listed shapes) is caught"
    out=$(records "$cheat" | python3 -c '
import json, sys
c = [r for r in map(json.loads, filter(str.strip, sys.stdin)) if r.get("type") == "Correctness"]
bad = [r for r in c if r.get("passed") is False]
assert bad and all(r.get("drawn") for r in bad), [(r["shape"], r.get("drawn"), r.get("passed")) for r in c]
assert all(r["passed"] for r in c if not r.get("drawn")), "a listed shape failed"
print("failed at " + " ".join(r["shape"] for r in bad))' 2>&1)
    [ $? -eq 0 ] && ok "$cheat: every listed shape passes, a drawn one fails ($out)" || notok "$cheat: caught by a drawn shape" "$out"
done

# the drawn shapes are nowhere the runner can read before its calls: not its
# argv or environment, and the decl that holds them is closed to the sandbox
# uid (as root). read_decl.c is built knowing the decl's path; on a copy
# with the decl's mode it is refused and caught, on a world-readable copy it
# reads the drawn sizes and passes (the control: the mode is what holds)
if [ "$(id -u)" -eq 0 ]; then
    decl=$(ls "$T"/h/softmax/runs/*/e1.lib/decl.json | head -1)
    mkdir -p "$T/known" && chmod 755 "$T/known"
    cp -p "$decl" "$T/known/decl.json" && cp "$decl" "$T/known/open.json" && chmod 644 "$T/known/open.json"
    for m in decl open; do
        cc -O2 -shared -fPIC -DDECL_PATH="\"$T/known/$m.json\"" -I "$ROOT/tests/declared" \
            -o "$T/known/$m.so" "$ROOT/tests/declared/redteam/read_decl.c" -lm
        chmod 644 "$T/known/$m.so"
        "$B/spak-harness-cpu" --family declared --decl "$T/known/$m.json" --candidate "$T/known/$m.so" --check-only \
            >"$T/known/$m.out" 2>"$T/known/$m.err"
    done
    if grep -q 'redteam: decl: refused' "$T/known/decl.err" && grep -q 'redteam: cmdline: read, 0 ' "$T/known/decl.err" &&
        grep -q 'redteam: environ: read, 0 ' "$T/known/decl.err" &&
        grep '"passed":false' "$T/known/decl.out" | grep -q '"drawn":true'; then
        ok "read_decl: argv, environment and the 0600 decl give it no drawn size; a drawn shape catches it"
    else notok "read_decl: the drawn sizes stay out of its reach" "$(grep -a redteam "$T/known/decl.err" | head -4)" \
        "$(grep -c passed.:false "$T/known/decl.out") failed of $(grep -c '"type": *"Correctness"' "$T/known/decl.out") Correctness records" \
        "$(grep -o '"shape":"[^"]*"\|"passed":[a-z]*\|"drawn":true\|"reason":"[^"]\{0,120\}' "$T/known/decl.out" | paste -sd' ')" \
        "stderr's end: $(grep -av redteam "$T/known/decl.err" | tail -3)"; fi
    if grep -q 'redteam: decl: read' "$T/known/open.err" && ! grep -q '"passed":false' "$T/known/open.out" &&
        grep -q '"drawn":true' "$T/known/open.out"; then
        ok "read_decl (control): from a world-readable copy it learns the drawn sizes and passes"
    else notok "read_decl (control): a readable decl leaks" "$(grep -a redteam "$T/known/open.err" | head -4)"; fi
else
    skip "read_decl: the drawn sizes stay out of its reach" "not root: the runner runs as spak's own uid (docs/declared-kernels.md)"
fi

# ---- wrong variants ------------------------------------------------------------
variant softmax-cpu.spak off_by_one off_by_one
run off_by_one "$EX/off_by_one.spak"
expect off_by_one fail "$WRONG" "softmax off by one is caught"
variant softmax-cpu.spak wrong_norm wrong_norm
run wrong_norm "$EX/wrong_norm.spak"
expect wrong_norm fail "$WRONG" "softmax normalised wrongly is caught"
variant layernorm-cpu.spak bessel bessel
run bessel "$EX/bessel.spak"
expect bessel fail "$WRONG" "layernorm with the sample variance is caught"

# ---- a write to a read-only argument -------------------------------------------
variant softmax-cpu.spak ro_write ro_write
run ro_write "$EX/ro_write.spak"
expect ro_write fail 'read-only inputs \(argument x\)' "a write to the read-only x is caught, the argument named"
after ro_write

# ---- the adversarial classes of tests/trust against the softmax ABI ------------
variant softmax-cpu.spak stale stale
quick "$EX/stale.spak"
run stale "$EX/stale.spak"
expect stale fail "$WRONG" "stale output after the checked calls is caught"
after stale
variant softmax-cpu.spak late late
run late "$EX/late.spak"
expect late fail "$WRONG|after return|changed|late" "work after return is caught"
after late
variant softmax-cpu.spak forks forks
run forks "$EX/forks.spak"
expect forks fail "$WRONG|after return|changed|late|fork|syscall|denied|signal" "a fork writing after return is caught"
after forks
variant softmax-cpu.spak files files
quick "$EX/files.spak"
run files "$EX/files.spak"
out=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["evaluations"][-1]; print(e["status"], e["correct"], e["metric"]); sys.exit(0 if e["status"] == "done" and e["correct"] is True and e["metric"] > 0 else 1)' "$T/files.show" 2>&1)
[ $? -eq 0 ] && ok "files: reading the judge's files gains nothing: honest work, done ($out)" || notok "files: honest work done" "$out"
after files
log=$(sql "$T/h/files/spak.db" "select coalesce(stderr_tail,'') || coalesce(stdout_tail,'') from evaluations" 2>/dev/null)
if printf '%s' "$log" | grep -q 'files: ../spak.db: read\|files: /proc/1/environ: read'; then
    notok "files: spak's store and the judge's environment stay closed" "$(printf '%s' "$log" | grep 'files:')"
else ok "files: spak's store and the judge's environment stay closed"; fi

# ---- inputs the runner can predict ---------------------------------------------
# tests/declared/redteam/predict.c solves the judge's input generator from
# the values of one call (xoshiro256** moves linearly over GF(2)) and, in the
# untimed first warm-up, computes the inputs and outputs of the next timed
# calls. With one generator running through every input set it was accepted
# at a fraction of its honest time, every timed call checked and passing.
# Each input set now has a generator of its own, seeded by a draw the runner
# cannot predict (cpu_judge_secret): the solve still succeeds within a set
# (checked, so that this test cannot pass by the cheat breaking) and
# predicts nothing.
cp "$ROOT/tests/declared/redteam/predict.c" "$ROOT/tests/declared/redteam/solve.h" "$EX/softmax/"
variant softmax-cpu.spak predict predict
run predict "$EX/predict.spak"
log=$(sql "$T/h/predict/spak.db" "select coalesce(stderr_tail,'') from evaluations" 2>/dev/null)
if printf '%s' "$log" | grep -q "redteam: recovered the judge's generator .*reproduce"; then
    ok "predict: the candidate solves the generator of the inputs it was given"
else notok "predict: the candidate solves the generator of the inputs it was given" "$(printf '%s' "$log" | grep redteam | head -3)"; fi
if printf '%s' "$log" | grep -q 'redteam: hit'; then
    notok "predict: no later call's inputs were predicted" "$(printf '%s' "$log" | grep 'redteam: hit' | head -3)"
else ok "predict: no later call's inputs were predicted"; fi
out=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["evaluations"][-1]; print(e["status"], e["correct"]); sys.exit(0 if e["status"] in ("done", "failed") and e["correct"] is not None else 1)' "$T/predict.show" 2>&1)
[ $? -eq 0 ] && ok "predict: judged as honest work or failed ($out)" || notok "predict: judged" "$out"
after predict
# the same stream gave the built-in families' check seeds: the draw after a
# timed call's nonce seeded its Freivalds vectors, so mm_freivalds.c (the
# generator solved from A) wrote a rank-2 C with C x = A (B x) for exactly
# those vectors, O(n^2), and was accepted at 12.9x OpenBLAS at 1024^3 (the
# honest one-thread kernel: 0.12x). Now the check's seed is a secret draw.
cc -O2 -march=native -shared -fPIC -o "$EX/mm_freivalds.so" "$ROOT/tests/declared/redteam/mm_freivalds.c" -lm 2>"$T/mmf.build"
chmod a+r "$EX/mm_freivalds.so"
"$B/spak-harness-cpu" --family matmul --candidate "$EX/mm_freivalds.so" --shapes 1024x1024x1024 --heldout 64x48x40 \
    --min-time 0.2 >"$T/mmf.out" 2>"$T/mmf.err" </dev/null
if grep -q "redteam: recovered the judge's generator .*reproduce" "$T/mmf.err"; then
    ok "mm_freivalds: the candidate solves the generator from A"
else notok "mm_freivalds: the candidate solves the generator from A" "$(grep -a redteam "$T/mmf.err" | head -3)" "$(tail -3 "$T/mmf.build")"; fi
check "mm_freivalds: its rank-2 C fails the timed call's Freivalds check" \
    "grep -q '\"shape\":\"1024x1024x1024\",\"heldout\":false,\"passed\":false,.*wrong values.*freivalds2' '$T/mmf.out'"

# ---- no reference: untrusted ---------------------------------------------------
sed -e '/reference {/d' "$EX/softmax-cpu.spak" >"$EX/noref.spak"
sed -i -e 's/variant: \[[^]]*\]/variant: ["naive"]/' -e 's/evaluations: [0-9]*/evaluations: 1/' -e '/threads: \[/d' "$EX/noref.spak"
quick "$EX/noref.spak"
"$SPAK" check "$EX/noref.spak" >"$T/noref.check" 2>&1
check "noref: spak check warns that it runs untrusted" "grep -q 'no reference: it runs only as untrusted' '$T/noref.check'"
run noref "$EX/noref.spak"
out=$(records noref | python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin if l.strip()]
assert recs and all(r.get("trusted") is False for r in recs), "a record without trusted: false"
print(len(recs), "records, all trusted: false")' 2>&1)
[ $? -eq 0 ] && ok "noref: every record says trusted: false ($out)" || notok "noref: every record untrusted" "$out"
check "noref: the evaluation is stored as untrusted" \
    "sql '$T/h/noref/spak.db' 'select result_json from evaluations' | grep -q '\"trusted\": *false'"

# ---- decl files the judge refuses ----------------------------------------------
good=$(ls "$T"/h/softmax/runs/*/e1.lib/decl.json | head -1)
cand=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["candidate"])' "$good")
refuse() { # WHAT FIELD PYTHON-EDIT
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $3; json.dump(d, open(sys.argv[2], 'w'))" "$good" "$T/bad.json"
    out=$("$B/spak-harness-cpu" --family declared --decl "$T/bad.json" --candidate "$cand" 2>&1)
    rc=$?
    if [ $rc -eq 2 ] && printf '%s' "$out" | grep -q "$2"; then ok "judge refuses $1 ($(printf '%s' "$out" | head -1))"
    else notok "judge refuses $1" "rc=$rc" "$out"; fi
}
refuse "an unknown type" 'args\[0\].type' 'd["args"][0]["type"] = "f12"'
refuse "counts over the cap" 'shapes\[0\].counts\[0\]' 'd["shapes"][0]["counts"][0] = 1 << 40'
refuse "a missing reference" 'reference.path' 'd["reference"]["path"] = "/nonexistent/ref.so"'
# a spec that declares the baseline's fields: the declared judge has no baseline (its reference is a
# check), and a passing record leaves out what it has no value for (kernels/common/record_nulls.h), so
# the records fit the schema (a null there was rejected: the evaluation had no valid Performance record)
variant softmax-cpu.spak nullfree naive
quick "$EX/nullfree.spak"
sed -i 's|case Performance { shape: string, time_ms: float, gflops: float }|case Performance { shape: string, time_ms: float, gflops: float, ratio: float, baseline_time_ms: float }|' "$EX/nullfree.spak"
run nullfree "$EX/nullfree.spak"
out=$(python3 - "$T/nullfree.show" "$T/h/nullfree/spak.db" <<'PY' 2>&1
import json, sqlite3, sys
e = json.load(open(sys.argv[1]))["evaluations"][0]
bad = sqlite3.connect(sys.argv[2]).execute("select count(*) from traces where valid = 0 and case_name in ('Performance', 'Correctness')").fetchone()[0]
perf = [json.loads(r[0]) for r in sqlite3.connect(sys.argv[2]).execute("select record_json from traces where case_name = 'Performance'")]
assert e["status"] == "done", e
assert bad == 0, "%d invalid Performance or Correctness records" % bad
assert perf and all("ratio" not in p and "baseline_time_ms" not in p for p in perf), perf
print("done, %d Performance records without ratio or baseline_time_ms, none invalid" % len(perf))
PY
)
[ $? -eq 0 ] && ok "a spec declaring ratio: the baseline-less judge's passing records fit it ($out)" || notok "null-free passing records" "$out"

refuse "a library reference" 'reference.kind' 'd["reference"] = {"kind": "library", "name": "cblas_sgemm"}'
refuse "an output without tolerance" 'args\[1\].tolerance' 'del d["args"][1]["tolerance"]'
refuse "a CUDA kernel" 'language' 'd["language"] = "cuda"'

echo "1..$n"
