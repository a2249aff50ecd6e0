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
# The suite prints "1..$n" at its end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "#   $l"; done; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { if eval "$2"; then ok "$1"; else notok "$1" "condition: $2"; fi; }
check_run() { local name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
jlast() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
sql() { python3 -c "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); print('\n'.join('|'.join(str(c) for c in r) for r in db.execute(sys.argv[2], sys.argv[3:])))" "$@"; }
suite_init() {
    B=$(cd "${2:-build}" && pwd)
    SPAK="$B/spak"
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    T=$(mktemp -d "/tmp/spak-$1.XXXXXX")
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
