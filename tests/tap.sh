# tests/tap.sh - the TAP helpers the shell suites (tests/suites/*.sh) source:
#   ok NAME / notok NAME [DETAIL...] / skip NAME WHY   one TAP line each, counted in $n
#   check NAME CONDITION       CONDITION (a shell string) is eval'd; its text is shown on failure
#   check_run NAME COMMAND...  COMMAND is run as it is
#   jlast EXPR                 a Python expression over d, the JSON object on stdin's last line
#   sql DB QUERY [ARG...]      rows of a SQLite query, '|'-separated
#   suite_init NAME [BUILD_DIR]  the preamble of a suite that runs spak: sets B
#                              (BUILD_DIR, default build, made absolute), SPAK,
#                              ROOT (the repo) and T, a scratch dir
#                              /tmp/spak-NAME.XXXXXX of mode 755 (the sandbox
#                              runs commands as an unprivileged user), removed
#                              at exit unless KEEP is set; a server the suite
#                              starts with its pid in srv is killed at exit
#   llm_reply HOME RUN FILE TEXT OUT  answer the manual LLM backend: TEXT (and a
#                              newline) into the reply FILE, then `spak resume` RUN
#                              of HOME, stdin closed, its output in OUT
#   on_tty OUT COMMAND...      COMMAND run on a pseudo-terminal (TERM=xterm), the
#                              bytes it wrote there, raw, in OUT
#   short_args                 the CPU judge's short window (below) when the
#                              suite runs with SPAK_TEST_WINDOW=short, else nothing
#   shorten SPEC...            the same appended to each CPU judge command of the
#                              specs (a measure cmd with --min-time)
# The suite prints "1..$n" at its end.
# The short window. A sanitizer build's suites are there to look for memory
# errors on the paths the release build's suites take; its timing checks ran
# in the release build, alone (tests/run.sh). So tests/run.sh gives a
# sanitizer build's suites SPAK_TEST_WINDOW=short (read by the suites only,
# never by spak) and they append this to the CPU judge's commands: every timed
# shape 10 pairs from its first batch (a session 10 rounds, the least the
# engine's sign test decides on) instead of running to --max-time, the
# precision the judge asks for being out of reach on 2 cores. Only where no
# check reads a time or a ratio's interval (trust_cpu's bounds, the
# re-time's sessions keep their windows); every check still runs.
# SPAK_SHORT_NO_WAIT=1 (a suite whose checks accept the judge's "busy"
# verdict, set before these are called) adds --busy-wait 0: no waiting for
# the machine to be quiet, which beside the pool's other suites it never is;
# each judge waited out its 45 s before the "busy" verdict such a suite
# accepts anyway (trust_cpu's pass beside cpu_harness's and a burner: 222 s
# with the waits, 133 s without; progress's beside two burners 133 s, 94 s;
# scale_local's in the pool 184 s, 51 s, 2026-12-08). Not for every suite:
# with it for all, a check that needs an evaluation done (reach's matmul-96,
# its naive point) failed in the pool.
SPAK_SHORT_WINDOW="--min-time 0 --max-reps 10"
short_args() { [ "${SPAK_TEST_WINDOW:-}" != short ] || echo "$SPAK_SHORT_WINDOW${SPAK_SHORT_NO_WAIT:+ --busy-wait 0}"; }
shorten() {
    [ "${SPAK_TEST_WINDOW:-}" = short ] || return 0
    sed -i "/--min-time/ s|\\({{harness}}[^\"]*\\)\"|\\1 $(short_args)\"|" "$@"
}
# on_quiet_machine OUT HOME CMD...: run CMD (a spak run that starts afresh
# in HOME) with its output in OUT, again (HOME emptied, at most 3 tries)
# while the judge refused an honest candidate for the machine's doing: a
# "busy:" or "interference:" verdict, which other suites of the pool cause on
# a 2-core machine. For checks that need one measured step to look at
# something else (a prompt's rows); a check of the verdicts themselves never
# uses it. Each retry is a TAP comment, so the log says why it took longer.
# machine_blamed FILE_OR_DIR...: the first final verdict in which the judge
# blamed the machine ("busy:" or "interference:"; the harness's line without
# "measuring again", or the reason the engine stored and printed), or nothing
machine_blamed() {
    grep -rhsoE '(busy|interference): .*' "$@" | grep -v 'measuring again' | head -1
}
on_quiet_machine() {
    local out=$1 home=$2 try v
    shift 2
    for try in 1 2 3; do
        rm -rf "$home"
        "$@" >"$out" 2>&1
        v=$(machine_blamed "$out" "$home/runs")
        [ -n "$v" ] || return 0
        echo "# try $try: the judge blamed the machine: ${v:0:200}"
    done
    return 0
}
n=0
# SPAK_TEST_TIMES=1: each result line followed by "# at Ns" (the suite's
# age), so the cost of the work before each check can be read off a log
at() { [ -z "${SPAK_TEST_TIMES:-}" ] || echo "# at ${SECONDS}s"; }
ok() { n=$((n + 1)); echo "ok $n - $*"; at; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; at; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; at; }
check() { if eval "$2"; then ok "$1"; else notok "$1" "condition: $2"; fi; }
check_run() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
jlast() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
sql() { python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print('\n'.join('|'.join(str(c) for c in r) for r in db.execute(sys.argv[2], sys.argv[3:])))" "$@"; }
suite_init() {
    B=$(cd "${2:-build}" && pwd)
    SPAK="$B/spak"
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    # SUITE_TMP_TAG (default "."): what comes between the suite name and the
    # random part; a suite may give its folder a name that tests something
    T=$(mktemp -d "/tmp/spak-$1${SUITE_TMP_TAG:-.}XXXXXX")
    chmod 755 "$T"
    # the suite's own measurement lock folder unless the runner gave one:
    # another spak on the machine holding the machine-wide lock would make
    # this suite's runs wait and print "waiting" events into its goldens
    if [ -z "${SPAK_LOCK_DIR:-}" ]; then
        SPAK_LOCK_DIR="$T/locks" && mkdir -p "$SPAK_LOCK_DIR" && chmod 1777 "$SPAK_LOCK_DIR" && export SPAK_LOCK_DIR
    fi
    srv=
    trap '[ -n "$srv" ] && kill $srv 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT
}
llm_reply() { printf '%s\n' "$4" >"$3"; "$SPAK" resume --home "$1" "$2" </dev/null >"$5" 2>&1; }
on_tty() {
    python3 - "$@" <<'PY'
import os, pty, sys
out_path, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.environ["TERM"] = "xterm"
    os.execv(argv[0], argv)
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
open(out_path, "wb").write(out)
PY
}
