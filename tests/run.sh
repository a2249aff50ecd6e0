#!/usr/bin/env bash
# tests/run.sh BUILD_DIR... - run every test suite against each build and
# print one summary line at the end: "N passed, N failed, N skipped".
#
# A suite is a program that writes TAP ("ok N - name" / "not ok N - name"):
#   - every unit test binary BUILD_DIR/tests/test_*
#   - every script tests/suites/*.sh, called with BUILD_DIR as its argument
# A suite that exits non-zero without reporting a failure counts as one
# failure, so a crash is never silent. Full output goes to BUILD_DIR/test-logs/.
set -u
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- build

passed=0 failed=0 skipped=0
failures=()

run_suite() {  # build name command...
    local b=$1 name=$2; shift 2
    local log="$b/test-logs/$name.log"
    mkdir -p "$b/test-logs"
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(grep -cE '^ok [0-9]+' "$log" | head -1)
    s=$(grep -cE '^ok [0-9]+.*# SKIP' "$log" | head -1)
    f=$(grep -cE '^not ok [0-9]+' "$log" | head -1)
    p=$((p - s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - suite exited with status $rc" >>"$log"
    fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    printf '%-44s %4d passed %3d failed %3d skipped  (%ds)\n' "[$b] $name" "$p" "$f" "$s" $((SECONDS - t0))
    if [ "$f" -gt 0 ]; then
        failures+=("$log")
        grep -E -A3 '^not ok' "$log" | head -40 | sed 's/^/    /'
    fi
}

for b in "$@"; do
    if [ ! -x "$b/spak" ]; then
        echo "tests/run.sh: $b/spak is missing; build first (make, make asan)" >&2
        failed=$((failed + 1))
        continue
    fi
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        run_suite "$b" "$(basename "$t")" "$t"
    done
    for s in tests/suites/*.sh; do
        [ -f "$s" ] || continue
        run_suite "$b" "$(basename "$s" .sh)" bash "$s" "$b"
    done
done

if [ ${#failures[@]} -gt 0 ]; then
    echo "logs of failing suites:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
