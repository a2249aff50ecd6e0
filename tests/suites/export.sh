#!/usr/bin/env bash
# parallel: yes (tests/run.sh: the compared runs are the toy measure's seeded samples, no clock)
# tests/suites/export.sh BUILD_DIR - results outside the database (TAP):
# `spak export` in each format validated against its schema (spak's JSON
# against docs/schemas/spak-export.schema.json, the CSV against the Table
# Schema docs/schemas/spak-export.csv-schema.json, T4 against the schema
# Kernel Tuner ships, tests/export/T4-1.0.0-results-schema.json) and
# against the store it came from; `spak compare` on runs of the engine
# tests' toy spec (tests/engine/measure.py --mode samples: 12 repetitions
# with 2% noise, --scale for a slower machine), as text and --json against
# docs/schemas/spak-compare.schema.json; held-out records and ill-typed
# fields kept out; the usage errors.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init export "$@"
V="python3 $ROOT/tests/export/validate.py"
SCH="$ROOT/docs/schemas"
H="$T/h"

# a toy spec whose measure command gets extra arguments $2, named $1
mkspec() {
    mkdir -p "$T/$1"
    cp "$ROOT/tests/engine/measure.py" "$T/$1/"
    sed -e "s|{{x}} {{y}}\"|{{x}} {{y}} $2\"|" "$ROOT/tests/engine/toy.spak" >"$T/$1/toy.spak"
    echo "$T/$1/toy.spak"
}
runid() { "$SPAK" run --home "$H" --json "$@" 2>/dev/null | jlast 'd["run_id"]'; }

A=$(runid --budget 6 "$(mkspec a '--mode samples')")
B=$(runid --budget 4 "$(mkspec b '--mode samples --scale 1.5 --noise-seed 1')")
C=$(runid --budget 6 "$(mkspec c '--mode samples --noise-seed 2')")
F=$(runid --budget 6 "$(mkspec f '--mode samples --fail-x 2')")
HO=$(runid --budget 4 "$(mkspec ho '--mode heldout')")
BAD=$(runid --budget 2 "$(mkspec bad '--mode badsamples')")
check "six runs of the toy spec to export and compare" "[ -n '$A' ] && [ -n '$B' ] && [ -n '$C' ] && [ -n '$F' ] && [ -n '$HO' ] && [ -n '$BAD' ]"

have_js=yes
python3 -c 'import jsonschema' 2>/dev/null || have_js=
valid() {  # name kind schema file
    if [ -z "$have_js" ] && [ "$2" = json ]; then
        skip "$1" "python3 jsonschema missing (scripts/deps.sh --test installs python3-jsonschema)"
    elif $V "$2" "$3" "$4" >"$T/valid.out" 2>&1; then
        ok "$1"
    else
        notok "$1" "$(head -5 "$T/valid.out")"
    fi
}

# 1. spak's JSON
"$SPAK" export --home "$H" "$A" >"$T/a.json"
check "export (json by default) exits 0" "[ $? -eq 0 ]"
valid "export json: valid against docs/schemas/spak-export.schema.json" json "$SCH/spak-export.schema.json" "$T/a.json"
"$SPAK" export --home "$H" --format json -o "$T/a2.json" "$A"
check "-o FILE writes what stdout gets" "cmp -s $T/a.json $T/a2.json"
python3 - "$H/spak.db" "$A" "$T/a.json" >"$T/a.check" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
d = json.load(open(sys.argv[3]))
ev = db.execute("select eval_id, status, metric from evaluations where run_id=? order by eval_id", (sys.argv[2],)).fetchall()
print([(e["eval_id"], e["status"], e["metric"]) for e in d["evaluations"]] == [tuple(r) for r in ev])
recs = {r[0]: json.loads(r[1]) for r in db.execute(
    "select eval_id, record_json from traces where run_id=? and case_name='Performance'", (sys.argv[2],))}
print(all(e["measurements"][0]["samples_ms"] == recs[e["eval_id"]]["samples_ms"] and
          len(e["measurements"][0]["samples_ms"]) == 12 for e in d["evaluations"]))
print(d["run"]["run_id"], d["run"]["metric"], d["run"]["objective"], d["evaluations"][0]["params"])
PY
check "export json: the evaluations, statuses and metrics of the store" "[ \"\$(sed -n 1p $T/a.check)\" = True ]"
check "export json: every repetition's time, as stored" "[ \"\$(sed -n 2p $T/a.check)\" = True ]"
check "export json: the run with its metric and objective, the parameters as values" "[ \"\$(sed -n 3p $T/a.check)\" = \"$A score maximize {'x': 1, 'y': 0}\" ]"

# held-out records count in nothing: not in the export either
"$SPAK" export --home "$H" -o "$T/ho.json" "$HO"
valid "export json of a run with held-out records: valid" json "$SCH/spak-export.schema.json" "$T/ho.json"
check "export json: no held-out record, one measurement per evaluation (the held-out shape's 20x is not one)" \
    "[ \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(r.get(\"heldout\") is True for e in d[\"evaluations\"] for r in e[\"records\"]), [len(e[\"measurements\"]) for e in d[\"evaluations\"]], max(m[\"ratio\"] for e in d[\"evaluations\"] for m in e[\"measurements\"]) < 20)' $T/ho.json)\" = '0 [1, 1, 1, 1] True' ]"
check "the store does hold those held-out records" "[ \"\$(sql $H/spak.db \"select count(*) from traces where run_id='$HO' and record_json like '%heldout%'\")\" = 4 ]"

# fields a record carries undeclared, of the wrong type, are null in the document
"$SPAK" export --home "$H" -o "$T/bad.json" "$BAD"
valid "export json: a record's ill-typed samples_ms, time_ms, ratio_ci leave the document valid" json "$SCH/spak-export.schema.json" "$T/bad.json"
check "export json: ill-typed fields are null in the measurement, kept as they were in the record" \
    "[ \"\$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))[\"evaluations\"][0]; m=e[\"measurements\"][0]; print(m[\"samples_ms\"], m[\"time_ms\"], m[\"ratio_ci\"], m[\"precision_reached\"], [r[\"samples_ms\"] for r in e[\"records\"] if \"samples_ms\" in r])' $T/bad.json)\" = \"None None None None ['12 13']\" ]"

# 2. CSV
"$SPAK" export --home "$H" --format csv -o "$T/a.csv" "$A"
valid "export csv: columns, order and types of docs/schemas/spak-export.csv-schema.json" csv "$SCH/spak-export.csv-schema.json" "$T/a.csv"
python3 - "$T/a.csv" "$T/a.json" >"$T/csv.check" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
d = json.load(open(sys.argv[2]))
print(len(rows) == len(d["evaluations"]))
print(all(r["candidate"] == e["candidate"] and r["param.x"] == str(e["params"]["x"]) and
          [float(x) for x in r["samples_ms"].split()] == e["measurements"][0]["samples_ms"] and
          float(r["time_ms"]) == e["measurements"][0]["time_ms"] for r, e in zip(rows, d["evaluations"])))
PY
check "export csv: one row per measurement; candidate keys with commas read back (quoted)" "[ \"\$(sed -n 1p $T/csv.check)\" = True ] && grep -q '\"x=1,y=0\"' $T/a.csv"
check "export csv: every number reads back equal to the JSON's (shortest round-trip form)" "[ \"\$(sed -n 2p $T/csv.check)\" = True ]"
"$SPAK" export --home "$H" --format csv -o "$T/f.csv" "$F"
valid "export csv of a run with failed candidates: valid" csv "$SCH/spak-export.csv-schema.json" "$T/f.csv"
check "export csv: a failed candidate has its row, empty measurement columns and its error" \
    "grep -q '^$F,[0-9]*,\"x=2,y=0\",2,0,failed,false,' $T/f.csv"
# a document with text a spreadsheet would run: exported from the file
python3 - "$T/a.json" "$T/evil.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["evaluations"][0]["error"] = '=HYPERLINK("http://x","y")'
d["evaluations"][0]["params"] = {"x": "-1+2", "y": 0}
d["evaluations"][0]["candidate"] = "@sum"
json.dump(d, open(sys.argv[2], "w"))
PY
"$SPAK" export --format csv -o "$T/evil.csv" "$T/evil.json"
check "export FILE: an exported document converts (csv from json)" "[ $? -eq 0 ] && [ \$(wc -l <$T/evil.csv) -eq 7 ]"
check "export csv: text that starts = + - @ gets a leading ' (numbers do not)" \
    "python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1], newline=\"\")))[0]; sys.exit(not (r[\"error\"].startswith(\"\x27=\") and r[\"param.x\"] == \"\x27-1+2\" and r[\"candidate\"] == \"\x27@sum\" and r[\"param.y\"] == \"0\"))' $T/evil.csv"

on_tty "$T/tty.out" "$SPAK" export --home "$H" --format csv "$F"
check "export csv on a terminal: the same lines, their CR dropped, no raw control byte" \
    "[ \"\$(tr -d '\r' <$T/f.csv | md5sum)\" = \"\$(tr -d '\r' <$T/tty.out | md5sum)\" ] && ! grep -q 'x0d' $T/tty.out"

# 3. T4
"$SPAK" export --home "$H" --format t4 -o "$T/a.t4.json" "$A"
valid "export t4: valid against the T4 results schema Kernel Tuner ships" json "$ROOT/tests/export/T4-1.0.0-results-schema.json" "$T/a.t4.json"
KT=$(python3 -c 'import kernel_tuner, os; print(os.path.join(os.path.dirname(kernel_tuner.__file__), "schema/T4/1.0.0/results-schema.json"))' 2>/dev/null)
if [ -n "$KT" ] && [ -f "$KT" ]; then
    valid "export t4: valid against an installed kernel_tuner's own copy" json "$KT" "$T/a.t4.json"
else
    skip "export t4: valid against an installed kernel_tuner's own copy" "kernel_tuner not installed (the vendored copy is checked above)"
fi
check "the vendored T4 schema is Kernel Tuner's, byte for byte (sha256 in tests/export/NOTICE)" \
    "[ \"\$(sha256sum $ROOT/tests/export/T4-1.0.0-results-schema.json | cut -d' ' -f1)\" = \"\$(grep -o 'sha256 [0-9a-f]*' $ROOT/tests/export/NOTICE | cut -d' ' -f2)\" ]"
"$SPAK" export --home "$H" --format t4 -o "$T/f.t4.json" "$F"
valid "export t4 of a run with failed candidates: valid" json "$ROOT/tests/export/T4-1.0.0-results-schema.json" "$T/f.t4.json"
python3 - "$T/a.t4.json" "$T/a.json" "$T/f.t4.json" >"$T/t4.check" <<'PY'
import json, sys
t4, d, f = (json.load(open(p)) for p in sys.argv[1:4])
print(t4["schema_version"], t4["metadata"]["timeunit"], len(t4["results"]) == len(d["evaluations"]))
print(all(r["configuration"] == e["params"] and r["times"]["runtimes"] == e["measurements"][0]["samples_ms"] and
          r["objectives"] == ["score"] for r, e in zip(t4["results"], d["evaluations"])))
print(sorted({(r["configuration"]["x"], r["invalidity"], r["correctness"]) for r in f["results"]}))
PY
check "export t4: schema 1.0.0, milliseconds, one result per evaluation" "[ \"\$(sed -n 1p $T/t4.check)\" = '1.0.0 milliseconds True' ]"
check "export t4: configuration = the parameters, runtimes = the repetitions, objective = the metric" "[ \"\$(sed -n 2p $T/t4.check)\" = True ]"
check "export t4: a candidate that fails its check is invalidity 'correctness', correctness 0" \
    "[ \"\$(sed -n 3p $T/t4.check)\" = \"[(1, 'correct', 1), (2, 'correctness', 0)]\" ]"

# 4. compare
"$SPAK" compare --home "$H" --json "$A" "$B" >"$T/ab.json"
check "compare --json exits 0" "[ $? -eq 0 ]"
valid "compare --json: valid against docs/schemas/spak-compare.schema.json" json "$SCH/spak-compare.schema.json" "$T/ab.json"
check "compare: B (1.5x the times) is slower on each of the 4 candidates both ran, B/A near 1.5, its interval around it" \
    "[ \"\$(jlast '[r[\"verdict\"] for r in d[\"rows\"]] == [\"slower\"] * 4, all(1.4 < r[\"ratio\"] < 1.6 and r[\"ratio_ci\"][0] < r[\"ratio\"] < r[\"ratio_ci\"][1] for r in d[\"rows\"]), d[\"counts\"][\"slower\"], round(d[\"geomean_ratio\"], 1)' <<<\"\$(tr -d '\n' <$T/ab.json)\")\" = 'True True 4 1.5' ]"
check "compare: the candidates only A ran are listed as such, B's absent" \
    "[ \"\$(jlast '[(o[\"candidate\"], o[\"in_other\"]) for o in d[\"only_in_a\"]], d[\"only_in_b\"]' <<<\"\$(tr -d '\n' <$T/ab.json)\")\" = \"[('x=2,y=0', 'absent'), ('x=2,y=1', 'absent')] []\" ]"
"$SPAK" compare --home "$H" --json "$A" "$C" >"$T/ac.json"
check "compare: the same times with other noise are the same on all 6 (each interval holds 1)" \
    "[ \"\$(jlast 'd[\"counts\"][\"same\"], d[\"counts\"][\"compared\"], all(r[\"ratio_ci\"][0] <= 1 <= r[\"ratio_ci\"][1] for r in d[\"rows\"])' <<<\"\$(tr -d '\n' <$T/ac.json)\")\" = '6 6 True' ]"
"$SPAK" compare --home "$H" --json "$A" "$F" >"$T/af.json"
check "compare: candidates that failed in B are in only_in_a with B's status" \
    "[ \"\$(jlast '[(o[\"candidate\"], o[\"in_other\"]) for o in d[\"only_in_a\"]], d[\"counts\"][\"compared\"]' <<<\"\$(tr -d '\n' <$T/af.json)\")\" = \"[('x=2,y=0', 'failed'), ('x=2,y=1', 'failed')] 4\" ]"
"$SPAK" export --home "$H" -o "$T/b.json" "$B"
"$SPAK" compare --json "$T/a.json" "$T/b.json" >"$T/ab-files.json"
check "compare: two exported files (another machine's run) give what the run ids give" \
    "python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(a[\"rows\"] != b[\"rows\"] or a[\"counts\"] != b[\"counts\"])' $T/ab.json $T/ab-files.json"
python3 - "$T/b.json" "$T/b-shape.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["evaluations"][0]["measurements"][0]["shape"] = "64x64x64"
json.dump(d, open(sys.argv[2], "w"))
PY
"$SPAK" compare --json "$T/a.json" "$T/b-shape.json" >"$T/ab-shape.json"
check "compare: a candidate done in both without a shape in common still has its row, verdict unknown, no numbers" \
    "[ \"\$(jlast '[(r[\"candidate\"], r[\"verdict\"], r[\"ratio\"]) for r in d[\"rows\"]][0], d[\"counts\"][\"compared\"]' <<<\"\$(tr -d '\n' <$T/ab-shape.json)\")\" = \"('x=1,y=0', 'unknown', None) 4\" ]"
"$SPAK" compare --home "$H" "$A" "$B" >"$T/ab.txt"
check "compare for people: a line per candidate with B/A, the interval and the verdict, the one-run candidates, the counts" \
    "grep -qE '^x=1,y=0 +- +[0-9.]+ +[0-9.]+ +1\.[45][0-9]* +\[1\.[0-9]+-1\.[0-9]+\] +slower' $T/ab.txt && grep -q '^only in A: x=2,y=1 (B: absent)' $T/ab.txt && grep -q '^4 compared: 0 faster, 4 slower, 0 same, 0 unknown; geometric mean B/A 1\.' $T/ab.txt"
"$SPAK" compare --home "$H" --json --level 0.5 "$A" "$C" >"$T/ac50.json"
check "compare --level 0.5: narrower intervals than 0.95" \
    "python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(not all(x[\"ratio_ci\"][1]-x[\"ratio_ci\"][0] < y[\"ratio_ci\"][1]-y[\"ratio_ci\"][0] for x,y in zip(a[\"rows\"], b[\"rows\"])) or a[\"level\"] != 0.5)' $T/ac50.json $T/ac.json"
"$SPAK" compare --home "$H" --json "$A" "$HO" >"$T/aho.json"
check "compare: a run without repetitions gives the point from time_ms and verdict unknown" \
    "[ \"\$(jlast 'sorted({r[\"verdict\"] for r in d[\"rows\"]}), all(r[\"ratio_ci\"] is None and r[\"ratio\"] > 0 for r in d[\"rows\"])' <<<\"\$(tr -d '\n' <$T/aho.json)\")\" = \"['unknown'] True\" ]"

# 5. errors
"$SPAK" export --home "$H" r20000101-999 >/dev/null 2>"$T/e1"
rc=$?
check "export of a run that does not exist: exit 1, says so" "[ $rc -eq 1 ] && grep -q \"no run 'r20000101-999'\" $T/e1"
"$SPAK" export --home "$H" --format xml "$A" >/dev/null 2>"$T/e2"
rc=$?
check "export --format xml: usage error (exit 2) naming the formats" "[ $rc -eq 2 ] && grep -q 'json, csv or t4' $T/e2"
"$SPAK" compare --home "$H" "$A" >/dev/null 2>"$T/e3"
rc=$?
check "compare with one run: usage error (exit 2)" "[ $rc -eq 2 ] && grep -q 'expected two runs' $T/e3"
"$SPAK" compare --home "$H" --level 2 "$A" "$B" >/dev/null 2>"$T/e4"
rc=$?
check "compare --level 2: usage error (exit 2)" "[ $rc -eq 2 ] && grep -q 'between 0 and 1' $T/e4"
printf '{"format": "spak-export",\n "version": "1.0.0", "run": {"run_id": "x"},\n "evaluations": [1, }\n' >"$T/broken.json"
"$SPAK" compare "$T/broken.json" "$T/a.json" >/dev/null 2>"$T/e5"
rc=$?
check "compare with a file that is not JSON: exit 1, file:line:col" "[ $rc -eq 1 ] && grep -q \"^spak compare: $T/broken.json:3:[0-9]*: not JSON\" $T/e5"
echo '{"format": "spak-export", "version": "1.0.0", "run": {"run_id": "x"}, "evaluations": [{"eval_id": 1}]}' >"$T/short.json"
"$SPAK" compare "$T/short.json" "$T/a.json" >/dev/null 2>"$T/e6"
rc=$?
check "compare with a document missing what it relies on: exit 1, names it" "[ $rc -eq 1 ] && grep -q 'evaluations\[0\] is not an object with an integer eval_id' $T/e6"
echo '{"results": []}' >"$T/t4.json"
"$SPAK" compare "$T/t4.json" "$T/a.json" >/dev/null 2>"$T/e7"
rc=$?
check "compare with a JSON file that is not a spak export: exit 1, says so" "[ $rc -eq 1 ] && grep -q 'not a spak export document' $T/e7"
mkdir -p "$T/mut"
out=$(python3 "$ROOT/tests/export/mutate.py" "$SPAK" "$T/a.json" "$T/mut" 150 2>&1)
check "150 mutated documents (members of other types, deleted, huge): export and compare read or refuse them, never crash" "[ \"\${out%% *}\" = ok ] || { echo \"\$out\" | head -5; false; }"
echo "1..$n"
