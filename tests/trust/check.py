#!/usr/bin/env python3
"""tests/trust/check.py - what tests/suites/trust_cpu.sh asserts about one
adversarial candidate's run, each subcommand exiting 0 when the property
holds and printing one line that says what it saw:

  outcome SHOW.json fail|fail-or-honest|done REGEX MAXRATIO
      SHOW.json is `spak show --json RUN`. fail: the evaluation FAILED with
      a reason matching REGEX (case-insensitive): the judge's own words, the
      engine's "wrong at SHAPE: " before them left out (every failure has
      it, so /wrong/ would match a failure for any reason, the machine's
      load included). fail-or-honest: that, or
      it is done and correct with a ratio to the baseline <= MAXRATIO (a
      cheat the defences turned into honest work). done: done and correct.
  forged HOME            no stored trace record carrying the forged mark is
                         valid (unless labelled untrusted); no metric forged
  secret HOME SECRET [FILE...]  SECRET is nowhere in the store (except the
                         row the suite planted), the home's files, or FILEs
  ceilings HOME          no forged peak in the home's files or the store
  leftovers HOME         no trust-fill-*/trust-linger-* file in the home or
                         the usual temporary places, and the home under 64 MiB
  survivors TAG          no process named trust-linger, and none whose argv
                         holds TAG, is still alive; kills (by pid) any found
  running TAG            some process other than this one has TAG in its argv
  serve                  one subcommand a line on standard input (its words
                         separated by \x1f), answered with its exit status on
                         a line, its output, and a line holding \x1e: the
                         suites start one for all their checks
                         (tests/trust/checkd.sh) instead of one Python a check
"""
import contextlib, io, json, os, re, signal, sqlite3, sys

FORGED_MARK = "forged-by-candidate"
FORGED_GFLOPS = 123456.75
FORGED_PEAK = "987654321"
PLANTED_SCOPE = "trust-suite"


def db_rows(home):
    path = os.path.join(home, "spak.db")
    if not os.path.exists(path):
        return
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    for (table,) in db.execute("select name from sqlite_master where type='table'"):
        cur = db.execute('select * from "%s"' % table)
        cols = [c[0] for c in cur.description]
        for row in cur:
            yield table, dict(zip(cols, row))


def home_files(home, skip_db=True):
    for d, _, files in os.walk(home):
        for f in files:
            if skip_db and f.startswith("spak.db"):
                continue
            yield os.path.join(d, f)


def file_has(path, needle):
    try:
        with open(path, "rb") as fh:
            return needle.encode() in fh.read()
    except OSError:
        return False


def outcome(show, kind, regex, maxratio):
    d = json.load(open(show))
    evs = d.get("evaluations") or []
    text = " | ".join(str(x) for x in [d.get("status"), d.get("stop_reason")] if x)
    if not evs:
        return (kind != "done" and re.search(regex, text, re.I) is not None), "no evaluation; run: " + text
    e = evs[-1]
    why = " | ".join(str(e.get(k)) for k in ("error", "exit") if e.get(k))
    # the reason the judge gave, without the engine's "wrong at SHAPE: " (or
    # "wrong: ") that opens every failure (src/analyze/evaluate.c)
    judge_why = re.sub(r"^wrong(?: at \S+)?: ", "", why)
    failed = e.get("status") == "failed" or e.get("correct") is False
    ratio = e.get("ratio")
    seen = "status=%s correct=%s ratio=%s why=%s" % (e.get("status"), e.get("correct"), ratio, why[:300])
    if kind == "done":
        return (e.get("status") == "done" and e.get("correct") is True and (ratio or 0) > 0), seen
    if failed:
        return re.search(regex, judge_why, re.I) is not None, "FAILED, reason must match /%s/: %s" % (regex, seen)
    if kind == "fail-or-honest":
        ok = e.get("status") == "done" and e.get("correct") is True and ratio is not None and ratio <= float(maxratio)
        return ok, "accepted; honest only if ratio <= %s: %s" % (maxratio, seen)
    return False, "accepted (a cheat must fail): " + seen


def forged(home):
    bad = []
    for table, r in db_rows(home):
        if table == "traces":
            blob = "%s %s %s" % (r.get("record_json"), r.get("raw"), r.get("warnings"))
            if FORGED_MARK in blob and r.get("valid") and not re.search(r'untrusted|"trusted":\s*false', blob):
                bad.append("trace eval %s seq %s: %s" % (r.get("eval_id"), r.get("seq"), (r.get("record_json") or "")[:120]))
        if table == "evaluations" and r.get("metric") == FORGED_GFLOPS:
            bad.append("evaluation %s has the forged metric" % r.get("eval_id"))
    return not bad, "; ".join(bad[:3]) or "no forged record stored as trusted"


def secret(home, needle, extra):
    where = []
    for table, r in db_rows(home):
        if table == "kv" and r.get("scope") == PLANTED_SCOPE:
            continue
        for k, v in r.items():
            if needle in str(v if not isinstance(v, bytes) else v.decode("latin-1")):
                where.append("store %s.%s" % (table, k))
    where += [p for p in list(home_files(home)) + extra if file_has(p, needle)]
    return not where, ("secret found in: " + ", ".join(sorted(set(where))[:8])) if where else "secret nowhere"


def ceilings(home):
    where = [p for p in home_files(home) if file_has(p, FORGED_PEAK)]
    for table, r in db_rows(home):
        if any(FORGED_PEAK in str(v) for v in r.values()):
            where.append("store " + table)
    return not where, ("forged peak in: " + ", ".join(sorted(set(where))[:6])) if where else "no forged peak"


def leftovers(home):
    found, size = [], 0
    for p in home_files(home, skip_db=False):
        try:
            size += os.lstat(p).st_size
        except OSError:
            pass
    for top, depth in ((home, 12), ("/tmp", 5), ("/var/tmp", 3), ("/dev/shm", 3)):
        base = top.rstrip("/").count("/")
        for d, dirs, files in os.walk(top):
            if d.count("/") - base >= depth:
                dirs[:] = []
            found += [os.path.join(d, f) for f in files if f.startswith(("trust-fill-", "trust-linger-"))]
    msg = "home holds %.1f MiB" % (size / 2**20)
    if found:
        msg += "; left behind: " + ", ".join(found[:4]) + (" (+%d)" % (len(found) - 4) if len(found) > 4 else "")
    return not found and size < 64 * 2**20, msg


BUILD = os.path.realpath(os.environ["SPAK_TRUST_BUILD"]) if os.environ.get("SPAK_TRUST_BUILD") else ""


def processes(tag):
    """pid -> argv (or name) of every process named trust-linger or holding tag"""
    me, hits = os.getpid(), {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == me:
            continue
        try:
            comms = [open("/proc/%s/comm" % pid).read().strip()]
            for t in os.listdir("/proc/%s/task" % pid):
                comms.append(open("/proc/%s/task/%s/comm" % (pid, t)).read().strip())
            argv = open("/proc/%s/cmdline" % pid, "rb").read().decode("latin-1").replace("\0", " ")
        except OSError:
            continue
        # a lingering thread counts when its process is this suite's (a
        # runner of the build under test, or holding tag): a suite of another
        # build running beside this one has lingerers of its own
        own = tag in argv or not BUILD or argv.startswith(BUILD + "/")
        if own and ("trust-linger" in comms or tag in argv):
            hits[int(pid)] = argv[:100] or comms[0]
    return hits


def survivors(tag):
    hits = processes(tag)
    for pid in hits:  # started by this suite's candidates: end them, by pid
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return not hits, ("still alive (killed now): " + "; ".join("%d %s" % kv for kv in list(hits.items())[:4])) if hits else "nothing left running"


def main(a):
    cmds = {
        "outcome": lambda: outcome(a[1], a[2], a[3], a[4]),
        "forged": lambda: forged(a[1]),
        "secret": lambda: secret(a[1], a[2], a[3:]),
        "ceilings": lambda: ceilings(a[1]),
        "leftovers": lambda: leftovers(a[1]),
        "survivors": lambda: survivors(a[1]),
        "running": lambda: (bool(processes(a[1])), "running" if processes(a[1]) else "not running"),
    }
    if not a or a[0] not in cmds:
        print(__doc__)
        return 2
    ok, msg = cmds[a[0]]()
    # what candidates wrote may hold terminal escapes: shown, never sent
    print(re.sub(r"[\x00-\x1f\x7f]", lambda m: "\\x%02x" % ord(m.group()), msg))
    return 0 if ok else 1


def serve():
    for line in sys.stdin:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                rc = main(line.rstrip("\n").split("\x1f"))
            except Exception as e:  # a check that cannot run fails, saying why
                print("check.py: %s: %s" % (type(e).__name__, e))
                rc = 2
        out = buf.getvalue()
        if out and not out.endswith("\n"):
            out += "\n"
        sys.stdout.write("%d\n%s\x1e\n" % (rc, out))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        sys.exit(main(sys.argv[1:]))
