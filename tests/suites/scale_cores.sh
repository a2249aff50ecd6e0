#!/usr/bin/env bash
# parallel: yes (tests/run.sh: no assertion here depends on time or load: it reads where each slot's processes were allowed to run)
# tests/suites/scale_cores.sh BUILD_DIR - disjoint core sets (`spak run --cpus
# 0/1`, docs/scale-out.md): each of the two slots' candidates runs on its own
# core only, and each set is measured under its own lock (devices cpu-0 and
# cpu-1). Needs two cores the suite may use: the rest of scale_local.sh runs
# pinned to one in tests/run.sh's lanes, this one in its pool (TAP).
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init scale_cores "$@"
export SPAK_LOCK_DIR="$T/locks"
cp "$ROOT"/tests/scale/* "$T/"

if python3 -c "import os, sys; sys.exit(0 if {0, 1} <= os.sched_getaffinity(0) else 1)"; then
    "$SPAK" run --home "$T/hc" --cpus 0/1 "$T/probe.spak" >"$T/run.txt" 2>&1
    sql "$T/hc/spak.db" "select json_extract(record_json, '\$.reason') from traces where case_name = 'Correctness'" >"$T/cpus.txt"
    check "--cpus 0/1: one slot's candidate ran on core 0 only, the other's on core 1 only" \
        "grep -q '\"cpus\": \[0\]' $T/cpus.txt && grep -q '\"cpus\": \[1\]' $T/cpus.txt || { tail -5 $T/run.txt $T/cpus.txt | sed 's/^/#   /'; false; }"
    check "--cpus 0/1: measured under each set's own lock (devices cpu-0, cpu-1)" \
        "[ \"\$(python3 $T/meas.py $T/hc/spak.db | cut -d' ' -f3 | sort | tr '\n' ' ')\" = 'cpu-0 cpu-1 ' ]"
else
    skip "--cpus 0/1" "needs cores 0 and 1"
    skip "--cpus 0/1 locks" "needs cores 0 and 1"
fi
echo "1..$n"
