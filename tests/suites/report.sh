#!/usr/bin/env bash
# tests/suites/report.sh BUILD_DIR - `spak report` end to end (TAP): real runs
# made by the engine with stand-in measure commands (the engine tests' toy
# with failing candidates, and tests/report/roof.spak whose records carry a
# baseline and the device's ceilings), the command's output and errors, the
# HTML's self-containment, then the page rendered in a real headless
# Chromium: a screenshot that is not blank and shows the marks' colours, and
# a DOM after layout with one visible mark per evaluation in the progress
# chart and one per analysed correct evaluation on the roofline.
#
# Chromium (Debian's `chromium`, scripts/deps.sh --test) is required: without
# it the rendering checks fail. They run for the first build only; under
# build/asan they are skipped (the unit test covers the library under ASan).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init report "$@"

# 1. the toy of the engine tests, with the 4 candidates x=1 failing
mkdir -p "$T/toy"
cp "$ROOT/tests/engine/measure.py" "$T/toy/"
sed -e 's|{{x}} {{y}}"|{{x}} {{y}} --mode wrong"|' "$ROOT/tests/engine/toy.spak" >"$T/toy/toy.spak"
RUN1=$("$SPAK" run --home "$T/h" --json "$T/toy/toy.spak" 2>/dev/null | jlast 'd["run_id"]')
check "toy run made (20 evaluations, 4 failing)" "[ -n \"$RUN1\" ]"
out=$("$SPAK" report --home "$T/h" --json "$RUN1")
rc=$?
H1=$(echo "$out" | jlast 'd["html"]' 2>/dev/null)
M1=$(echo "$out" | jlast 'd["markdown"]' 2>/dev/null)
check "spak report --json exits 0 and names both files" "[ $rc -eq 0 ] && [ -s \"$H1\" ] && [ -s \"$M1\" ]"
check "default output directory is HOME/reports/RUN" "[ \"$H1\" = \"$T/h/reports/$RUN1/report.html\" ]"
check "--json counts 20 evaluations, 16 correct" "[ \"$(echo "$out" | jlast 'd["evaluations"], d["correct"]')\" = '20 16' ]"
plain=$("$SPAK" report --home "$T/h" --out "$T/out1" "$RUN1")
check "--out DIR writes there; plain output is the two paths" "[ \"$plain\" = \"$T/out1/report.md
$T/out1/report.html\" ] && [ -s $T/out1/report.html ]"
check "HTML has no 'http', 'src=', '<script', '<link', 'url('" "! grep -qiE 'http|src=|<script|<link|url\\(' \"$H1\""
check "HTML has 20 marks of class 'mark eval', 4 of them failed" "[ \$(grep -o 'class=\"mark eval' \"$H1\" | wc -l) -eq 20 ] && [ \$(grep -o 'class=\"mark eval failed' \"$H1\" | wc -l) -eq 4 ]"
check "the failure reason is in the report" "grep -q 'wrong: wrong values' \"$H1\" && grep -q 'wrong: wrong values' \"$M1\""
check "the toy has no roofline data, and the report says so" "grep -q 'No roofline' \"$H1\""
check "the baseline implied by the ratio is drawn and labelled so" "grep -q 'class=\"baseline\"' \"$H1\" && grep -q 'implied by the ratio' \"$H1\""
check "Markdown: summary, candidates, provenance" "grep -q '^## What happened' \"$M1\" && grep -q '^## Candidates' \"$M1\" && grep -q '^## Provenance' \"$M1\""

# 2. a run whose records carry a baseline and the roofline fields
mkdir -p "$T/roof"
cp "$ROOT/tests/report/roof.spak" "$ROOT/tests/report/measure_roof.py" "$T/roof/"
RUN2=$("$SPAK" run --home "$T/h" --json "$T/roof/roof.spak" 2>/dev/null | jlast 'd["run_id"]')
out=$("$SPAK" report --home "$T/h" --json "$RUN2")
H2=$(echo "$out" | jlast 'd["html"]' 2>/dev/null)
check "roof run: 9 evaluations, 7 correct" "[ \"$(echo "$out" | jlast 'd["evaluations"], d["correct"]')\" = '9 7' ]"
check "roof run: 7 roofline marks, a roof, the measured baseline" "[ \$(grep -o 'class=\"mark roof' \"$H2\" | wc -l) -eq 7 ] && grep -q 'class=\"roof\"' \"$H2\" && grep -q 'measured gflops 120' \"$H2\""
check "roof run: the hostile reason from a record is escaped" "grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' \"$H2\" && ! grep -qi '<script' \"$H2\""
check "roof run: the knowledge diff v(n) -> v(n+1) of the crystallization is shown" "grep -q 'spec.next.spak' \"$H2\" && grep -q 'class=\"add\"' \"$H2\""

# 3. errors
"$SPAK" report --home "$T/h" >/dev/null 2>&1; check "no run id is a usage error (2)" "[ $? -eq 2 ]"
"$SPAK" report --home "$T/h" r19990101-001 >/dev/null 2>&1; check "an unknown run fails with 1" "[ $? -eq 1 ]"
"$SPAK" report --home "$T/nothing" "$RUN1" >/dev/null 2>&1; check "a missing store fails with 1" "[ $? -eq 1 ] && [ ! -e $T/nothing ]"

# 4. the page in a real headless Chromium
case "$B" in
*/asan)
    for what in "screenshot of the toy report" "DOM after layout (toy)" "screenshot of the roof report" "DOM after layout (roof)"; do
        skip "$what" "Chromium runs once, for the first build; the library is tested under ASan by test_report"
    done
    echo "1..$n"
    exit 0
    ;;
esac
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    notok "chromium is installed" "no chromium on PATH: run scripts/deps.sh --test (Debian package 'chromium')"
    echo "1..$n"
    exit 1
fi
ok "chromium is installed ($CHROME)"
chrome() { timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$T/chrome-profile" "$@" 2>/dev/null; }

# A copy of the page with a probe script (the report itself has none): after
# layout it counts the marks that have a box inside their chart and writes
# the counts into an attribute that --dump-dom shows.
probe() {  # HTML OUT
    python3 - "$1" "$2" <<'PY'
import sys
src = open(sys.argv[1], encoding="utf-8").read()
js = """<script>
window.addEventListener('load', function () {
  function visible(sel, chart) {
    var svg = document.querySelector(chart);
    if (!svg) return [0, 0];
    var box = svg.getBoundingClientRect(), ids = {}, n = 0;
    document.querySelectorAll(chart + ' ' + sel).forEach(function (m) {
      var r = m.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && r.left >= box.left - 1 && r.right <= box.right + 1 &&
          r.top >= box.top - 1 && r.bottom <= box.bottom + 1) { n++; ids[m.getAttribute('data-eval')] = 1; }
    });
    return [n, Object.keys(ids).length];
  }
  var a = visible('.mark.eval', 'svg.progress'), b = visible('.mark.roof', 'svg.roofline');
  document.body.setAttribute('data-probe', 'eval ' + a[0] + ' ' + a[1] + ' roof ' + b[0] + ' ' + b[1]);
});
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(src.replace("</body>", js + "</body>"))
PY
}
render() {  # NAME HTML EVALS ROOF
    local name=$1 html=$2 evals=$3 roof=$4
    local png="$T/$name.png"
    chrome --screenshot="$png" --window-size=1280,2400 "file://$html" >/dev/null
    if [ -s "$png" ]; then
        cp "$png" "$B/test-logs/report-$name.png" 2>/dev/null
        local info
        info=$(python3 "$ROOT/tests/report/pngcheck.py" "$png" 0072b2 d55e00 009e73 2>&1)
        local size=$(stat -c %s "$png")
        check "$name: screenshot is a 1280x2400 PNG of more than 40 KB ($size bytes)" "[ $size -gt 40000 ] && echo '$info' | grep -q '\"width\": 1280, \"height\": 2400'"
        check "$name: screenshot is not blank (colours, no colour covers 95%): $info" "echo '$info' | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not (d[\"colours\"] > 50 and d[\"top_fraction\"] < 0.95))'"
        check "$name: screenshot shows the marks' colours (blue correct, green best line$( [ "$5" -gt 0 ] && echo ', vermillion failed'))" "echo '$info' | python3 -c 'import json,sys; p=json.load(sys.stdin)[\"pixels\"]; sys.exit(not (p[\"0072b2\"] > 100 and p[\"009e73\"] > 100 and ($5 == 0 or p[\"d55e00\"] > 20)))'"
    else
        notok "$name: chromium wrote a screenshot" "no PNG at $png"
    fi
    probe "$html" "$T/$name.probe.html"
    local dom
    dom=$(chrome --dump-dom --virtual-time-budget=2000 "file://$T/$name.probe.html")
    local got
    got=$(echo "$dom" | grep -o 'data-probe="[^"]*"' | head -1 | sed 's/^data-probe="\(.*\)"$/\1/')
    check "$name: after layout, $evals visible marks in the progress chart for $evals evaluations (distinct data-eval), $roof on the roofline (probe: $got)" "[ \"$got\" = 'eval $evals $evals roof $roof $roof' ]"
    check "$name: the rendered DOM has no script element of the data (only the probe)" "[ \$(echo \"\$dom\" | grep -oi '<script' | wc -l) -eq 1 ]"
}
render toy "$H1" 20 0 4
render roof "$H2" 9 7 2
echo "1..$n"
