#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# builds: every (tests/run.sh: Chromium runs on the release build; the sanitizer build runs the rest, and test_report the library)
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

# 5. spreads and a readable effects chart: a run whose records carry timing
# spreads and a ratio interval, and one value 65-fold better than the rest
# (the case that once squeezed every other bar to a sliver and clipped the
# labels). After layout in Chromium: one visible spread per correct
# evaluation, every bar of an effect of 5% or more at least 10 px wide, the
# outlier cut at the axis end with its value written, and no two texts of any
# chart overlapping or leaving their chart (also for the toy and roof pages).
mkdir -p "$T/eff"
cp "$ROOT/tests/report/effects.spak" "$ROOT/tests/report/measure_effects.py" "$T/eff/"
RUN3=$("$SPAK" run --home "$T/h" --json "$T/eff/effects.spak" 2>/dev/null | jlast 'd["run_id"]')
out=$("$SPAK" report --home "$T/h" --json "$RUN3")
H3=$(echo "$out" | jlast 'd["html"]' 2>/dev/null)
M3=$(echo "$out" | jlast 'd["markdown"]' 2>/dev/null)
check "effects run: 36 evaluations, all correct" "[ \"\$(echo \"\$out\" | jlast 'd[\"evaluations\"], d[\"correct\"]')\" = '36 36' ]"
check "the table names the spreads: ratio [interval], time (ms) [p20, p80], with both ends" \
    "grep -q '<th>ratio \\[interval\\]</th><th>time (ms) \\[p20, p80\\]</th>' \"$H3\" && grep -q '| ratio \\[interval\\] | time (ms) \\[p20, p80\\] |' \"$M3\" && grep -q '<td class=\"n\">0.208 \\[0.1997, 0.2163\\]</td><td class=\"n\">3.226 \\[3.162, 3.323\\]</td>' \"$H3\""
check "the outlier's bar is cut at the axis end and said so" "[ \$(grep -o 'class=\"bar cut\"' \"$H3\" | wc -l) -eq 1 ] && grep -q 'class=\"clipnote\"' \"$H3\""
layout() {  # NAME HTML: the layout probe's verdict on the page
    python3 - "$2" "$T/$1.layout.html" <<'PY'
import sys
src = open(sys.argv[1], encoding="utf-8").read()
js = """<script>
window.addEventListener('load', function () {
  var bad = [], spreads = {}, nspread = 0, thin = 0, bars = 0;
  function inside(r, b) { return r.left >= b.left - 1 && r.right <= b.right + 1 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1; }
  function hit(a, b) { return a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5; }
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var box = svg.getBoundingClientRect(), texts = [];
    svg.querySelectorAll('text').forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.width === 0) return;
      if (!inside(r, box)) bad.push('outside: ' + t.textContent);
      texts.push([r, t.textContent]);
    });
    for (var i = 0; i < texts.length; i++)
      for (var k = i + 1; k < texts.length; k++)
        if (hit(texts[i][0], texts[k][0])) bad.push('overlap: ' + texts[i][1] + ' / ' + texts[k][1]);
    svg.querySelectorAll('path.tested').forEach(function (m) {
      var r = m.getBoundingClientRect();
      texts.forEach(function (t) { if (hit(r, t[0])) bad.push('mark on: ' + t[1]); });
    });
  });
  var pb = document.querySelector('svg.progress');
  document.querySelectorAll('svg.progress path.spread').forEach(function (p) {
    var r = p.getBoundingClientRect(), b = pb.getBoundingClientRect();
    if (r.height > 0 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1) { nspread++; spreads[p.getAttribute('data-eval')] = 1; }
  });
  document.querySelectorAll('svg.effects rect.bar').forEach(function (b) {
    var m = /: ([-+][0-9.]+)%/.exec(b.textContent); bars++;
    if (m && Math.abs(parseFloat(m[1])) >= 5 && b.getBoundingClientRect().width < 10) thin++;
  });
  document.body.setAttribute('data-layout', 'spreads ' + nspread + ' ' + Object.keys(spreads).length +
    ' bars ' + bars + ' thin ' + thin + ' bad ' + bad.length + (bad.length ? ' ' + bad.slice(0, 3).join(' | ') : ''));
});
</script>"""
open(sys.argv[2], "w", encoding="utf-8").write(src.replace("</body>", js + "</body>"))
PY
    chrome --dump-dom --virtual-time-budget=2000 "file://$T/$1.layout.html" | grep -o 'data-layout="[^"]*"' | head -1 |
        sed 's/^data-layout="\(.*\)"$/\1/'
}
got=$(layout eff "$H3")
check "effects page after layout: 36 spreads, 10 bars, none of 5% or more under 10 px, no text overlapping or outside its chart (probe: $got)" \
    "[ \"$got\" = 'spreads 36 36 bars 10 thin 0 bad 0' ]"
got=$(layout toy "$H1")
check "toy page after layout: no text overlapping or outside its chart (probe: $got)" "echo '$got' | grep -q 'bad 0\$'"
got=$(layout roof "$H2")
check "roof page after layout: no text overlapping or outside its chart (probe: $got)" "echo '$got' | grep -q 'bad 0\$'"
echo "1..$n"
