#!/usr/bin/env bash
# tests/run.sh [-j N] BUILD_DIR... - run every test suite against each build
# and print one summary line at the end: "N passed, N failed, N skipped".
#
# A suite is a program that writes TAP ("ok N - name" / "not ok N - name"):
#   - every unit test binary BUILD_DIR/tests/test_*
#   - every script tests/suites/*.sh, called with BUILD_DIR as its argument
# A suite that exits non-zero without reporting a failure counts as one
# failure, so a crash is never silent. Full output goes to BUILD_DIR/test-logs/.
#
# Two phases. First the suites that time things or race a clock (a judge's
# repetitions, early stops, kill -9 during a state, timeouts) of the release
# build run one at a time on each of two CPUs, pinned there (the lanes,
# below the lists), each alone on its CPU: their measurements see no load
# of ours. Then everything else runs N at a time,
# N = -j or $SPAK_TEST_JOBS or two more than the number of CPUs (at least 4:
# with one a CPU the CPUs idled 20-40% of the pool; one more took the pool
# from 683 s to 568-629 s in four runs of 2026-12-07, two more to 504-554 s;
# the sanitizer timing suites still at most one a CPU, below. Each step up
# first failed sanitizer passes on its load until they read a judge's
# busy/interference verdict as the machine's and ran again: progress and
# llm_engine that morning, llm_engine (its early stop) and retime (the
# re-time's own "busy:" verdict) that evening): the suites
# that declare themselves load-independent (a line "# parallel: yes" in a
# script's first 30 lines), the unit tests other than test_sandbox (whose
# limits are timed), and every suite of a sanitizer build (ASan in its
# libspak.a): those are there for the sanitizers on the same paths, and
# their timing checks are the ones the release build already ran alone.
# A load-independent suite runs once: on the sanitizer build when one is
# given (the same checks, made stricter by the sanitizers), else on each
# build given; "# builds: release" or "# builds: every" near its top says
# otherwise (see once_here). The sanitizer build's timing suites start
# first, the longest of the pool, and as many of them as there are CPUs
# (at least two) may run at once, never more: one at a
# time they were the pool's whole critical path (610 s of its 610 s,
# 2026-12-07), and two at once held in every check of three whole runs that
# day (their sanitizer passes assert no ratio's bound, and the checks of a
# judge's verdict retry or accept where it blamed the machine). A suite
# whose checks do not hold beside another suite says "# alone: every build"
# near its top and runs one at a time, alone, in each build (none today: trust_cpu did, for its cheats
# bounded against OpenBLAS, which swings 10x with the load, until its
# sanitizer pass left those bounds to the release pass).
# A load-independent suite that says "# waits: yes" near its top (slurm:
# about 3 minutes, mostly waiting on Slurm's ticks and its job polling;
# 6-7 until each of its judges stopped sitting out a 2 s wait a call, 2026-12-08)
# starts when the pool does and takes none of its N slots: in a slot, the
# release and the sanitizer build's Slurm suites held both slots of a
# 2-core machine for ~350 s while its CPUs idled.
# A sanitizer build's suites run with SPAK_TEST_WINDOW=short: the CPU judge's
# short window on every timed shape (tests/tap.sh; read by the suites, never
# by spak): the release build's suites measured, these look for memory errors.
# In the lanes the longest start first: a timing suite's "# seconds: N"
# near its top is what its release pass took on the 2-core machine (none:
# 0), the order is by it, longest first, else as listed (alphabetical).
# Listed order had trust_cpu (90 s) start last, one lane idle for its last
# 75 s of 309 (2026-12-07); longest first they end within seconds of each
# other. The pool keeps the listed order: longest first there (tried
# 2026-12-07) put fuzz_smoke, t1, llm_engine and trust_gpu side by side,
# each of them slower for it (llm_engine 40 -> 67 s, trust_gpu 39 -> 70 s),
# and the pool took 620 s against 541.
# Each line says how long its suite took and the CPU seconds its processes
# used; the last says the wall time of each phase and the suites' CPU
# seconds in it (2026-12-07, 2 cores: the pool's suites used about three
# quarters of what its two CPUs offered; vmstat saw them 24% idle).
set -u
cd "$(dirname "$0")/.."
cpus=$(nproc 2>/dev/null || echo 2)
[ "$cpus" -ge 2 ] 2>/dev/null || cpus=2
jobs=${SPAK_TEST_JOBS:-}
if [ "${1:-}" = "-j" ]; then jobs=$2; shift 2; fi
[ -n "$jobs" ] || jobs=$((cpus + 2))
[ "$jobs" -ge 2 ] 2>/dev/null || jobs=2
# the sanitizer build's timing suites in flight at once: one a CPU at most
timing_max=$((jobs < cpus ? jobs : cpus))
[ $# -gt 0 ] || set -- build

passed=0 failed=0 skipped=0 cpu_sum=0
failures=()

# tally BUILD NAME LOG RC SECONDS: count a finished suite's TAP and print its line
tally() {
    local b=$1 name=$2 log=$3 rc=$4 secs=$5 cpu=${6:-0}
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
    cpu_sum=$((cpu_sum + cpu))
    printf '%-44s %4d passed %3d failed %3d skipped  (%ds, cpu %ds)\n' "[$b] $name" "$p" "$f" "$s" "$secs" "$cpu"
    if [ "$f" -gt 0 ]; then
        failures+=("$log")
        # each failure with the '#' lines its check printed just before it
        # (20 at most), the three lines after it and the '#' lines that
        # follow those (10 at most)
        awk '/^not ok/ { printf "%s%s\n", buf, $0; after = 3; buf = ""; nb = 0; next }
             after > 0 { print; if (--after == 0) { tail = 1; nt = 0 }; next }
             tail && /^#/ && nt < 10 { print; nt++; next }
             { tail = 0 }
             /^#/ { if (nb < 20) { buf = buf $0 "\n"; nb++ }; next }
             { buf = ""; nb = 0 }' "$log" | head -40 | sed 's/^/    /'
    fi
}

# start BUILD NAME COMMAND...: run a suite in the background; its exit status
# and time land beside its log
start() {
    local b=$1 name=$2; shift 2
    local log="$b/test-logs/$name.log"
    mkdir -p "$b/test-logs"
    rm -f "$log.rc"
    (
        t0=$SECONDS
        # each suite its own measurement lock folder (docs/scale-out.md): the
        # machine-wide lock would make one suite's runs wait for another's
        # (and print "waiting" events into the goldens of a suite that times
        # nothing); the timing suites run alone anyway
        SPAK_LOCK_DIR=$(mktemp -d "/tmp/spak-test-locks.XXXXXX") && chmod 1777 "$SPAK_LOCK_DIR" && export SPAK_LOCK_DIR
        case "$san_builds" in *" $b "*) export SPAK_TEST_WINDOW=short ;; *) unset SPAK_TEST_WINDOW ;; esac
        "$@" >"$log" 2>&1
        rc=$?
        echo "$((SECONDS - t0))" >"$log.t"
        # the CPU seconds (user + system) of the suite's processes that were
        # waited for: beside the wall time, how much of its slot it used
        # (times itself, not in a pipeline: a pipeline's subshell has no children)
        times >"$log.cpu"
        rm -rf "$SPAK_LOCK_DIR"
        echo "$rc" >"$log.rc"
    ) &
}

# finish BUILD NAME: tally a suite started with start, once it has ended
finish() {
    local log="$1/test-logs/$2.log"
    tally "$1" "$2" "$log" "$(cat "$log.rc")" "$(cat "$log.t")" \
        "$(awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } printf "%d", s + 0.5 }' "$log.cpu" 2>/dev/null)"
    rm -f "$log.rc" "$log.t" "$log.cpu"
}

parallel_ok() {  # FILE: a script that says "# parallel: yes" near its top
    head -30 "$1" | grep -q '^# parallel: yes'
}
alone_always() {  # FILE: a script that says "# alone: every build" near its top
    head -30 "$1" | grep -q '^# alone: every build'
}
waits_suite() {  # FILE: a script that says "# waits: yes" near its top
    head -30 "$1" | grep -q '^# waits: yes'
}
# apart NAME: the group of the suite NAME when its script says "# apart:
# GROUP" near its top, else nothing. Two suites of one group never run at
# once in the same build (in the lanes or the pool): trust_cpu and
# declared, whose check.py survivors counts (and kills) every lingering
# runner of the build under test, another suite's mm_linger included
# (declared failed "nothing of it still runs" on trust_cpu's runners the
# first time longest-first put them side by side, 2026-12-07)
apart() {
    local f=tests/suites/$1.sh
    [ -f "$f" ] && head -30 "$f" | sed -n 's/^# apart: \([A-Za-z0-9_-]*\).*/\1/p' | head -1
}
# clashes BUILD NAME ENTRY...: whether NAME in BUILD is of a group that one
# of the ENTRYs ("KIND|BUILD|NAME", suites in flight) of BUILD is of too
clashes() {
    local b=$1 g r
    g=$(apart "$2")
    shift 2
    [ -n "$g" ] || return 1
    for r in "$@"; do
        r=${r#*|}
        [ "${r%%|*}" = "$b" ] && [ "$(apart "${r#*|}")" = "$g" ] && return 0
    done
    return 1
}
# seconds FILE: the seconds of FILE's "# seconds: N" line, else 0
seconds() {
    local v
    v=$(head -30 "$1" | sed -n 's/^# seconds: \([0-9][0-9]*\).*/\1/p' | head -1)
    echo "${v:-0}"
}
# longest_first ARRAY: ARRAY's "SECONDS<tab>ENTRY" items as ENTRY, the
# largest SECONDS first, equal ones in their order
longest_first() {
    local -n a=$1
    [ ${#a[@]} -gt 0 ] || return 0
    mapfile -t a < <(printf '%s\n' "${a[@]}" | sort -s -t $'\t' -k1,1nr | cut -f2-)
}

# "BUILD|NAME|COMMAND..." entries, words split on '|'; the pool's begin with
# T| for a timing suite (at most one of those in flight), W| for a waiting
# one (outside the slots) or -|
serial=() pool=() pool_late=() pool_wait=()
TAB=$'\t'  # serial holds "SECONDS<tab>ENTRY" until longest_first
san_builds=" "  # the sanitizer builds, each between spaces
for b in "$@"; do
    if nm "$b/libspak.a" 2>/dev/null | grep -q __asan_init; then san_builds+="$b "; fi
done
# once_here SCRIPT BUILD SAN: whether the load-independent suite SCRIPT runs
# for BUILD (SAN 1: a sanitizer build). By default once, on the sanitizer
# build when one is given (its checks do not depend on time or load, and
# the sanitizers make the same checks stricter), else on every build given;
# "# builds: release" near its top: only on release builds (fuzz_smoke makes
# its own sanitizer build); "# builds: every": on each build (a part that
# only the release build has: the CUDA judge, the browser of report)
once_here() {
    local mode
    mode=$(head -30 "$1" | sed -n 's/^# builds: \(release\|every\)\b.*/\1/p' | head -1)
    case "$mode" in
    every) return 0 ;;
    release) [ "$3" -eq 0 ] ;;
    *) [ "$3" -eq 1 ] || [ "$san_builds" = " " ] ;;
    esac
}
for b in "$@"; do
    if [ ! -x "$b/spak" ]; then
        echo "tests/run.sh: $b/spak is missing; build first (make, make asan)" >&2
        failed=$((failed + 1))
        continue
    fi
    # a sanitizer build: its timing suites go to the pool, ahead of the rest
    san=0
    case "$san_builds" in *" $b "*) san=1 ;; esac
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        if [ "$name" != test_sandbox ]; then pool_late+=("-|$b|$name|$t")
        elif [ $san -eq 1 ]; then pool+=("T|$b|$name|$t")
        else serial+=("0${TAB}$b|$name|$t"); fi
    done
    for s in tests/suites/*.sh; do
        [ -f "$s" ] || continue
        name=$(basename "$s" .sh)
        if parallel_ok "$s" && ! once_here "$s" "$b" "$san"; then continue
        elif parallel_ok "$s" && waits_suite "$s"; then pool_wait+=("W|$b|$name|bash|$s|$b")
        elif parallel_ok "$s"; then pool_late+=("-|$b|$name|bash|$s|$b")
        elif [ $san -eq 1 ] && ! alone_always "$s"; then pool+=("T|$b|$name|bash|$s|$b")
        else serial+=("$(seconds "$s")${TAB}$b|$name|bash|$s|$b"); fi
    done
done
longest_first serial
pool=("${pool_wait[@]+"${pool_wait[@]}"}" "${pool[@]+"${pool[@]}"}" "${pool_late[@]+"${pool_late[@]}"}")

# The alone phase in lanes: each of up to $SPAK_TEST_LANES (default 2) of
# this process's CPUs runs one timing suite at a time, pinned to it with
# taskset, so no suite's judge shares its CPU set with another's (the CPU
# judge measures the foreign load on its own set). Measured 2026-12-07 on 2
# cores, release build: every check of eight suites held in pinned pairs,
# each as fast as alone. A suite that needs every CPU ("# cpus: all" near
# its top: build_sandbox), and the unit test test_sandbox, run after the
# lanes, alone and unpinned; so does everything with one lane. (scale_local
# ran so for its --cpus 0/1 case, 43 s of a 2-core run with one core idle:
# that case is scale_cores now, in the pool, and scale_local in a lane.)
allowed_cpus() {  # this process's CPUs, one a line (Cpus_allowed_list: "0-3,6")
    local l r
    l=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status 2>/dev/null)
    for r in ${l//,/ }; do
        case $r in *-*) seq "${r%-*}" "${r#*-}" ;; *) echo "$r" ;; esac
    done
}
lane_cpus=()
if command -v taskset >/dev/null 2>&1; then
    mapfile -t lane_cpus < <(allowed_cpus | head -n "${SPAK_TEST_LANES:-2}")
fi
[ ${#lane_cpus[@]} -ge 2 ] || lane_cpus=()
narrow=() wide=()
for e in "${serial[@]+"${serial[@]}"}"; do
    IFS='|' read -r -a w <<<"$e"
    if [ ${#lane_cpus[@]} -gt 0 ] && [ "${w[2]}" = bash ] && ! head -30 "${w[3]}" | grep -q '^# cpus: all'; then
        narrow+=("$e")
    else
        wide+=("$e")
    fi
done

t_serial=$SECONDS
free=("${lane_cpus[@]+"${lane_cpus[@]}"}") inflight=()  # inflight: "CPU|BUILD|NAME"
while [ ${#narrow[@]} -gt 0 ] || [ ${#inflight[@]} -gt 0 ]; do
    pick=-1
    if [ ${#free[@]} -gt 0 ]; then
        for i in "${!narrow[@]}"; do
            IFS='|' read -r -a w <<<"${narrow[$i]}"
            clashes "${w[0]}" "${w[1]}" "${inflight[@]+"${inflight[@]}"}" || { pick=$i; break; }
        done
    fi
    if [ $pick -ge 0 ]; then
        cpu=${free[0]}
        free=("${free[@]:1}")
        IFS='|' read -r -a w <<<"${narrow[$pick]}"
        unset 'narrow[$pick]'
        narrow=("${narrow[@]+"${narrow[@]}"}")
        start "${w[0]}" "${w[1]}" taskset -c "$cpu" "${w[@]:2}"
        inflight+=("$cpu|${w[0]}|${w[1]}")
        continue
    fi
    wait -n 2>/dev/null || true
    still=()
    for r in "${inflight[@]}"; do
        cpu=${r%%|*} r2=${r#*|}
        if [ -f "${r2%%|*}/test-logs/${r2#*|}.log.rc" ]; then
            finish "${r2%%|*}" "${r2#*|}"
            free+=("$cpu")
        else
            still+=("$r")
        fi
    done
    inflight=("${still[@]+"${still[@]}"}")
done
for e in "${wide[@]+"${wide[@]}"}"; do
    IFS='|' read -r -a w <<<"$e"
    start "${w[@]}"
    wait
    finish "${w[0]}" "${w[1]}"
done
t_serial=$((SECONDS - t_serial))

t_pool=$SECONDS
cpu_serial=$cpu_sum
running=()  # "T-or-|BUILD|NAME" of the suites in flight
slots_used() { local r c=0; for r in "${running[@]+"${running[@]}"}"; do [ "${r%%|*}" = W ] || c=$((c + 1)); done; echo $c; }
timing_used() { local r c=0; for r in "${running[@]+"${running[@]}"}"; do [ "${r%%|*}" = T ] && c=$((c + 1)); done; echo $c; }
while [ ${#pool[@]} -gt 0 ] || [ ${#running[@]} -gt 0 ]; do
    # the next entry to start: a waiting suite at once; else, while a slot
    # is free, the first (a timing suite only while fewer than timing_max
    # of them run)
    pick=-1
    used=$(slots_used) tused=$(timing_used)
    for i in "${!pool[@]}"; do
        k=${pool[$i]%%|*}
        if [ "$k" = W ]; then pick=$i; break; fi
        [ "$used" -lt "$jobs" ] || break
        [ "$k" = T ] && [ "$tused" -ge "$timing_max" ] && continue
        IFS='|' read -r -a w <<<"${pool[$i]#*|}"
        clashes "${w[0]}" "${w[1]}" "${running[@]+"${running[@]}"}" && continue
        pick=$i
        break
    done
    if [ $pick -ge 0 ]; then
        e=${pool[$pick]}
        unset 'pool[$pick]'
        pool=("${pool[@]+"${pool[@]}"}")
        IFS='|' read -r -a w <<<"${e#*|}"
        start "${w[@]}"
        running+=("${e%%|*}|${w[0]}|${w[1]}")
        continue
    fi
    wait -n 2>/dev/null || true
    still=()
    for r in "${running[@]}"; do
        r2=${r#*|}
        if [ -f "${r2%%|*}/test-logs/${r2#*|}.log.rc" ]; then finish "${r2%%|*}" "${r2#*|}"; else still+=("$r"); fi
    done
    running=("${still[@]+"${still[@]}"}")
done
t_pool=$((SECONDS - t_pool))
# the suites' CPU seconds against what the CPUs offered in each phase: where
# they used much less, the phase waited (sleeps, settle and quiet waits)
echo "one at a time (in ${#lane_cpus[@]} pinned lanes, 0: none): ${t_serial}s (the suites' CPU ${cpu_serial}s);" \
    "$jobs at a time: ${t_pool}s (the suites' CPU $((cpu_sum - cpu_serial))s of the $cpus CPUs' $((cpus * t_pool))s)"

if [ ${#failures[@]} -gt 0 ]; then
    echo "logs of failing suites:"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
