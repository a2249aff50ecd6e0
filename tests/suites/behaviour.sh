#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load)
# tests/suites/behaviour.sh BUILD_DIR - the behaviour goldens (TAP): what the
# CLI prints and what the loop proposes must not change when the code is
# reorganised. tests/arch/capture.py captures, with the build given:
#   cli/        `spak help`, `spak help CMD` and `spak CMD --help` for every
#               command `spak help` lists, `spak explain` (text, --json), `spak`
#               alone, an unknown command: stdout, stderr and exit status
#   check/      `spak check FILE` for every spec of examples/, tests/golden/valid
#               and tests/golden/invalid (relative paths, from the repo root)
#   proposals/  grid and seeded random on tests/engine/toy.spak, and the default
#               strategy (seeds 7 and 11) and the rules strategy over recorded
#               CPU matmul measurements (tests/engine/matmul-replay.spak, replayed
#               by tests/engine/replay.py): the candidates in the order proposed,
#               the --json summary, the progress lines and the journal
#   show/       `spak show RUN`, `spak status RUN` and `spak status` after three
#               of those runs (toy grid, matmul default seed 7, matmul rules)
#   learn/      `spak learn --dry-run` of the same runs: the lessons and the
#               spec v(n+1)
#   report/     `spak report` of the same runs: its output, report.md, report.html
#               (stored as NAME.html.golden: golden data, not source; the three
#               reports share their page by design and would read as duplicates)
# and each output is compared byte for byte with tests/golden/behaviour/; a
# mismatch prints the diff. A golden that is no longer produced, or an output
# without a golden (a new command), fails too.
#
# What differs per clone, per day or per run is normalised by capture.py before
# the comparison (see norm() there): the temporary folder becomes $TMP, the date
# in a run id becomes YYYYMMDD, other dates YYYY-MM-DD, a run's wall time becomes
# S, the CPU model, host name and core count the runs were measured on become
# $CPU, $HOST and $CORES; elapsed_s is dropped from the summary and the journal.
#
# The goldens were captured with the build of commit 41591d7 (before the
# reorganisation of #12). After a deliberate change of behaviour, regenerate them
#   python3 tests/arch/capture.py build tests/golden/behaviour
# and READ the diff before committing it.
set -u
cd "$(dirname "$0")/../.."
B=${1:-build}
. tests/tap.sh
G=tests/golden/behaviour
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spak-behaviour.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
# tap.sh's notok, counted, so that the exit status says whether any check failed
eval "tap_$(declare -f notok)"
notok() { failed=$((failed + 1)); tap_notok "$@"; }

if ! python3 tests/arch/capture.py "$B" "$tmp/out" 2>"$tmp/capture.err"; then
    notok "capture.py ran" "$(head -5 "$tmp/capture.err")"
    echo "1..$n"
    exit 1
fi
ok "capture.py ran with $B/spak"

# the replay: every point of the replayed space is recorded, and a point that
# is not fails loudly instead of getting numbers
python3 - tests/engine/matmul-recording.json >"$tmp/keys" 2>&1 <<'PY'
import itertools, json, sys
space = [("rung", ["naive", "reorder", "blocked", "packed"]), ("tile_k", [128, 256]), ("mr", [4, 6]), ("nv", [2, 4])]
rec = json.load(open(sys.argv[1]))["candidates"]
want = {",".join(f"{n}={v}" for (n, _), v in zip(space, p)) for p in itertools.product(*(v for _, v in space))}
print("missing:", sorted(want - set(rec)), "extra:", sorted(set(rec) - want))
PY
check "replay: the recording holds every point of matmul-replay.spak's space, once" \
    "grep -qx 'missing: \[\] extra: \[\]' \"\$tmp/keys\""
python3 tests/engine/replay.py tests/engine/matmul-recording.json rung=packed tile_k=64 mr=6 nv=2 >"$tmp/r.out" 2>"$tmp/r.err"
check "replay: an unrecorded point exits 3, says so and prints no record" \
    "[ $? -eq 3 ] && [ ! -s \"\$tmp/r.out\" ] && grep -q \"no recorded measurement for 'rung=packed,tile_k=64,mr=6,nv=2'\" \"\$tmp/r.err\""

# every golden, then every output that has none
while IFS= read -r rel; do
    if [ ! -f "$tmp/out/$rel" ]; then
        notok "$rel: not produced any more"
    elif cmp -s "$G/$rel" "$tmp/out/$rel"; then
        ok "$rel"
    else
        notok "$rel: differs from the golden (diff golden new)"
        diff -u "$G/$rel" "$tmp/out/$rel" | head -60 | sed 's/^/#   /'
    fi
done < <(cd "$G" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)

while IFS= read -r rel; do
    [ -f "$G/$rel" ] || notok "$rel: produced but has no golden (capture it: see this file's header)"
done < <(cd "$tmp/out" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)

echo "1..$n"
[ "$failed" -eq 0 ]
