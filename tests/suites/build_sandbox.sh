#!/usr/bin/env bash
# cpus: all (tests/run.sh: not tried pinned to one core; 5 s, alone and unpinned)
# tests/suites/build_sandbox.sh BUILD_DIR - the build in the sandbox and
# spak's home closed to candidates (TAP; docs/sandbox.md, "Builds"):
#  - a source that #includes or .incbin's a root-only (0600) file does not
#    build, and the file's bytes are nowhere: not in the build log, the
#    store's bytes, the cache, spak's output (a readable copy of the same
#    file in the source folder does reach the .so: the search would see a
#    leak); a world-readable copy outside the source folder is denied too
#    (Landlock's read rules), and the log says what a build may read;
#  - spak killed with SIGKILL mid-build leaves no compiler process behind;
#  - the cache key: a header included by absolute path from a system
#    include folder (/usr/local/include),
#    the end of a 20-deep include chain and a file pulled by .incbin each
#    change the key when they change; nothing changed, the same .so is used;
#  - a candidate run by `spak run` cannot open spak.db, list the home, the
#    runs, the run's folder or the build cache, nor read what the previous
#    evaluation left; the home is 0711 and the store 0600, also when an
#    existing home had other modes.
# The file-mode defences are those of the sandbox uid: run as root.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../tap.sh"
suite_init build_sandbox "$@"

if [ "$(id -u)" != 0 ]; then
    skip "build sandbox suite" "needs root (the sandbox uid differs from spak's only then)"
    echo "1..$n"
    exit 0
fi

# mkspec DIR SOURCE [CMD]: a spec in DIR building SOURCE (relative to DIR)
# for v in [1, 2]; the measure command CMD (default: true).
mkspec() {
    local cmd='true {{candidate}}'
    [ $# -ge 3 ] && cmd=$3
    mkdir -p "$1"
    cat >"$1/s.spak" <<SPEC
system BuildSandbox {
    problem {
        target: "cpu"
        source: "$2"
    }
    tuning_space {
        v: [1, 2]
    }
    engineering_loop L {
        measure {
            cmd: "$cmd"
            metric: "score"
            objective: maximize
        }
        strategy: "grid"
    }
}
SPEC
    echo "$1/s.spak"
}
# buildfails HOME: how many evaluations of HOME's store failed at their build
buildfails() { sql "$1/spak.db" "select count(*) from evaluations where error like 'build failed%'"; }
# leaks WORD FILES...: the files (searched as bytes, recursively) holding WORD
leaks() { local w=$1; shift; grep -rla --binary-files=text -e "$w" "$@" 2>/dev/null; }

# 1. a root-only secret, #included and .incbin'd
WORD="spak-secret-$RANDOM$RANDOM-do-not-leak"
SEC="$T/secret.txt"
printf 'const char leaked[] = "%s";\n' "$WORD" >"$SEC"
chmod 600 "$SEC"
mkdir -p "$T/s1/k"
printf '#include "%s"\nint spak_value(void) { return V + (int)sizeof leaked; }\n' "$SEC" >"$T/s1/k/inc.c"
S=$(mkspec "$T/s1" k/inc.c)
"$SPAK" run --home "$T/s1/h" --json "$S" >"$T/s1/out" 2>"$T/s1/err"
log=$(sql "$T/s1/h/spak.db" "select build_log from evaluations limit 1")
check "#include of a root-only file: the build fails, the compiler is denied it" \
    "[ \"\$(buildfails $T/s1/h)\" = 2 ] && echo \"\$log\" | grep -q 'Permission denied'"
check "#include of a root-only file: its bytes are nowhere (log, store, cache, output)" \
    "[ -z \"\$(leaks $WORD $T/s1/h $T/s1/out $T/s1/err)\" ]"

mkdir -p "$T/s2/k"
printf '__asm__(".section .rodata\\n.incbin \\"%s\\"\\n.previous\\n");\nint spak_value(void) { return V; }\n' "$SEC" >"$T/s2/k/bin.c"
S=$(mkspec "$T/s2" k/bin.c)
"$SPAK" run --home "$T/s2/h" --json "$S" >"$T/s2/out" 2>"$T/s2/err"
check ".incbin of a root-only file: the build fails" "[ \"\$(buildfails $T/s2/h)\" = 2 ]"
check ".incbin of a root-only file: its bytes are nowhere (log, store, cache, output)" \
    "[ -z \"\$(leaks $WORD $T/s2/h $T/s2/out $T/s2/err)\" ]"

# a world-readable copy outside the source folder (no file mode keeps it):
# Landlock's read rules deny it to the compiler, #include'd or .incbin'd
mkdir -p "$T/open"
chmod 755 "$T/open"
cp "$SEC" "$T/open/open.txt"
chmod 644 "$T/open/open.txt"
sed "s|$SEC|$T/open/open.txt|" "$T/s2/k/bin.c" >"$T/s2/k/open.c"
sed "s|$SEC|$T/open/open.txt|" "$T/s1/k/inc.c" >"$T/s2/k/openinc.c"
for f in open openinc; do
    S=$(mkspec "$T/s2$f" ../s2/k/$f.c)
    "$SPAK" run --home "$T/s2$f/h" --json "$S" >"$T/s2$f/out" 2>"$T/s2$f/err"
    log=$(sql "$T/s2$f/h/spak.db" "select build_log from evaluations limit 1")
    check "a world-readable file outside the source folder ($f): the build fails, denied, and the log says what a build may read" \
        "[ \"\$(buildfails $T/s2$f/h)\" = 2 ] && echo \"\$log\" | grep -Eq 'Permission denied|file not found' && echo \"\$log\" | grep -q 'a build reads only its source'"
    check "a world-readable file outside the source folder ($f): its bytes are nowhere" \
        "[ -z \"\$(leaks $WORD $T/s2$f/h $T/s2$f/out $T/s2$f/err)\" ]"
done
# the control: the same file inside the source folder is pulled in, and found
mkdir -p "$T/s2o/k"
cp "$T/open/open.txt" "$T/s2o/k/open.txt"
sed "s|$SEC|$T/s2o/k/open.txt|" "$T/s2/k/bin.c" >"$T/s2o/k/open.c"
S=$(mkspec "$T/s2o" k/open.c)
"$SPAK" build --home "$T/s2o/h" "$S" >"$T/s2o/out" 2>&1
check "control: a readable file in the source folder .incbin'd builds and its bytes are found in the cached .so" \
    "grep -q '2 built, 0 failed' $T/s2o/out && [ -n \"\$(leaks $WORD $T/s2o/h/cache/build)\" ]"

# 2. kill -9 of spak mid-build: the compiler's whole tree ends with it
mkdir -p "$T/slow/k"
python3 - "$T/slow/k/slow.c" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(1500):
        f.write(f"double f{i}(double *a, int n) {{ double s = 0; for (int j = 0; j < n; j++) s += a[j] * {i}.5 / (a[j] + {i}); return s; }}\n")
    f.write("int spak_value(void) { return V; }\n")
PY
S=$(mkspec "$T/slow" k/slow.c)
"$SPAK" build --home "$T/slow/h" "$S" >/dev/null 2>&1 &
spid=$!
seen=
for _ in $(seq 1 120); do
    # cc1 of the real compile: its command line names the source and -o (not
    # the cc1 -E of the reach check's preprocessing, which comes first)
    if pgrep -af "cc1 .*$T/slow/k/slow.c" | grep -v -- ' -E ' | grep -q .; then seen=1; break; fi
    sleep 0.25
done
sleep 0.5
kill -9 $spid 2>/dev/null
wait $spid 2>/dev/null
# the folder it left, taken at once: any spak build on this machine (another
# suite, another user's) sweeps the folders of dead spak processes too, and
# did so in the second below once (the check then found no folder to judge)
stale=$(ls -d /tmp/spak-build.$spid.* 2>/dev/null)
sleep 1
left=$(pgrep -f "$T/slow/k/slow.c" | tr '\n' ' ')
check "kill -9 of spak mid-build: cc1 was running, and no process of the build remains a second later" \
    "[ -n '$seen' ] && [ -z '$left' ]"
for p in $left; do kill -9 "$p" 2>/dev/null; done  # only if the check failed: ours, by pid
printf 'int spak_value(void) { return V; }\n' >"$T/slow/k/slow.c"
"$SPAK" build --home "$T/slow/h" "$S" >/dev/null 2>&1
check "the build folder the killed spak left is removed by the next build" "[ -n '$stale' ] && [ ! -e '$stale' ]"

# 3. the cache key
keys() { ls "$1/cache/build" 2>/dev/null | grep '\.so$' | sort | tr '\n' ' '; }
inode() { ls -i "$1/cache/build" | grep '\.so$' | sort -k2 | awk '{print $1}' | tr '\n' ' '; }
# the header by absolute path from another folder: one a build may read,
# a system include folder (a folder outside those is denied, above)
ELSE=/usr/local/include/spak-build-sandbox.$$
mkdir -p "$T/ck/k" "$ELSE"
printf '#define SCALE 2\n' >"$ELSE/abs.h"
for i in $(seq 0 19); do printf '#include "d%d.h"\n' $((i + 1)) >"$ELSE/d$i.h"; done
printf '#define DEEP 5\n' >"$ELSE/d20.h"
printf 'abc' >"$T/ck/k/data.bin"
cat >"$T/ck/k/v.c" <<C
#include "$ELSE/abs.h"
#include "$ELSE/d0.h"
__asm__(".section .rodata\n.incbin \"$T/ck/k/data.bin\"\n.previous\n");
int spak_value(void) { return SCALE * DEEP * V; }
C
S=$(mkspec "$T/ck" k/v.c)
H="$T/ck/h"
"$SPAK" build --home "$H" "$S" >"$T/ck/b1" 2>&1; k1=$(keys "$H"); i1=$(inode "$H")
"$SPAK" build --home "$H" "$S" >"$T/ck/b2" 2>&1; k2=$(keys "$H"); i2=$(inode "$H")
check "nothing changed: the same keys, the cached .so files used as they are" \
    "grep -q '2 built, 0 failed' $T/ck/b1 && [ \$(echo $k1 | wc -w) -eq 2 ] && [ '$k2' = '$k1' ] && [ '$i2' = '$i1' ]"
printf '#define SCALE 3\n' >"$ELSE/abs.h"
"$SPAK" build --home "$H" "$S" >/dev/null 2>&1; k3=$(keys "$H")
# each change adds two keys to those before it
check "a header included by absolute path changed: rebuilt under new keys" "[ \$(echo $k3 | wc -w) -eq \$((\$(echo $k2 | wc -w) + 2)) ]"
printf '#define DEEP 6\n' >"$ELSE/d20.h"
"$SPAK" build --home "$H" "$S" >/dev/null 2>&1; k4=$(keys "$H")
check "the end of a 20-deep include chain changed: rebuilt under new keys" "[ \$(echo $k4 | wc -w) -eq \$((\$(echo $k3 | wc -w) + 2)) ]"
printf 'abd' >"$T/ck/k/data.bin"
"$SPAK" build --home "$H" "$S" >/dev/null 2>&1; k5=$(keys "$H")
check "a file pulled by .incbin changed: rebuilt under new keys" "[ \$(echo $k5 | wc -w) -eq \$((\$(echo $k4 | wc -w) + 2)) ]"
rm -rf "$ELSE"

# 4. the home closed to candidates: a candidate that probes it
mkdir -p "$T/pr/k"
cat >"$T/pr/k/probe.c" <<'C'
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
/* What a candidate can reach of spak's home from its working directory,
 * H/runs/RUN/eN: one word per attempt, "open" or the errno's name. */
static void try_open(const char *what, const char *path, int dir)
{
    int ok;
    if (dir) {
        DIR *d = opendir(path);
        ok = d != NULL;
        if (d) closedir(d);
    } else {
        int fd = open(path, O_RDONLY);
        ok = fd >= 0;
        if (fd >= 0) close(fd);
    }
    printf("%s=%s ", what, ok ? "open" : errno == EACCES ? "EACCES" : errno == ENOENT ? "ENOENT" : "other");
}
int spak_probe(int v)
{
    char cwd[4096], p[4300];
    if (!getcwd(cwd, sizeof cwd)) return 1;
    char *e = strrchr(cwd, '/');        /* /eN */
    *e = '\0';
    char *r = strrchr(cwd, '/');        /* /RUN */
    *r = '\0';
    char *u = strrchr(cwd, '/');        /* /runs */
    *u = '\0';
    const char *home = cwd;
    snprintf(p, sizeof p, "%s/spak.db", home); try_open("db", p, 0);
    try_open("home", home, 1);
    snprintf(p, sizeof p, "%s/runs", home); try_open("runs", p, 1);
    snprintf(p, sizeof p, "%s/runs/%s", home, r + 1); try_open("run", p, 1);
    snprintf(p, sizeof p, "%s/cache/build", home); try_open("cache", p, 1);
    snprintf(p, sizeof p, "%s/runs/%s/e%d/left.txt", home, r + 1, v - 1); try_open("prev", p, 0);
    snprintf(p, sizeof p, "%s/runs/rold/e1/left.txt", home); try_open("old", p, 0);
    try_open("own", ".", 1);
    FILE *f = fopen("left.txt", "w");
    if (f) { fputs("what this evaluation left\n", f); fclose(f); }
    printf("\n");
    return 0;
}
C
cat >"$T/pr/run.py" <<'PY'
import ctypes, sys
ctypes.CDLL(sys.argv[1]).spak_probe(int(sys.argv[2]))
PY
S=$(mkspec "$T/pr" k/probe.c "python3 {{root}}/run.py {{candidate}} {{v}}")
H="$T/pr/h"
mkdir -p "$H"
chmod 755 "$H"
"$SPAK" run --home "$H" --json "$S" >/dev/null 2>&1  # creates the store
chmod 755 "$H"
chmod 644 "$H/spak.db"
# what a spak before this layout left: an open evaluation directory of the sandbox uid
mkdir -p "$H/runs/rold/e1"
echo left >"$H/runs/rold/e1/left.txt"
chmod 755 "$H/runs/rold"
chown -R 65534:65534 "$H/runs/rold/e1"
"$SPAK" run --home "$H" --json "$S" >"$T/pr/out" 2>"$T/pr/err"
R=$(jlast 'd["run_id"]' <"$T/pr/out")
p1=$(sql "$H/spak.db" "select stdout_tail from evaluations where run_id=? and eval_id=1" "$R")
p2=$(sql "$H/spak.db" "select stdout_tail from evaluations where run_id=? and eval_id=2" "$R")
echo "# probe e1: $p1"
echo "# probe e2: $p2"
check "the probe ran in the sandbox and reached its own directory" "echo '$p1' | grep -q 'own=open' && echo '$p2' | grep -q 'own=open'"
check "a candidate cannot open spak.db" "echo '$p1' | grep -q 'db=EACCES'"
check "a candidate cannot list the home, runs/, its run's folder or the build cache" \
    "echo '$p1' | grep -q 'home=EACCES runs=EACCES run=EACCES cache=EACCES'"
check "a candidate cannot read what the previous evaluation left" "echo '$p2' | grep -q 'prev=EACCES'"
check "nor what an evaluation of an earlier spak left open" "echo '$p1' | grep -q 'old=EACCES'"
check "a new home: 0711, spak.db and its -wal/-shm 0600, cache/build 0700" \
    "[ \"\$(stat -c %a $T/s1/h)\" = 711 ] && [ \"\$(stat -c %a $T/s1/h/spak.db* | sort -u)\" = 600 ] && [ \"\$(stat -c %a $T/s1/h/cache/build)\" = 700 ]"
check "an existing home with open modes is closed again: home 0711, spak.db 0600" \
    "[ \"\$(stat -c %a $H)\" = 711 ] && [ \"\$(stat -c %a $H/spak.db)\" = 600 ] && [ \"\$(stat -c %a $H/cache/build)\" = 700 ]"
echo "1..$n"
