#!/usr/bin/env bash
# seconds: 90 (tests/run.sh: the lanes start the longest first; what its release pass took on the 2-core machine, 2026-12-07)
# apart: survivors (tests/run.sh: never beside trust_cpu or declared of the same build: check.py survivors counts, and kills, every lingering runner of the build, the other suite's too)
# tests/suites/trust_cpu.sh BUILD_DIR - the adversary's suite for the CPU
# families (issue 13): every candidate of tests/trust (see its README.md for
# the table) goes through `spak run` with a spec of its own and a home of its
# own, and the suite asserts on `spak show --json RUN` and on the home:
#   - a cheat ends as a FAILED evaluation whose reason matches its class, or,
#     where the defences can only take the cheat away (memoisation, patched
#     clock, work before the clock...), as honest work: done, correct and no
#     faster than an honest kernel can be (ratio to the baseline under a
#     bound);
#   - no forged record is stored as trusted, no secret reaches the store, the
#     home or spak's output, nothing the candidate wrote or started outlives
#     its evaluation, the ceilings cache is not forged;
#   - the honest controls (pthreads matmul and attention) end done and correct.
# Against a tree without the defences most cheats are accepted: their checks
# fail, which is the point of the suite (the report of issue 13 lists them).
# Prints TAP. Runtime: about 2 minutes on 2 cores. KEEP=1 keeps the scratch
# dir; ONLY='name ...' runs those candidates only (and the controls).
set -u
. "$(dirname "$0")/../tap.sh"
suite_init trust-cpu "${1:-build}"
SPAK_SHORT_NO_WAIT=1  # its sanitizer pass accepts a "busy" verdict (tests/tap.sh)
export SPAK_TRUST_BUILD="$B"  # check.py counts lingering processes of this build only
TR=$ROOT/tests/trust
. "$TR/checkd.sh" # $CHECK: check.py, one process for the suite
SRC=$T/src
mkdir -p "$SRC" "$T/specs" "$T/h"

if [ ! -x "$SPAK" ] || [ ! -x "$B/spak-harness-cpu" ]; then
    notok "spak and spak-harness-cpu are built in $B"
    echo "1..$n"
    exit 1
fi

# The candidates are built from a copy beside a root-only secret (mode 0600):
# the build-time cheats include it (#include, .incbin by absolute path).
cp "$TR"/*.c "$TR"/*.h "$SRC"/
# with the harness's headers trust.h includes, beside them (a build may not
# read outside the source folder)
cp "$ROOT"/kernels/cpu/common/rng.h "$ROOT"/kernels/cpu/common/cpu_model.h "$SRC"/
sed -i 's#"\.\./\.\./kernels/cpu/common/#"#' "$SRC/trust.h"
SECRET=TRUST-SECRET-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
printf '%s\n' "$SECRET" >"$SRC/trust-secret.txt"
chmod 600 "$SRC/trust-secret.txt"
sed -i "s#@SECRET_PATH@#$SRC/trust-secret.txt#" "$SRC/mm_incbin_secret.c"
# a world-readable file outside the source folder (0644, in a 0755 folder):
# only Landlock's read rules keep it from the compiler
WORLD=TRUST-WORLD-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
mkdir -p "$T/world"
printf 'static const char trust_world[] = "%s";\n' "$WORLD" >"$T/world/trust-world.h"
chmod 755 "$T/world"
chmod 644 "$T/world/trust-world.h"
sed -i "s#@WORLD_PATH@#$T/world/trust-world.h#" "$SRC/mm_incbin_world.c" "$SRC/mm_include_world.c"
# a header outside the source folder, included by absolute path
mkdir -p "$T/hdr"
sed -i "s#@HDR_PATH@#$T/hdr/trust_hdr.h#" "$SRC/mm_abs_include.c"
chmod 755 "$SRC"
chmod 644 "$SRC"/*.c "$SRC"/*.h

MM_SHAPES='"128x128x128"' MM_HELD='"33x17x65", "1x7x3"'
AT_SHAPES='"1x2x128x32"' AT_HELD='"1x1x37x24c"'
# sampled-rows checking starts above 2^27 = B*H*S*S*D; this is 4x that
AT_BIG='"1x1x4096x32"' AT_BIG_HELD='"1x1x33x16"'
# and for matmul (freivalds4+rows16 above 2^27 = M*N*K)
MM_BIG='"640x640x640"'
# The baseline is the honest one-thread kernel the cheats fall back to
# (base_mm.c, base_at.c): an honest candidate's ratio is about 1, 2 with two
# threads, however loaded the machine (OpenBLAS's two threads swing by 20x on
# a busy 2-core machine). A ratio above HONEST is work not done. The two
# cheats aimed at OpenBLAS (mm_got_baseline, mm_burn) are timed against it,
# next to an honest control timed the same way just before (bound: 5x its ratio).
HONEST=3

# mkspec NAME FAMILY SHAPES HELDOUT BASELINE: $T/specs/NAME.spak, one
# candidate, one evaluation; BASELINE trust (base_*.c) or openblas
mkspec() {
    local name=$1 fam=$2 shapes=$3 held=$4 base=trust-one-thread cmd extra win
    # a sanitizer build's pass: the short window (tests/tap.sh, with
    # --busy-wait 0), since it asserts no ratio's bound (ob_bound) and every
    # defence acts per call
    win=$(short_args)
    win=${win:+ $win}
    # --precision 0.05: the bounds this suite asserts are 3x (HONEST) and 5x
    # a control's ratio, which a +-5% interval decides as well as the
    # judge's default +-2%, at a third of the timed pairs (release pass 126
    # -> 115 s, 2026-12-07); every defence acts per call, not per pair
    local bsrc=base_mm
    [ "$fam" = attention ] && bsrc=base_at
    extra="baseline_source: \"$SRC/$bsrc.c\""
    cmd="{{harness}} --family $fam --candidate {{candidate}} --seed {{seed}} --shapes {{shapes}} --heldout {{heldout}} --baseline so --baseline-so {{baseline_so}} --min-time 0.002 --precision 0.05 --ceilings-cache {{ceilings}}$win"
    if [ "$5" = openblas ]; then
        base=openblas extra=
        cmd="{{harness}} --family matmul --candidate {{candidate}} --seed {{seed}} --shapes {{shapes}} --heldout {{heldout}} --min-time 0.002 --precision 0.05 --ceilings-cache {{ceilings}}$win"
    fi
    cat >"$T/specs/$name.spak" <<EOF
---
title: "trust: $name"
version: 1
---
system Trust {
    problem {
        family: "$fam"
        target: "cpu"
        precision: "fp32"
        baseline: "$base"
        source: "$SRC/{{cand}}.c"
        $extra
        shapes: [$shapes]
        heldout: [$held]
    }
    design_space {
        cand: ["${name%@*}"]
    }
    trace_schema {
        variant TraceItem {
            case Correctness { shape: string, heldout: bool, passed: bool, rel_err: float, tolerance: float, reason: string }
            case Performance { shape: string, time_ms: float, gflops: float, baseline: string, baseline_gflops: float, ratio: float }
            case Analysis { shape: string, arith_intensity: float, frac_peak_flops: float, frac_peak_bw: float, bottleneck: "compute" | "memory" | "latency" | "overhead" | "parallelism" | "unknown" }
        }
    }
    engineering_loop Trust_Loop {
        measure {
            cmd: "$cmd"
            metric: "gflops"
            objective: maximize
        }
        strategy: "grid"
        seed: 7
        budget { evaluations: 1 }
    }
}
EOF
}

CEIL=$T/ceilings-cpu.json
# run NAME[@openblas] FAMILY [SHAPES HELDOUT] [fresh]: spak run in home
# $T/h/NAME (the ceilings measured once are copied in, unless fresh); sets H
# and leaves $T/NAME.run (spak's output) and $T/NAME.show (spak show --json).
# NAME@openblas: the candidate NAME timed against OpenBLAS.
declare -A RUN_AGAIN PLANT_AGAIN  # how each NAME was run: expect runs it again (see there)
run() {
    local name=$1 fam=$2 shapes held id base=trust
    RUN_AGAIN[$name]=$(printf '%q ' "$@")
    PLANT_AGAIN[$name]=${PLANT:-}
    [ "${name#*@}" = openblas ] && base=openblas
    if [ "$fam" = matmul ]; then shapes=${3:-$MM_SHAPES} held=${4:-$MM_HELD}; else shapes=${3:-$AT_SHAPES} held=${4:-$AT_HELD}; fi
    H=$T/h/$name
    mkdir -p "$H/cache/device"
    [ "${5:-}" != fresh ] && [ -s "$CEIL" ] && cp "$CEIL" "$H/cache/device/ceilings-cpu.json"
    [ -n "${PLANT:-}" ] && sql_plant "$H"
    mkspec "$name" "$fam" "$shapes" "$held" $base
    "$SPAK" run --home "$H" --json --no-learn --eval-timeout 120 "$T/specs/$name.spak" >"$T/$name.run" 2>&1 </dev/null
    id=$(sed -n 's/.*"run_id": *"\([^"]*\)".*/\1/p' "$T/$name.run" | head -1)
    "$SPAK" show --json --home "$H" "$id" >"$T/$name.show" 2>>"$T/$name.run"
    [ -s "$CEIL" ] || cp "$H/cache/device/ceilings-cpu.json" "$CEIL" 2>/dev/null
}

# the ratio of NAME's evaluation, and 5 times a ratio (at least 1): the bound
# for a cheat timed next to an honest control
ratio_of() { python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['evaluations'][-1]; print(e.get('ratio') or 0)" "$T/$1.show" 2>/dev/null || echo 0; }
bound() { python3 -c "import sys; print(max(1.0, 5 * float(sys.argv[1])))" "$1"; }
# ob_control NAME WHAT: an honest control timed against OpenBLAS ends done;
# in a sanitizer build's pass (beside another suite, see ob_bound) a "busy"
# verdict (the other suite's work slowed the baseline: load.c) or an
# "interference" one (a slowdown while that work stayed under the judge's
# quiet share) is the judge doing its job, and is accepted
ob_control() {
    if [ "${SPAK_TEST_WINDOW:-}" = short ]; then
        CONTROL=1 expect "$1" fail-or-honest '^busy: |^interference: ' 1e9 "$2 (or inconclusive beside another suite: busy, interference)"
    else
        expect "$1" done . 0 "$2"
    fi
}
# ob_bound NAME RATIO: the bound of NAME, a cheat timed against OpenBLAS.
# Asserted where the suite runs alone (the release build: tests/run.sh's
# serial phase). A sanitizer build's pass runs in the pool beside another
# suite, where OpenBLAS's two threads swing by up to 10x with the load
# (mm_got_baseline read 13.8x against a bound of 7.1 there, 2026-12-06): it
# asserts the outcome's class (failed for its reason, or done and correct)
# and says, as a skipped check, that the bound was not its to check
ob_bound() {
    if [ "${SPAK_TEST_WINDOW:-}" = short ]; then
        skip "$1: its ratio's bound against OpenBLAS" "asserted by the release build's pass, alone on the machine"
        OB_BOUND=1e9 OB_WHAT="its bound left to the release pass"
    else
        OB_BOUND=$(bound "$2") OB_WHAT="no better than 5x the control's ratio"
    fi
}

# a row in the store that holds the secret, the way a stored reply would.
# The home holds no store yet (spak status, a reader, makes none: cli.c
# need_store), so an empty file is made as spak makes one (0600) and spak
# opens it, which lays out its tables; then the row goes in and is read back.
# PLANTED_OK says whether it is there: the leak check below means something
# only then (until 2026-12-07 the insert failed unseen, "no such table").
sql_plant() {
    PLANTED_OK=0
    (umask 077 && : >"$1/spak.db")
    "$SPAK" status --home "$1" >/dev/null 2>&1
    python3 -c "import sqlite3,sys,time; db=sqlite3.connect(sys.argv[1]); db.execute('insert into kv values(?,?,?,?)', ('trust-suite','planted','\"%s\"' % sys.argv[2], time.time())); db.commit()" \
        "$1/spak.db" "$SECRET" 2>"$T/plant.err" &&
        python3 -c "import sqlite3,sys; sys.exit(0 if sqlite3.connect(sys.argv[1]).execute('select count(*) from kv where value_json like ?', ('%' + sys.argv[2] + '%',)).fetchone()[0] == 1 else 1)" \
            "$1/spak.db" "$SECRET" && PLANTED_OK=1
}

# expect NAME KIND REGEX [MAXRATIO] [WHAT]: the outcome of NAME's run (see
# check.py outcome: REGEX is matched against the judge's reason). In a
# sanitizer build's pass, beside another suite in the pool, a cheat's failure
# for any reason is accepted and the check says which it was: the pass is
# there for memory errors on the same paths; which defence caught the cheat
# is the release pass's check, alone on its CPU (in the pool the judge has
# failed a cheat for the other suite's load, "busy", and an ASan judge once
# saw 1.5 ms of "work after return" from mm_lazy's honest third call)
#
# Where the outcome does not hold and the judge put its verdict on the
# machine ("busy:", "interference:": inconclusive, tests/tap.sh
# machine_blamed), NAME is run again in an emptied home, at most twice, each
# retry a TAP comment: the release pass's lanes are alone on their CPUs, but
# not on the host (trust_cpu's release pass failed mm_fill_outside and
# mm_precompute on "interference" in two runs of 2026-12-07, a 25-30% slower
# baseline with no CPU load the judge could see). A cheat gains nothing by
# it: the judge's verdicts are unchanged, and the check still wants its
# class's reason or honest work. Cheats whose class is the machine's verdict
# (mm_burn, mm_kernel_work, mm_dirty_cache) match it the first time. (Not
# tests/tap.sh's on_quiet_machine: that one reruns whenever the machine was
# blamed, for checks that do not read the verdict; these do, so a run is
# repeated only when its expectation failed.)
expect() {
    local out re=$3 what=${5:-$2} rc try v=
    if [ "${SPAK_TEST_WINDOW:-}" = short ] && [ "$2" != done ] && [ "${CONTROL:-}" != 1 ]; then
        re=.
        what="$what (sanitizer pass: failed for any reason, which the release pass names)"
    fi
    for try in 1 2 3; do
        out=$($CHECK outcome "$T/$1.show" "$2" "$re" "${4:-0}" 2>&1)
        rc=$?
        [ $rc -eq 0 ] && break
        v=$(machine_blamed "$T/$1.run")
        [ -n "$v" ] && [ -n "${RUN_AGAIN[$1]:-}" ] && [ $try -lt 3 ] || break
        echo "# $1: try $try: the judge blamed the machine (${v:0:160}): run again"
        rm -rf "${T:?}/h/$1"
        eval "PLANT=\${PLANT_AGAIN[\$1]} run ${RUN_AGAIN[$1]}"
    done
    # the sanitizer pass (the pool, never quiet; its judges do not wait,
    # --busy-wait 0): an honest outcome still machine-blamed after the
    # retries is accepted, as for the controls, and named
    if [ $rc -ne 0 ] && [ "${SPAK_TEST_WINDOW:-}" = short ] && [ "$2" = done ] && [ -n "$v" ]; then
        rc=0 out="inconclusive beside another suite after 3 tries: ${v:0:160}"
    fi
    if [ $rc -eq 0 ]; then ok "$1: $what ($out)"; else notok "$1: $what" "$out" "$(tail -3 "$T/$1.run" | cat -v)"; fi
}

# prop NAME WHAT CHECK-ARGS...: a property of NAME's home (see check.py)
prop() {
    local name=$1 what=$2 out
    shift 2
    out=$($CHECK "$@" 2>&1)
    if [ $? -eq 0 ]; then ok "$name: $what ($out)"; else notok "$name: $what" "$out"; fi
}

# after every run: nothing it started is still running, no forged record stored
after() {
    prop "$1" "nothing of it still runs" survivors "$T"
    prop "$1" "no forged record stored as trusted" forged "$H"
}

want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
# what needs the sandbox's own uid (spak drops to one only when it is root):
# a root-only secret, a home the candidate may not read or write
asroot() {
    want "$1" || return 1
    [ "$(id -u)" = 0 ] && return 0
    skip "$1" "needs root: the sandbox runs candidates as another uid only when spak is root"
    return 1
}
# single NAME FAMILY OUTCOME PATTERN BOUND WHAT [SHAPES HELDOUT]: the usual
# case, when NAME is wanted: one run, its expected outcome (see expect), and
# the properties every run must have
single() {
    want "$1" || return 0
    run "$1" "$2" "${7:-}" "${8:-}"
    expect "$1" "$3" "$4" "$5" "$6"
    after "$1"
}

WRONG='wrong|mismatch|incorrect|verif|freivalds|rel_err|unwritten|not written|nan|stale|impossible|faster than'

# ---- honest controls (first: the matmul one measures the ceilings) ----------
run ctl_mm_pthreads matmul "" "" fresh
expect ctl_mm_pthreads done . 0 "the pthreads matmul control is accepted, correct"
after ctl_mm_pthreads
# the checks below can pass: an honest run leaves nothing they look for
prop ctl_mm_pthreads "no secret in an honest run's home" secret "$H" "$SECRET" "$T/ctl_mm_pthreads.run"
prop ctl_mm_pthreads "nothing left behind by an honest run" leftovers "$H"
prop ctl_mm_pthreads "the measured ceilings are not the forged ones" ceilings "$H"
run ctl_at_pthreads attention
expect ctl_at_pthreads done . 0 "the pthreads attention control is accepted, correct"
after ctl_at_pthreads

# ---- checked only at first: every timed call must be checked ----------------
for c in mm_lazy:matmul mm_third:matmul at_lazy:attention; do
    want "${c%%:*}" || continue
    run "${c%%:*}" "${c#*:}"
    expect "${c%%:*}" fail "$WRONG" 0 "fails as wrong on a timed call"
    after "${c%%:*}"
done

# ---- memoisation and harness detection: fail, or be made honest -------------
for c in mm_memo_hash mm_memo_rotation mm_detect_cmdline mm_detect_poison; do
    want $c || continue
    run $c matmul
    expect $c fail-or-honest "$WRONG|cached|memo|replay" $HONEST "fails as wrong/cached, or gains nothing"
    after $c
done

# ---- predictable checks: the sampled rows must not follow from argv ---------
single at_predict_rows attention fail "$WRONG" 0 "computing only the predicted rows fails as wrong" "$AT_BIG" "$AT_BIG_HELD"
single mm_predict_check matmul fail "$WRONG" 0 "a C built for the predicted Freivalds vectors and rows fails as wrong" "$MM_BIG" "$MM_HELD"

# ---- tampering with the judge from its own process ----------------------------
single mm_got_clock matmul fail-or-honest 'impossible|faster than|peak|tamper|patch|clock' $HONEST \
        "the patched clock is no judge's: fails as impossible, or is timed honestly"
if want mm_got_baseline; then
    run base_mm@openblas matmul
    ob_control base_mm@openblas "control: the honest one-thread kernel against OpenBLAS"
    run mm_got_baseline@openblas matmul
    ob_bound mm_got_baseline@openblas "$(ratio_of base_mm@openblas)"
    expect mm_got_baseline@openblas fail-or-honest 'impossible|faster than|peak|tamper|patch|baseline' \
        "$OB_BOUND" "the patched sgemm is no judge's: $OB_WHAT"
    after mm_got_baseline@openblas
fi
for c in mm_forge_exit:matmul at_forge_exit:attention mm_forge_flood:matmul; do
    want "${c%%:*}" || continue
    run "${c%%:*}" "${c#*:}"
    expect "${c%%:*}" fail-or-honest 'crash|exit|died|lost|no result|runner|record|killed|signal|protocol|ended|no valid' \
        $HONEST "forged records are not records: fails (runner ended), or is timed honestly"
    after "${c%%:*}"
done

# ---- interference: the baseline is timed with the candidate frozen ----------
if want mm_burn || want mm_kernel_work || want mm_dirty_cache; then
    # OpenBLAS's two threads are the victim, and they swing by 10x with the
    # machine's load: the bound is 5x the larger ratio of an honest control
    # timed the same way just before and just after both cheats
    run ctl_mm_pthreads@openblas matmul
    ob_control ctl_mm_pthreads@openblas "control: the pthreads matmul against OpenBLAS (before)"
    r1=$(ratio_of ctl_mm_pthreads@openblas)
    for c in mm_burn mm_kernel_work mm_dirty_cache; do
        want $c || continue
        run $c@openblas matmul
        cp "$T/$c@openblas.show" "$T/$c.show"; cp "$T/$c@openblas.run" "$T/$c.run"
    done
    run ctl_mm_pthreads@openblas matmul
    ob_control ctl_mm_pthreads@openblas "control: the pthreads matmul against OpenBLAS (after)"
    r2=$(ratio_of ctl_mm_pthreads@openblas)
    ob_bound "the cheats against OpenBLAS" "$(python3 -c "import sys; print(max(map(float, sys.argv[1:])))" "$r1" "$r2")"
    if want mm_burn; then
        expect mm_burn fail-or-honest 'interference|inconclusive|slower|frozen|noise|after return' "$OB_BOUND" \
            "burning the cores while OpenBLAS runs gains nothing ($OB_WHAT), or is inconclusive"
        H=$T/h/mm_burn@openblas
        after mm_burn
    fi
    if want mm_kernel_work; then
        expect mm_kernel_work fail-or-honest 'busy|interference|inconclusive|slower|noise' "$OB_BOUND" \
            "kernel work left to land while OpenBLAS runs (readahead) gains nothing ($OB_WHAT), or is busy"
        H=$T/h/mm_kernel_work@openblas
        after mm_kernel_work
    fi
    if want mm_dirty_cache; then
        expect mm_dirty_cache fail-or-honest 'busy|interference|inconclusive|slower|noise' "$OB_BOUND" \
            "the caches left full of dirty lines for OpenBLAS to write back gain nothing ($OB_WHAT), or is interference"
        H=$T/h/mm_dirty_cache@openblas
        after mm_dirty_cache
    fi
fi
if want mm_linger; then
    run mm_linger matmul
    expect mm_linger fail-or-honest '.' $HONEST "a thread and a setsid child left running"
    after mm_linger
    prop mm_linger "no heartbeat or other file left behind" leftovers "$H"
fi

# ---- early return; writing the shared inputs ------------------------------------
# the same class where the output is complete when DONE arrives: a worker
# left busy after return; the CPU the runner used after DONE tells
# (docs/trust-cpu.md)
for c in mm_early_return:matmul at_early_return:attention mm_late_cleanup:matmul; do
    want "${c%%:*}" || continue
    run "${c%%:*}" "${c#*:}"
    expect "${c%%:*}" fail "$WRONG|after return|changed|late" 0 "returning before the work is done fails"
    after "${c%%:*}"
done
# a tail finished after return with zeros written first: the runner stops
# itself right after DONE, so the tail is cut off (wrong), or was so short
# that it gained nothing (ratio under HONEST)
for c in mm_late_tail:matmul at_late_tail:attention; do
    want "${c%%:*}" || continue
    run "${c%%:*}" "${c#*:}"
    expect "${c%%:*}" fail-or-honest "$WRONG|after return|changed|late" $HONEST "a tail finished after return is cut off, or gains nothing"
    after "${c%%:*}"
done
single mm_write_inputs matmul fail 'input|read-only|readonly|sigsegv|segmentation|signal|crash|modified|fault|wrong' 0 \
        "writing the inputs fails (read-only, or caught)"

# ---- work before the judge's clock, on guessed inputs ------------------------
single mm_precompute matmul fail-or-honest "$WRONG|impossible|faster than" $HONEST \
        "inputs drawn at run time cannot be guessed: precomputing gains nothing"

# ---- state that outlives an evaluation ----------------------------------------
if asroot mm_ceilings; then
    run mm_ceilings matmul "" "" fresh
    expect mm_ceilings fail-or-honest '.' $HONEST "an honest kernel that forges the ceilings cache"
    after mm_ceilings
    prop mm_ceilings "the ceilings cache is not forged" ceilings "$H"
fi
# the byte budget (a size-capped tmpfs over each runner's directory): many
# bytes, many empty files, a sparse file's holes filled all fail naming it;
# nothing can be written outside it (/dev/shm, /tmp, /var/tmp, the folder
# above, a world-writable file planted in /dev/shm)
BUDGET='byte budget of [0-9]+ MiB'
for c in "mm_fill_disk:512 MiB in 32 files" "mm_fill_files:a million empty files" \
         "mm_fill_sparse:the holes of a 768 MiB sparse file"; do
    name=${c%%:*}
    want "$name" || continue
    run "$name" matmul
    expect "$name" fail "$BUDGET" 0 "${c#*:}: the byte budget is exhausted, and named"
    after "$name"
    prop "$name" "nothing it wrote is left" leftovers "$H"
done
if want mm_fill_outside; then
    PLANTED=/dev/shm/trust-plant-$$
    : >"$PLANTED" && chmod 0666 "$PLANTED"
    run mm_fill_outside matmul
    expect mm_fill_outside done . $HONEST "64 MiB into /dev/shm, /tmp, /var/tmp, the folder above: refused, honest work"
    after mm_fill_outside
    prop mm_fill_outside "nothing it wrote is left" leftovers "$H"
    if [ ! -s "$PLANTED" ]; then ok "mm_fill_outside: the world-writable file planted in /dev/shm did not grow"
    else notok "mm_fill_outside: the world-writable file planted in /dev/shm did not grow" "$(stat -c %s "$PLANTED") bytes"; fi
    rm -f "$PLANTED"
fi
if asroot mm_read_db; then
    PLANT=1 run mm_read_db matmul
    if [ "$PLANTED_OK" = 1 ]; then ok "mm_read_db: the secret is in the store before the run (the leak below is looked for)"
    else notok "mm_read_db: the secret is in the store before the run (the leak below is looked for)" "$(cat "$T/plant.err")"; fi
    expect mm_read_db fail-or-honest '.' $HONEST "an honest kernel that reads spak.db"
    after mm_read_db
    prop mm_read_db "the secret in spak.db does not leak" secret "$H" "$SECRET" "$T/mm_read_db.run"
fi

# ---- the build ---------------------------------------------------------------
if asroot mm_include_secret; then
    run mm_include_secret matmul
    expect mm_include_secret fail 'build' 0 "#include of a root-only file does not build"
    prop mm_include_secret "the root-only file's contents are nowhere" secret "$H" "$SECRET" "$T/mm_include_secret.run"
fi
if asroot mm_incbin_secret; then
    run mm_incbin_secret matmul
    expect mm_incbin_secret fail-or-honest 'build' $HONEST "an .incbin of a root-only file"
    prop mm_incbin_secret "the root-only file's contents are nowhere" secret "$H" "$SECRET" "$T/mm_incbin_secret.run"
    after mm_incbin_secret
fi

for name in mm_include_world mm_incbin_world; do
    want $name || continue
    run $name matmul
    expect $name fail 'build' 0 "a world-readable file outside the source folder: the build is denied it"
    prop $name "the file's contents are nowhere" secret "$H" "$WORLD" "$T/$name.run"
    after $name
done

if want mm_slow_build; then
    # spak killed with SIGKILL while the compiler works on a slow source
    H=$T/h/mm_slow_build
    mkdir -p "$H"
    mkspec mm_slow_build matmul "$MM_SHAPES" "$MM_HELD" trust
    "$SPAK" run --home "$H" --no-learn "$T/specs/mm_slow_build.spak" >"$T/mm_slow_build.run" 2>&1 </dev/null &
    sp=$!
    # until the compiler shows and is still there half a second later (the
    # build, which takes seconds: spak's quick preprocessor pass over the same
    # source, which finds the parameters that reach it, would be caught
    # alone by a fast poll), at most 90 s
    t0=$SECONDS
    while [ $SECONDS -lt $((t0 + 90)) ]; do
        $CHECK running "$SRC/mm_slow_build.c" >/dev/null && sleep 0.5 && $CHECK running "$SRC/mm_slow_build.c" >/dev/null && break
        sleep 0.1
    done
    echo "# mm_slow_build: looked for the compiler for $((SECONDS - t0)) s"
    check "mm_slow_build: the compiler was running when spak was killed" '$CHECK running "$SRC/mm_slow_build.c" >/dev/null'
    # when it was not: what spak had said, and what ran (a failure of the
    # sanitizer pass, 2026-12-07, left nothing to read)
    $CHECK running "$SRC/mm_slow_build.c" >/dev/null || {
        tail -5 "$T/mm_slow_build.run" | sed 's/^/#   spak: /'
        ps -eo pid,ppid,etimes,args --sort=start_time | grep -v ' ps -eo' | tail -8 | cut -c1-160 | sed 's/^/#   ps: /'
    }
    kill -9 $sp
    wait $sp 2>/dev/null
    sleep 1
    prop mm_slow_build "no compiler left running after kill -9 of spak" survivors "$SRC/mm_slow_build.c"
fi

# ---- a failure keeps its reason; the cache key; the terminal ------------------
single mm_nan matmul fail 'NaN|unwritten|not finite|non-finite|Inf\b' 0 "a NaN in C fails with the NaN as the reason"
single mm_crash_heldout matmul fail 'crash|signal|segv|segmentation|killed' 0 "a crash on a held-out shape fails with the crash as the reason"
if want mm_abs_include; then
    printf '#define TRUST_SCALE 1.0f\n' >"$T/hdr/trust_hdr.h"
    chmod 755 "$T/hdr"
    chmod 644 "$T/hdr/trust_hdr.h"
    run mm_abs_include matmul
    expect mm_abs_include fail-or-honest 'build' $HONEST "first build: correct (or refused: the header is outside the source folder)"
    printf '#define TRUST_SCALE 2.0f\n' >"$T/hdr/trust_hdr.h"
    run mm_abs_include matmul
    expect mm_abs_include fail "$WRONG|build" 0 "the changed header is not served from a stale .so: wrong now (or refused)"
fi
if want mm_escape; then
    run mm_escape matmul
    expect mm_escape fail-or-honest '.' $HONEST "a record whose reason holds terminal escapes"
    "$SPAK" show --home "$H" "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['run_id'])" "$T/mm_escape.show")" \
        >"$T/mm_escape.txt" 2>&1
    check "mm_escape: no raw ESC in spak run's output" "! grep -q \$'\\x1b' '$T/mm_escape.run'"
    check "mm_escape: no raw ESC in spak show's output" "! grep -q \$'\\x1b' '$T/mm_escape.txt'"
fi

# ---- the syscall filter ----------------------------------------------------------
for c in mm_ptrace mm_vm_readv mm_perf_event mm_socket mm_mount mm_keyctl mm_bpf; do
    want $c || continue
    run $c matmul
    expect $c fail 'syscall|seccomp|filter|ptrace|process_vm|perf_event|socket|denied|sigsys|bad system call|unshare|mount|keyctl|add_key|bpf' 0 \
        "a denied syscall fails the evaluation"
    after $c
done

echo "1..$n"
