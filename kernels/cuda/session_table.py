#!/usr/bin/env python3
"""kernels/cuda/session_table.py - reads a CUDA judge's records (its stdout)
and prints, for a session of several candidates (--candidate repeated), one
line per candidate and timed shape (its ratio to the baseline with the 95%
interval, rounds, precision reached) and one per pair (versus: the paired
ratio, its interval, the rounds each was faster in), then the decision the
engine's re-time would take (src/analyze/retime.c: the first by ratio is the
winner when against every other correct candidate its paired interval lies
above 1 and a two-sided sign test on the rounds rejects equality at 5%).

  session_table.py [--check] [--expect-fail N] FILE
  session_table.py --batch FILE_3MS FILE_30MS    the batch-size comparison
  session_table.py --self-test                   the checks on records written by hand

--check asserts what a session must hold: one session id and session_size
on every record, a Correctness record per candidate and shape, a
Performance record (verdict ok, ratio inside its interval, at least 10
rounds, the samples, versus against every other timed candidate, reciprocal)
per candidate that passed, no Analysis record; --expect-fail N: candidate N
(its rival number) must fail its checks and get no Performance record.
For one candidate (no session), --check asserts the interval rule: the
ratio's interval, its level and precision, and either the precision reached
or the cap of rounds. Exit 1 when a check fails.
"""
import json
import math
import sys

PREFIX = "__SPAK_TRACE__ "


def records(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(PREFIX):
                try:
                    r = json.loads(line[len(PREFIX):])
                except ValueError:
                    continue
                # a judge's Cost records (where the time went) are no candidate's: no session fields
                if not (isinstance(r, dict) and r.get("type") == "Cost"):
                    out.append(r)
    return out


def sign_p(k, n):
    """two-sided sign test: P(a count at least as far from n/2 as k)"""
    if n <= 0:
        return 1.0
    m = min(k, n - k)
    p = sum(math.comb(n, i) for i in range(m + 1)) / 2.0 ** n
    return min(1.0, 2 * p)


def fmt_ci(r, ci):
    if r is None or not ci or ci[0] is None:
        return "-"
    return "%.3fx [%.3f-%.3f]" % (r, ci[0], ci[1])


def geo(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def decide(perf):
    """the engine's decision over the timed shapes: (winner rival, verdict, lines)"""
    by = {}
    for p in perf:
        if p.get("passed") and p.get("ratio"):
            by.setdefault(p["rival"], []).append(p)
    if not by:
        return None, "failed", ["no candidate was correct and measured"]
    score = {k: geo([p["ratio"] for p in v]) for k, v in by.items()}
    top = max(score, key=lambda k: (score[k], -k))
    lines, tied = [], []
    for k in sorted(by):
        if k == top:
            continue
        pts, los, his, rounds, faster = [], [], [], 0, 0
        for p in by[top]:
            for v in p.get("versus", []):
                if v["rival"] == k:
                    pts.append(v["ratio"]), los.append(v["ratio_ci"][0]), his.append(v["ratio_ci"][1])
                    rounds += v["rounds"]
                    faster += v["faster_rounds"]
        lo = geo(los)
        sp = sign_p(faster, rounds)
        ok = lo is not None and lo > 1 and sp < 0.05 and 2 * faster > rounds
        lines.append("rival %d vs rival %d: %s, faster in %d of %d rounds, sign test p=%.3g -> %s" % (
            top, k, fmt_ci(geo(pts), [lo, geo(his)]), faster, rounds, sp, "faster" if ok else "not shown faster"))
        if not ok:
            tied.append(k)
    return top, "winner" if not tied else "tied or inconclusive (with %s)" % tied, lines


def table(recs, path):
    perf = [r for r in recs if r.get("type") == "Performance"]
    sess = {r.get("session") for r in recs if "session" in r}
    print("== %s: %d records, session %s" % (path, len(recs), ",".join(sorted(s for s in sess if s)) or "(none)"))
    print("%-6s %-18s %-9s %-26s %-6s %-7s %-8s %s" % ("rival", "shape", "verdict", "ratio to baseline [95%]", "rounds",
                                                       "precise", "ms/call", "calls/batch"))
    for p in perf:
        s = p.get("samples_ms") or []
        med = sorted(s)[len(s) // 2] if s else None
        print("%-6s %-18s %-9s %-26s %-6s %-7s %-8s %s" % (
            p.get("rival", "-"), p.get("shape"), p.get("verdict"), fmt_ci(p.get("ratio"), p.get("ratio_ci")),
            p.get("reps"), p.get("precision_reached"), "%.4f" % med if med else "-", p.get("calls_per_batch")))
        for v in p.get("versus", []):
            print("       versus rival %d: %s, faster in %d of %d rounds" % (
                v["rival"], fmt_ci(v["ratio"], v["ratio_ci"]), v["faster_rounds"], v["rounds"]))
    for r in recs:
        if r.get("type") == "Correctness" and not r.get("passed"):
            print("  rival %s %s: failed: %s" % (r.get("rival", "-"), r.get("shape"), str(r.get("reason"))[:160]))
    if sess - {None}:
        top, verdict, lines = decide(perf)
        for l in lines:
            print("  " + l)
        print("  decision: %s%s" % (verdict, "" if top is None else " (first: rival %d)" % top))
    return perf


def check(recs, expect_fail):
    bad = []

    def need(cond, what):
        if not cond:
            bad.append(what)

    perf = [r for r in recs if r.get("type") == "Performance"]
    corr = [r for r in recs if r.get("type") == "Correctness"]
    size = max([r.get("session_size", 1) for r in recs] or [1])
    if size == 1:  # one candidate: the interval rule
        need(perf, "a Performance record")
        for p in perf:
            ci = p.get("ratio_ci")
            need(ci and ci[0] is not None and ci[0] <= p["ratio"] <= ci[1], "%s: ratio inside ratio_ci" % p["shape"])
            need(p.get("ratio_ci_level") == 0.95 and p.get("ratio_precision") == 0.02,
                 "%s: ratio_ci_level 0.95, ratio_precision 0.02" % p["shape"])
            need(isinstance(p.get("precision_reached"), bool), "%s: precision_reached" % p["shape"])
            need(len(p.get("samples_ms", [])) == p.get("reps") == len(p.get("baseline_samples_ms", [])),
                 "%s: every round's samples" % p["shape"])
            if ci and ci[0]:
                half = max(ci[1] / p["ratio"] - 1, 1 - ci[0] / p["ratio"])
                need(p["precision_reached"] == (half <= 0.02 + 1e-9),
                     "%s: precision_reached agrees with the interval" % p["shape"])
            need("session" not in p and "versus" not in p, "%s: no session fields" % p["shape"])
        return bad
    ids = {r.get("session") for r in recs}
    need(len(ids) == 1 and None not in ids, "one session id on every record (%s)" % ids)
    need(all(r.get("session_size") == size for r in recs), "session_size on every record")
    need(not [r for r in recs if r.get("type") == "Analysis"], "no Analysis record in a session")
    shapes = sorted({r["shape"] for r in corr if r.get("shape") != "runner"})
    for sh in shapes:
        for k in range(size):
            need([r for r in corr if r["shape"] == sh and r.get("rival") == k],
                 "%s: a Correctness record of rival %d" % (sh, k))
    timed = [p for p in perf if p.get("passed")]
    need(timed, "a timed candidate")
    for p in timed:
        k, sh = p["rival"], p["shape"]
        ci = p.get("ratio_ci")
        need(p.get("verdict") == "ok", "%s rival %d: verdict ok (%s)" % (sh, k, p.get("verdict")))
        need(ci and ci[0] is not None and ci[0] <= p["ratio"] <= ci[1], "%s rival %d: ratio inside its interval" % (sh, k))
        need(p.get("reps", 0) >= 10 and len(p.get("samples_ms", [])) == p["reps"],
             "%s rival %d: at least 10 rounds, every sample (%s)" % (sh, k, p.get("reps")))
        others = {q["rival"] for q in timed if q["shape"] == sh and q["rival"] != k}
        vs = {v["rival"]: v for v in p.get("versus", [])}
        need(set(vs) == others, "%s rival %d: versus every other timed candidate (%s, want %s)" % (sh, k, sorted(vs),
                                                                                                 sorted(others)))
        for j, v in vs.items():
            need(v["rounds"] == p["reps"] and 0 <= v["faster_rounds"] <= v["rounds"] and
                 v["ratio_ci"][0] <= v["ratio"] <= v["ratio_ci"][1], "%s rival %d vs %d: rounds, faster_rounds, interval"
                 % (sh, k, j))
            back = [w for q in timed if q["shape"] == sh and q["rival"] == j for w in q.get("versus", [])
                    if w["rival"] == k]
            need(back and abs(back[0]["ratio"] * v["ratio"] - 1) < 1e-6 and
                 back[0]["faster_rounds"] + v["faster_rounds"] <= v["rounds"],
                 "%s rival %d vs %d: reciprocal of %d vs %d" % (sh, k, j, j, k))
    if expect_fail is not None:
        need([r for r in corr if r.get("rival") == expect_fail and not r.get("passed")],
             "rival %d failed its checks" % expect_fail)
        need(not [p for p in perf if p.get("rival") == expect_fail], "rival %d not timed" % expect_fail)
    return bad


def batch(p3, p30):
    """the same candidate at two batch sizes: per-call time t + c / n (c the fixed cost of a batch)"""
    rows = []
    for path in (p3, p30):
        for p in records(path):
            if p.get("type") == "Performance" and p.get("samples_ms"):
                s = sorted(p["samples_ms"])
                b = sorted(p.get("baseline_samples_ms") or [0])
                rows.append((path, p["shape"], p["calls_per_batch"], s[len(s) // 2], b[len(b) // 2],
                             p.get("tflops"), p.get("ratio")))
    print("== batch size: the same candidate with batches of ~3 ms and ~30 ms (64 calls at most)")
    print("%-40s %-18s %-6s %-10s %-10s %-8s %s" % ("file", "shape", "calls", "cand ms", "base ms", "TFLOP/s", "ratio"))
    for r in rows:
        print("%-40s %-18s %-6d %-10.4f %-10.4f %-8s %s" % (r[0][-40:], r[1], r[2], r[3], r[4],
                                                            "%.0f" % r[5] if r[5] else "-",
                                                            "%.3f" % r[6] if r[6] else "-"))
    for sh in sorted({r[1] for r in rows}):
        a = [r for r in rows if r[1] == sh]
        if len(a) == 2 and a[0][2] != a[1][2]:
            n1, t1, n2, t2 = a[0][2], a[0][3], a[1][2], a[1][3]
            c = (t1 - t2) / (1.0 / n1 - 1.0 / n2)  # ms a batch
            t = t2 - c / n2
            print("  %s: fixed cost of a batch %.3f ms (CALL->DONE beyond the calls), a call alone %.4f ms; at %d "
                  "calls the batch cost is %.1f%% of the per-call time, at %d calls %.1f%%" % (
                      sh, c, t, n1, 100 * (c / n1) / t1, n2, 100 * (c / n2) / t2))
        elif len(a) == 2:
            print("  %s: the same number of calls a batch at both targets: nothing to separate" % sh)


def self_test():
    """the checks on records written here: a sound session passes, each
    kind of broken one fails; TAP lines"""
    import copy
    import random
    rnd = random.Random(7)

    def perf(k, t, tb, others):
        r = [b / c for b, c in zip(tb, t)]
        g = geo(r)
        return {"type": "Performance", "shape": "64x64x64", "rival": k, "session": "g1", "session_size": 3,
                "passed": True, "verdict": "ok", "ratio": g, "ratio_ci": [g * 0.99, g * 1.01], "reps": len(t),
                "samples_ms": t, "baseline_samples_ms": tb,
                "versus": [{"rival": j, "ratio": geo([a / b for a, b in zip(tj, t)]), "rounds": len(t),
                            "ratio_ci": [geo([a / b for a, b in zip(tj, t)]) * 0.98,
                                         geo([a / b for a, b in zip(tj, t)]) * 1.02],
                            "faster_rounds": sum(b < a for a, b in zip(tj, t))} for j, tj in others]}

    tb = [1 + 0.01 * rnd.random() for _ in range(12)]
    t0 = [0.5 + 0.01 * rnd.random() for _ in range(12)]
    t1 = [0.8 + 0.01 * rnd.random() for _ in range(12)]
    corr = [{"type": "Correctness", "shape": "64x64x64", "rival": k, "session": "g1", "session_size": 3,
             "passed": k < 2} for k in range(3)]
    good = corr + [perf(0, t0, tb, [(1, t1)]), perf(1, t1, tb, [(0, t0)])]
    n, bad = 0, 0

    def expect(recs, holds, what, fail=2):
        nonlocal n, bad
        n += 1
        ok = (not check(recs, fail)) == holds
        bad += not ok
        print("%s %d - session checks: %s" % ("ok" if ok else "not ok", n, what))

    expect(good, True, "a sound session of 3 (one wrong) holds")
    b = copy.deepcopy(good)
    b[3]["versus"] = []
    expect(b, False, "a missing versus entry is caught")
    b = copy.deepcopy(good)
    b[4]["session"] = "g2"
    expect(b, False, "two session ids are caught")
    expect(good + [{"type": "Analysis", "session": "g1", "session_size": 3}], False, "an Analysis record is caught")
    b = copy.deepcopy(good)
    b[3]["versus"][0]["ratio"] *= 1.5
    expect(b, False, "versus that are not reciprocal are caught")
    b = copy.deepcopy(good)
    b[4]["reps"] = b[4]["reps"] = 9
    b[4]["samples_ms"] = b[4]["samples_ms"][:9]
    expect(b, False, "fewer than 10 rounds are caught")
    expect(corr + [perf(0, t0, tb, [(1, t1)]), perf(1, t1, tb, [(0, t0)]), perf(2, t1, tb, [])], False,
           "a wrong candidate that was timed is caught")
    one = perf(0, t0, tb, [])
    for k in ("session", "session_size", "rival", "versus"):
        del one[k]
    one.update({"ratio_ci_level": 0.95, "ratio_precision": 0.02, "precision_reached": True})
    expect([one], True, "one candidate with the interval rule's fields holds", None)
    b = dict(one, precision_reached=False)
    expect([b], False, "precision_reached that disagrees with the interval is caught", None)
    b = dict(one)
    del b["ratio_ci"]
    expect([b], False, "one candidate without ratio_ci is caught", None)
    print("1..%d" % n)
    return 1 if bad else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) >= 3 and argv[0] == "--batch":
        batch(argv[1], argv[2])
        return 0
    do_check, expect = False, None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--check":
            do_check = True
            argv = argv[1:]
        elif argv[0] == "--expect-fail":
            expect = int(argv[1])
            argv = argv[2:]
        else:
            print(__doc__, file=sys.stderr)
            return 2
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    recs = records(argv[0])
    table(recs, argv[0])
    if not do_check:
        return 0
    bad = check(recs, expect)
    for b in bad:
        print("  CHECK FAILED: " + b)
    print("  checks: %s" % ("all hold" if not bad else "%d failed" % len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
