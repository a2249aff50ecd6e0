#!/usr/bin/env bash
# tests/suites/slurm.sh BUILD_DIR - the Slurm executor on a REAL Slurm (TAP;
# docs/scale-out.md). The suite starts, in a scratch folder, munged and a
# one-node cluster (slurmctld + slurmd from Debian's slurm-wlm, the node
# "localhost" with 2 CPUs in partition "cpu", proctrack/linuxproc, no
# accounting database: squeue -t all keeps finished jobs for MinJobAge) and
# stops them on any exit. spak runs as an ordinary user (spak-slurm-test,
# made when absent), which is what a cluster gives it:
#  - the CPU example through sbatch: each evaluation one job, its records
#    back through the job's folder, executor and Slurm state recorded;
#  - kill -9 of spak while a job runs, then `spak resume`: the job is
#    waited for (re-attached), not submitted again (one job per evaluation);
#  - a job cancelled by hand (scancel) and a job past its time limit are
#    recorded failures with Slurm's states CANCELLED and TIMEOUT;
#  - SIGINT to spak while a job runs cancels the job (scancel), and the
#    resumed run proposes the evaluation again instead of waiting for it;
#  - --jobs 2: two jobs in flight at once, measured one at a time on the
#    node (the measurement lock, taken there by spak-exec-job);
#  - --jobs 2 killed with two jobs running: the resume re-attaches to both
#    at once, collects them as they finish and fills the freed slot; each
#    re-attached evaluation is stored as in an uninterrupted run.
# Needs root (the daemons, the user); skipped, saying why, without it or
# without Slurm (scripts/deps.sh --test installs slurm-wlm and munge).
# parallel: yes (tests/run.sh: no check reads a time or a ratio; the suite mostly waits on Slurm,
# its 30 s time-limit tick and the job polling; its ASan pass ran in the pool, 19/19, 2026-12-06)
# waits: yes (tests/run.sh starts it with the pool, outside its slots: about 3 minutes, mostly waiting)
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init slurm "$@"

if [ "$(id -u)" != 0 ]; then
    skip "slurm suite" "needs root to start munged, slurmctld and slurmd and to add the test user"
    echo "1..$n"
    exit 0
fi
for p in munged slurmctld slurmd sbatch squeue scancel newuidmap newgidmap; do
    if ! command -v "$p" >/dev/null 2>&1; then
        skip "slurm suite" "$p is not installed (scripts/deps.sh --test)"
        echo "1..$n"
        exit 0
    fi
done

U=spak-slurm-test
id "$U" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$U"
# the user's subordinate ids (what a cluster's /etc/subuid grants its users):
# spak-exec-job makes the sandbox root of a user namespace with them
# (src/analyze/userns.h); far from the sandbox uids of --jobs (1900000000-)
grep -q "^$U:" /etc/subuid 2>/dev/null || usermod --add-subuids 2100000000-2100065535 "$U"
grep -q "^$U:" /etc/subgid 2>/dev/null || usermod --add-subgids 2100000000-2100065535 "$U"

# the cluster: everything under $T/cl, ports from this shell's pid
C="$T/cl"
mkdir -p "$C/munge" "$C/msock" "$C/ctld" "$C/d"
chmod 700 "$C/munge"
chmod 755 "$C" "$C/msock"
head -c 1024 /dev/urandom >"$C/munge/munge.key"
chmod 600 "$C/munge/munge.key"
port=$((20000 + ($$ % 20000)))
cat >"$C/slurm.conf" <<EOF
ClusterName=spaktest
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$C/msock/munge.socket
CredType=cred/munge
StateSaveLocation=$C/ctld
SlurmdSpoolDir=$C/d
SlurmctldPidFile=$C/ctld.pid
SlurmdPidFile=$C/d.pid
SlurmctldLogFile=$C/ctld.log
SlurmdLogFile=$C/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$C/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=3600
KillWait=2
InactiveLimit=0
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$C/slurm.conf"

# stop what this suite started (by the pid files it gave them), then the scratch dir
stop_cluster() {
    local f
    scancel --user="$U" 2>/dev/null  # this suite's cluster only (SLURM_CONF)
    for f in "$T"/h*/spak.db; do     # the spak processes it started, by their runs' owners
        [ -f "$f" ] && p=$(spak_pid "$(dirname "$f")") && [ -n "$p" ] &&
            grep -qa "$T" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
    done
    sleep 1
    for f in "$C/d.pid" "$C/ctld.pid" "$C/munge/munged.pid"; do
        [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    for bg in ${bgpids:-} ${bgpids3:-}; do kill -9 "$bg" 2>/dev/null; done
    sleep 1
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
bgpids= bgpids3=
trap stop_cluster EXIT

munged --force --socket="$C/msock/munge.socket" --key-file="$C/munge/munge.key" --log-file="$C/munge/munged.log" \
    --pid-file="$C/munge/munged.pid" --seed-file="$C/munge/munged.seed" 2>"$C/munged.err"
slurmctld 2>"$C/ctld.err"
slurmd -N localhost 2>"$C/d.err"
up=
for _ in $(seq 1 60); do
    if sinfo -h -o '%T' 2>/dev/null | grep -q idle; then up=1; break; fi
    sleep 0.5
done
if [ -z "$up" ]; then
    notok "the one-node cluster comes up (sinfo shows the node idle)" "$(tail -5 "$C/ctld.log" "$C/d.log" 2>&1)"
    echo "1..$n"
    exit 1
fi
ok "the one-node cluster comes up: munged, slurmctld, slurmd (partition cpu, node localhost idle)"

# the measurement locks of this suite's runs and jobs (measure_lock.h):
# apart from the machine's, so that other runs here neither wait nor are waited for
L="$T/locks"
mkdir -p "$L" && chmod 1777 "$L"
# as_user CMD...: run CMD as the test user, with the cluster's config (sbatch
# passes the environment on to the job: its spak-exec-job locks in $L too)
# (LOCKS=DIR: another lock folder than $L)
as_user() { runuser -u "$U" -- env SLURM_CONF="$SLURM_CONF" SPAK_LOCK_DIR="${LOCKS:-$L}" PATH="$PATH" "$@"; }
# jobs_of: how many evaluation jobs (spak-eN.job) the test user has had
# (MinJobAge keeps finished ones); a run's closing re-time session is a job
# of its own (spak-retime-K.job) when its leaders' intervals overlap
jobs_of() { squeue -h -t all -u "$U" -o %j | grep -c '^spak-e[0-9]*\.job$'; }
# wait_job_running HOME: waits (120 s at most) until HOME's store has an open job that squeue says RUNNING; prints its id
wait_job_running() {
    local id s
    for _ in $(seq 1 240); do
        id=$(sql "$1/spak.db" "select job_id from jobs where finished_at is null order by eval_id desc limit 1" 2>/dev/null)
        if [ -n "$id" ]; then
            s=$(squeue -h -t all -j "$id" -o %T 2>/dev/null)
            [ "$s" = RUNNING ] && { echo "$id"; return 0; }
        fi
        sleep 0.5
    done
    return 1
}
# spak_pid HOME: the pid of the spak process that holds HOME's run (the
# store's owner, host:pid; $! would be the runuser wrapper's)
spak_pid() { sql "$1/spak.db" "select owner from runs limit 1" | sed 's/.*://'; }
SPEC="$ROOT/examples/matmul-cpu.spak"
# the same on a small shape with a short timing (0.5 s at most a shape; no
# check here reads a time or a ratio), for the runs whose jobs may end by
# themselves (1. accepts a job that completed before the kill): a job that
# must be cancelled while it runs (2., 4.) runs the example as it is, whose
# 1024^3 checks keep it running well past the moment the suite sees it
# RUNNING (the naive rung's evaluation took 53 s there, a minute of the suite)
SHORT_SPEC="$T/matmul-cpu-short.spak"
sed -e "s|\"../kernels|\"$ROOT/kernels|" -e 's|shapes: \["1024x1024x1024"\]|shapes: ["96x96x96"]|' \
    -e 's|heldout: \[[^]]*\]|heldout: ["33x17x9"]|' -e 's|--min-time 0.2|--min-time 0.02 --max-time 0.5|' "$SPEC" >"$SHORT_SPEC"
# a user's home for each case, on the "shared" file system (the scratch dir)
mkhome() { mkdir -p "$T/$1" && chown "$U" "$T/$1" && echo "$T/$1"; }

# 1. the CPU example through Slurm; kill -9 mid-job; resume re-attaches
H=$(mkhome h1)
as_user "$SPAK" run "$SHORT_SPEC" --home "$H" --executor slurm --slurm-partition cpu --slurm-time 10 --budget 2 \
    --allow-weak-isolation --json >"$T/r1.out" 2>"$T/r1.err" &
pid=$!
bgpids="$pid"
j1=$(wait_job_running "$H")
check "a run's evaluation is a Slurm job, journaled in the store while it runs" "[ -n '$j1' ]"
kill -9 "$(spak_pid "$H")"
wait "$pid" 2>/dev/null
bgpids=
st1=$(squeue -h -t all -j "$j1" -o %T 2>/dev/null)
check "kill -9 of spak leaves its job to Slurm (still $st1)" "[ '$st1' = RUNNING ] || [ '$st1' = COMPLETING ] || [ '$st1' = COMPLETED ]"
run=$(sql "$H/spak.db" "select id from runs limit 1")
e1=$(sql "$H/spak.db" "select eval_id from jobs where job_id = ?" "$j1")
as_user "$SPAK" resume "$run" --home "$H" --json >"$T/r1r.out" 2>"$T/r1r.err"
rc=$?
check "spak resume finishes the run (exit 0)" "[ $rc = 0 ]"
evals=$(sql "$H/spak.db" "select count(*) from evaluations where run_id = ?" "$run")
njobs=$(sql "$H/spak.db" "select count(*) from jobs where run_id = ?" "$run")
twice=$(sql "$H/spak.db" "select count(*) from (select e.cand_id from jobs j join evaluations e using (run_id, eval_id) group by e.cand_id having count(*) > 1)")
nint=$(sql "$H/spak.db" "select count(*) from evaluations where status = 'interrupted'")
check "re-attached, not submitted again: one job per evaluation, none interrupted, no candidate twice ($njobs jobs, $evals evaluations, $(jobs_of) in squeue, $nint interrupted, $twice candidates twice)" \
    "[ '$njobs' = '$evals' ] && [ \"\$(jobs_of)\" = '$evals' ] && [ '$nint' = 0 ] && [ '$twice' = 0 ]"
st=$(sql "$H/spak.db" "select status from evaluations where run_id = ? and eval_id = ?" "$run" "$e1")
rj=$(sql "$H/spak.db" "select result_json from evaluations where run_id = ? and eval_id = ?" "$run" "$e1")
check "the killed run's job is waited for and its outcome stored (status $st), with its job id" \
    "[ '$st' != interrupted ] && echo '$rj' | python3 -c \"import json,sys; x=json.load(sys.stdin)['executor']; assert x['name']=='slurm' and x['job_id']=='$j1' and x['state']=='COMPLETED', x\""
jn=$(sql "$H/spak.db" "select detail_json from journal where run_id = ? and detail_json like '%resumed%'" "$run")
check "the resume is journaled with the re-attached job (reattached: 1)" \
    "echo '$jn' | python3 -c \"import json,sys; d=json.loads(sys.stdin.read()); assert d['reattached']==1, d\""
check "the records came back through the job's folder (trace records stored for every evaluation)" \
    "[ \"\$(sql $H/spak.db \"select count(distinct eval_id) from traces where run_id = '$run' and eval_id > 0\")\" = '$evals' ]"
check "each evaluation records where it ran and as whom: executor slurm, node, as the user (as_root false) in a user namespace of its own (userns true)" \
    "sql $H/spak.db \"select result_json from evaluations where run_id = '$run'\" | python3 -c \"
import json,sys
for l in sys.stdin:
    r=json.loads(l); x=r['executor']; i=r['isolation']
    assert x['name']=='slurm' and x['node'] and i['as_root'] is False and i['userns'] is True, r
\""
check "as the user, in the user namespace: the judge has its minimum (PID and network namespaces) and the CPU example's evaluations pass, trusted" \
    "[ \"\$(sql $H/spak.db \"select count(*) from evaluations where run_id = '$run' and status != 'done'\")\" = 0 ] && sql $H/spak.db \"select result_json from evaluations where run_id = '$run'\" | python3 -c \"
import json,sys
for l in sys.stdin:
    r=json.loads(l); i=r['isolation']
    assert r['trusted'] is True and i['missing']=='' and 'pidns' in i['layers'] and 'netns' in i['layers'], r
\""
check "the job ran as the user, not root (uid $U in squeue)" "[ \"\$(squeue -h -t all -j $j1 -o %u)\" = '$U' ]"

# 3. a job past its time limit (Slurm checks every 30 s: 60-90 s for --time 1),
# started here and checked after 4.: cases 2 and 4 run meanwhile on the
# node's other CPU (1 counts every job of the user, 5 needs both CPUs). Its
# own lock folder: its sleep is a measurement, and would hold the node's
# measurement lock that the jobs of 2 and 4 wait for
H3=$(mkhome h3)
mkdir -p "$T/s3" "$T/locks3" && chmod 1777 "$T/locks3" && cat >"$T/s3/sleep.spak" <<'SPEC'
system SlurmTimeout {
    problem { target: "cpu" }
    tuning_space { v: [1] }
    engineering_loop L {
        measure { cmd: "/bin/sleep 600", metric: "score", objective: maximize }
        strategy: "grid"
        executor: "slurm"
        slurm { partition: "cpu", time: 1 }
    }
}
SPEC
chmod -R a+rX "$T/s3"
LOCKS="$T/locks3" as_user "$SPAK" run "$T/s3/sleep.spak" --home "$H3" --allow-weak-isolation --eval-timeout 900 --json \
    >"$T/r3.out" 2>"$T/r3.err" &
pid3=$!
bgpids3=$pid3

# 2. a job cancelled by hand is a recorded failure with Slurm's state
H=$(mkhome h2)
as_user "$SPAK" run "$SPEC" --home "$H" --executor slurm --slurm-time 10 --budget 1 --allow-weak-isolation \
    --json >"$T/r2.out" 2>"$T/r2.err" &
pid=$!
bgpids="$pid"
j2=$(wait_job_running "$H")
scancel "$j2"
wait "$pid"
bgpids=
row=$(sql "$H/spak.db" "select e.status, e.exit_desc, j.state from evaluations e join jobs j using (run_id, eval_id)")
check "scancel by hand: the evaluation failed, Slurm's state CANCELLED recorded ($row)" \
    "echo '$row' | grep -q '^failed|.*slurm job $j2 ended CANCELLED.*|CANCELLED$'"

# 4. SIGINT to spak while its job runs: the job is cancelled; the resumed
# run proposes the evaluation again rather than waiting for a dead job
H=$(mkhome h4)
as_user "$SPAK" run "$SPEC" --home "$H" --executor slurm --budget 1 --allow-weak-isolation \
    --json >"$T/r4.out" 2>"$T/r4.err" &
pid=$!
bgpids="$pid"
j4=$(wait_job_running "$H")
kill -INT "$(spak_pid "$H")"
wait "$pid"
rc=$?
bgpids=
s4=
for _ in $(seq 1 20); do
    s4=$(squeue -h -t all -j "$j4" -o %T)
    [ "$s4" = CANCELLED ] && break
    sleep 0.5
done
check "SIGINT: spak cancels its job (squeue: $s4) and ends with an error (exit $rc)" "[ '$s4' = CANCELLED ] && [ $rc != 0 ]"
check "SIGINT: the job is closed in the store as CANCELLED" \
    "[ \"\$(sql $H/spak.db 'select state from jobs')\" = CANCELLED ]"
run=$(sql "$H/spak.db" "select id from runs limit 1")
as_user "$SPAK" resume "$run" --home "$H" --json >"$T/r4r.out" 2>"$T/r4r.err"
sts=$(sql "$H/spak.db" "select group_concat(status) from (select status from evaluations order by eval_id)")
check "SIGINT, then resume: the cancelled evaluation is interrupted and run again as a new job ($sts)" \
    "echo '$sts' | grep -Eq '^interrupted,(done|failed)$' && [ \"\$(sql $H/spak.db 'select count(*) from jobs')\" = 2 ]"

# 3., started before 2.: its job timed out by now, or soon
wait "$pid3"
bgpids3=
row=$(sql "$H3/spak.db" "select e.status, e.exit_desc, j.state from evaluations e join jobs j using (run_id, eval_id)")
check "a job past its time limit (spec: executor slurm, slurm { time: 1 }): failed, state TIMEOUT ($row)" \
    "echo '$row' | grep -q '^failed|timeout: slurm job .* ended TIMEOUT.*|TIMEOUT$'"

# 5. --jobs 2 (engine_sched.c) through Slurm: two jobs in flight at once,
# their measurements one at a time on the node (its measurement lock,
# taken by spak-exec-job), each interval from the node's clock
H=$(mkhome h5)
as_user "$SPAK" run "$SHORT_SPEC" --home "$H" --executor slurm --jobs 2 --budget 2 --allow-weak-isolation \
    --json >"$T/r5.out" 2>"$T/r5.err" &
pid=$!
bgpids="$pid"
maxopen=0
for _ in $(seq 1 900); do
    o=$(sql "$H/spak.db" "select count(*) from jobs where finished_at is null" 2>/dev/null)
    [ -n "$o" ] && [ "$o" -gt "$maxopen" ] && maxopen=$o
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
wait "$pid"
rc=$?
bgpids=
check "--jobs 2: two Slurm jobs in flight at once (at most $maxopen open), the run done (exit $rc)" \
    "[ $maxopen -ge 2 ] && [ $rc = 0 ]"
check "--jobs 2: two evaluations, two distinct jobs, each closed COMPLETED" \
    "[ \"\$(sql $H/spak.db \"select count(distinct job_id) || '|' || group_concat(distinct state) from jobs\")\" = '2|COMPLETED' ]"
check "--jobs 2: the node's measurement lock kept the two measurements apart (their intervals on the node do not overlap)" \
    "sql $H/spak.db 'select result_json from evaluations' | python3 -c \"
import json,sys
m=sorted((json.loads(l)['measurement'] for l in sys.stdin), key=lambda x: x['from'])
assert len(m)==2 and m[0]['to'] <= m[1]['from'] and m[0]['device']=='cpu', m
\" && [ -f $L/measure-cpu.lock ]"

# 6. --jobs 2, kill -9 with two jobs running, resume: both re-attached at
# once and collected as they finish (the short one first), the freed slot
# taking the next proposal while the long one still runs; each re-attached
# evaluation stored as an uninterrupted run stores it (build log, unreached
# parameters, analysis, bottleneck, KNOWLEDGE and DECIDE journaled).
# Durations from the point (measure.py --sleep {{s}}), each slot its own
# core set (--cpus 0/1: two node locks, so neither waits for the other);
# u acts on nothing (every evaluation lists it as unreached).
mkdir -p "$T/s6"
cp "$ROOT/tests/engine/measure.py" "$T/s6/"
printf 'int spak_value(void) { return 1; }\n' >"$T/s6/k.c"
cat >"$T/s6/attach.spak" <<'SPEC'
system SlurmAttach {
    problem {
        target: "cpu"
        source: "k.c"
    }
    tuning_space {
        u: [1, 2]
        s: [24, 6, 1, 2]
    }
    trace_schema {
        variant TraceItem {
            case Correctness { passed: bool, reason: string }
            case Performance { score: float, ratio: float }
            case Analysis { bottleneck: "compute" | "memory" }
        }
    }
    engineering_loop L {
        measure { cmd: "python3 {{root}}/measure.py 3 2 --sleep {{s}}", metric: "score", objective: maximize }
        strategy: "grid"
        executor: "slurm"
        slurm { partition: "cpu", time: 10 }
    }
}
SPEC
chmod -R a+rX "$T/s6"
A6="--jobs 2 --cpus 0/1 --budget 3 --allow-weak-isolation --json"
H=$(mkhome h6)
as_user "$SPAK" run "$T/s6/attach.spak" --home "$H" $A6 >"$T/r6.out" 2>"$T/r6.err" &
pid=$!
bgpids="$pid"
nrun=0
for _ in $(seq 1 240); do
    nrun=0
    for id in $(sql "$H/spak.db" "select job_id from jobs where finished_at is null" 2>/dev/null); do
        [ "$(squeue -h -t all -j "$id" -o %T 2>/dev/null)" = RUNNING ] && nrun=$((nrun + 1))
    done
    [ "$nrun" -ge 2 ] && break
    sleep 0.5
done
check "--jobs 2: two jobs running at once before the kill ($nrun)" "[ $nrun -ge 2 ]"
kill -9 "$(spak_pid "$H")"
wait "$pid" 2>/dev/null
bgpids=
run=$(sql "$H/spak.db" "select id from runs limit 1")
as_user "$SPAK" resume "$run" --home "$H" --json >"$T/r6r.out" 2>"$T/r6r.err"
rc=$?
# the evaluation of a point, and its job's times
ev_of() { sql "$H/spak.db" "select e.eval_id from evaluations e join candidates c using (run_id, cand_id) where c.key = ?" "u=1,s=$1"; }
elong=$(ev_of 24)
eshort=$(ev_of 6)
enext=$(ev_of 1)
jn=$(sql "$H/spak.db" "select detail_json from journal where run_id = ? and detail_json like '%resumed%'" "$run")
check "resume with two jobs in flight: both re-attached (reattached: 2), the run done (exit $rc)" \
    "[ $rc = 0 ] && echo '$jn' | python3 -c \"import json,sys; d=json.loads(sys.stdin.read()); assert d['reattached']==2, d\""
order=$(sql "$H/spak.db" "select group_concat(json_extract(detail_json, '\$.eval_id')) from (select detail_json from journal where run_id = ? and to_state = 'knowledge' order by seq)" "$run")
check "re-attached jobs collected in finishing order: the short job's evaluation ($eshort) before the long one's ($elong) (KNOWLEDGE order $order)" \
    "[ -n '$elong' ] && [ -n '$eshort' ] && echo ',$order,' | grep -q \",$eshort,.*,$elong,\""
sub=$(sql "$H/spak.db" "select submitted_at from jobs where eval_id = ?" "$enext")
fin=$(sql "$H/spak.db" "select finished_at from jobs where eval_id = ?" "$elong")
check "the slot the short job freed took the next proposal while the long job still ran (submitted $sub, long job seen ending $fin)" \
    "[ -n '$sub' ] && [ -n '$fin' ] && python3 -c 'import sys; sys.exit(0 if $sub < $fin else 1)'"
check "one job per evaluation, none interrupted, none submitted twice" \
    "[ \"\$(sql $H/spak.db 'select count(*) from jobs')\" = 3 ] && [ \"\$(sql $H/spak.db 'select count(*) from evaluations')\" = 3 ] && [ \"\$(sql $H/spak.db \"select count(*) from evaluations where status = 'interrupted'\")\" = 0 ]"
# the same run uninterrupted, to compare with
H7=$(mkhome h7)
as_user "$SPAK" run "$T/s6/attach.spak" --home "$H7" $A6 >"$T/r7.out" 2>"$T/r7.err"
run7=$(sql "$H7/spak.db" "select id from runs limit 1")
as_user "$SPAK" show "$run" --home "$H" --json >"$T/show6.json"
as_user "$SPAK" show "$run7" --home "$H7" --json >"$T/show7.json"
cat >"$T/cmp6.py" <<'PY'
import json, re, sqlite3, sys
# per candidate: what spak show says, what the store keeps, what the journal says
def view(home, show, run):
    db = sqlite3.connect(home + "/spak.db")
    out = {}
    for e in json.load(open(show))["evaluations"]:
        eid = e["eval_id"]
        log, rj = db.execute("select build_log, result_json from evaluations where run_id = ? and eval_id = ?",
                             (run, eid)).fetchone()
        r = json.loads(rj)
        states = [s for (s, d) in db.execute("select to_state, detail_json from journal where run_id = ?", (run,))
                  if d and json.loads(d).get("eval_id") == eid]
        facts = [json.loads(d).get("facts") for (d,) in db.execute(
            "select detail_json from journal where run_id = ? and to_state = 'decide'", (run,))
                 if json.loads(d).get("eval_id") == eid]
        out[e["candidate"]] = {
            "show": {k: e.get(k) for k in ("status", "exit", "bottleneck", "correct", "metric", "ratio", "unreached",
                                           "trusted", "error")},
            "build_log": re.sub(r"/spak-build\.[^/]*/", "/BUILDDIR/", (log or "").replace(run, "RUN").replace(home, "HOME")),
            "result_keys": sorted(r), "executor_keys": sorted(r.get("executor", {})),
            "records": db.execute("select count(*) from traces where run_id = ? and eval_id = ? and valid = 1",
                                  (run, eid)).fetchone()[0],
            "steps": [s for s in states if s in ("analyze", "knowledge", "decide")], "facts": facts,
        }
    return out
a = view(sys.argv[1], sys.argv[2], sys.argv[3])
b = view(sys.argv[4], sys.argv[5], sys.argv[6])
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in a:
    assert a[k]["build_log"] and a[k]["show"]["unreached"] == ["u"], (k, "no build log or unreached", a[k])
    assert a[k] == b[k], (k, a[k], b[k])
print("same:", ", ".join(sorted(a)))
PY
check "each re-attached evaluation is stored as in the uninterrupted run: show's fields, build log, result keys, records, ANALYZE/KNOWLEDGE/DECIDE with facts ($(python3 "$T/cmp6.py" "$H" "$T/show6.json" "$run" "$H7" "$T/show7.json" "$run7" 2>&1 | tail -1))" \
    "python3 $T/cmp6.py $H $T/show6.json $run $H7 $T/show7.json $run7 >/dev/null"

echo "1..$n"
