#!/usr/bin/env python3
"""kernels/cuda/declared_table.py - the table of kernels/cuda/declared-check.sh:
each run of spak-judge-cuda (OUT/NAME.log: its stdout and stderr) against
what it must give (the EXPECT list below), one line a run, and the exit
status 1 when any run is not what it must be.

  declared_table.py OUT          the table of the runs in OUT
  declared_table.py --self-test  the checks on records written by hand (no device)

An expectation is "pass" (every record passed; every timed shape has a
Performance record with verdict ok; trusted true), "untrusted" (the same
with trusted false on every record), "fail:REGEX" (some record failed and
a failing record's reason matches REGEX), or "any" (reported, not judged).
"""
import json
import os
import re
import sys

PREFIX = "__SPAK_TRACE__ "

EXPECT = [
    ("softmax-naive", "pass"), ("softmax-better", "pass"), ("softmax-ref", "pass"),
    ("layernorm-naive", "pass"), ("layernorm-better", "pass"), ("layernorm-ref", "pass"),
    ("sum-naive", "pass"), ("sum-better", "pass"), ("sum-ref", "pass"),
    ("softmax-better-session", "pass"),
    ("softmax-better-untrusted", "untrusted"),
    ("d_stale", "fail:NaN/Inf where the reference"),
    ("d_write_input", "fail:read-only argument 'x'|IllegalAddress.*read-only argument: x"),
    ("d_third", "fail:NaN/Inf where the reference"),
    ("d_wrong", "fail:relative error .* above its tolerance"),
    ("d_hang", "fail:did not return|timed out|time limit|killed"),
    ("d_signature", "fail:."),
    ("d_late_rows", "any"),
    ("d_oob", "any"),
]


def records(text):
    out = []
    for line in text.splitlines():
        if line.startswith(PREFIX):
            try:
                r = json.loads(line[len(PREFIX):])
            except ValueError:
                continue
            if isinstance(r, dict) and r.get("type") != "Cost":  # where the time went: no verdict in it
                out.append(r)
    return out


def judge(expect, recs):
    """(ok, outcome, detail) of one run's records against its expectation"""
    if not recs:
        return expect == "any", "no records", ""
    failed = [r for r in recs if r.get("passed") is False]
    perf = [r for r in recs if r.get("type") == "Performance"]
    t = next((r.get("time_ms") for r in perf if isinstance(r.get("time_ms"), (int, float))), None)
    ratio = next((r.get("ratio") for r in perf if isinstance(r.get("ratio"), (int, float))), None)
    detail = "time %s ms, ratio %s" % ("%.4g" % t if t is not None else "-", "%.3g" % ratio if ratio else "-")
    if failed:
        reason = failed[0].get("reason", "")
        outcome = "fail: " + reason[:110]
    else:
        outcome = "pass (%d records)" % len(recs)
    if expect == "any":
        return True, outcome, detail
    if expect.startswith("fail:"):
        rx = re.compile(expect[5:])
        return any(rx.search(r.get("reason", "")) for r in failed), outcome, detail
    trusted = expect == "pass"
    if failed or any(r.get("trusted") is not trusted for r in recs):
        return False, outcome, detail
    timed = {r["shape"] for r in recs if r.get("type") == "Correctness" and not r.get("heldout")}
    ok = all(any(p.get("shape") == s and p.get("verdict") == "ok" for p in perf) for s in timed)
    return ok and bool(timed), outcome, detail


def table(out):
    bad = 0
    print("%-26s %-10s %-5s %-60s %s" % ("run", "expect", "ok", "outcome", "timing (first timed shape)"))
    for name, expect in EXPECT:
        path = os.path.join(out, name + ".log")
        if not os.path.exists(path):
            print("%-26s %-10s %-5s %s" % (name, expect[:10], "MISS", "(no log)"))
            bad += 1
            continue
        with open(path, errors="replace") as f:
            ok, outcome, detail = judge(expect, records(f.read()))
        bad += not ok
        print("%-26s %-10s %-5s %-60s %s" % (name, expect[:10], "yes" if ok else "NO", outcome[:60], detail))
    print("%d of %d runs as expected" % (len(EXPECT) - bad, len(EXPECT)))
    return 1 if bad else 0


def self_test():
    def rec(**k):
        return PREFIX + json.dumps(k)
    good = "\n".join([rec(type="Correctness", shape="a", heldout=False, passed=True, trusted=True, reason="ok"),
                      rec(type="Performance", shape="a", heldout=False, passed=True, trusted=True, verdict="ok",
                          time_ms=0.1, ratio=2.0),
                      rec(type="Correctness", shape="h", heldout=True, passed=True, trusted=True, reason="ok")])
    checks = [
        ("a passing run passes 'pass'", judge("pass", records(good))[0]),
        ("a passing run is not 'untrusted'", not judge("untrusted", records(good))[0]),
        ("a timed shape without Performance is not a pass",
         not judge("pass", records(good.replace('"Performance"', '"Analysis"')))[0]),
        ("a failing record fails 'pass'",
         not judge("pass", records(good + "\n" + rec(type="Correctness", shape="b", passed=False, trusted=True,
                                                     reason="x")))[0]),
        ("fail:REGEX matches the reason",
         judge("fail:relative error", records(rec(type="Correctness", shape="a", passed=False,
                                                  reason="output 'y': relative error 0.5 above")))[0]),
        ("fail:REGEX needs a failure", not judge("fail:.", records(good))[0]),
        ("fail:REGEX with another reason is not it",
         not judge("fail:hash", records(rec(type="Correctness", shape="a", passed=False, reason="NaN/Inf")))[0]),
        ("no records is not a pass", not judge("pass", [])[0]),
        ("a judge's Cost records (no verdict, no 'trusted') leave a pass a pass",
         judge("pass", records(good + "\n" + rec(type="Cost", scope="shape", wall_s=1.0, phases={}) + "\n" +
                               rec(type="Cost", scope="run", wall_s=2.0, phases={})))[0]),
    ]
    bad = 0
    for name, ok in checks:
        print("%s - %s" % ("ok" if ok else "NOT OK", name))
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(table(sys.argv[1]))
