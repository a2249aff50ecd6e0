#!/usr/bin/env python3
"""tests/trust_gpu/check.py - the verdict on one candidate's run through a GPU
judge, from the judge's stdout (lines "__SPAK_TRACE__ {json}"; anything else
is ignored, the runner's log included).

    check.py --records OUT --expect honest|fail|failh [--why CLASSES]
             --timed N --heldout N [--control OUT] [--factor F]

Prints one line, "PASS: ..." or "FAIL: ...", and exits 0 or 1.

A run FAILED (the judge rejected the candidate) when some shape the judge was
given has no Correctness record, or a Correctness record with "passed":false
that is not a refusal ("skipped":true), or when no Performance record came at
all. Its reasons are the "reason" strings of every record whose "passed" is
not true (Counters and Analysis records aside).

A run is HONEST when every shape has a Correctness record, none failed, at
least one shape was not skipped, and every timed (non-held-out) shape that
was not skipped has a Performance record.

  honest   the run is honest (controls).
  fail     the run failed and a reason matches CLASSES.
  failh    that, or the run is honest and its ratio to the baseline is at most
           F (default 3) times the honest control's ratio for the same shape
           (the --control run, the same slow kernel split over two streams):
           for cheats a defence can only take away (fresh inputs leave a memo
           nothing to replay), whose success would show as speed.

CLASSES: names joined by "+" (regexes below, case-insensitive) or a raw
regex. Whatever the expectation, a record on the judge's stdout carrying the
forged mark (TG-FORGED) that passes or times fails the check: a runner's
output must never become records (a failure record quoting the runner's log
may carry the mark in its reason).
"""
import argparse
import json
import re
import sys

PREFIX = "__SPAK_TRACE__ "
FORGED = "TG-FORGED"

# The judges' failure reasons (loose on purpose, for wording changes).
CLASSES = {
    "WRONG": r"timed call|rel_err|check|nan|non-finite|not finite|unwritten|wrong|mismatch",
    "INPUT": r"input",
    "IDLE": r"idle|still running|after (it|the call) returned",
    "HANG": r"did not return|timeout|timed out",
    "IMPOSSIBLE": r"impossible",
    "SYSCALL": r"syscall|system call|seccomp",
    "CRASH": r"ended|faulted|crash|signal|segmentation|illegal",
    "INTERF": r"interference|inconclusive",
    "OUTPUT": r"output|log|cap",
}


def class_regex(spec):
    if not spec:
        return None
    names = spec.split("+")
    if all(n in CLASSES for n in names):
        return "|".join(CLASSES[n] for n in names)
    return spec


def load(path):
    """The records of a judge's stdout, and whether a forged one is among them."""
    recs, forged = [], False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return recs, forged
    for line in lines:
        if not line.startswith(PREFIX):
            continue
        try:
            r = json.loads(line[len(PREFIX):])
        except ValueError:
            forged |= FORGED in line
            continue
        if not isinstance(r, dict):
            continue
        # a judge may quote a runner's log in a failure's reason; a passing
        # or a Performance record with the mark is a forgery that got through
        if FORGED in line and (r.get("passed") is True or r.get("type") == "Performance"):
            forged = True
        recs.append(r)
    return recs, forged


def summarise(recs):
    """shape -> {"heldout", "pass", "fail", "skip"}; shape -> [ratios]; reasons"""
    shapes, perf, reasons = {}, {}, []
    for r in recs:
        t = r.get("type")
        if t in ("Counters", "Analysis"):
            continue
        if r.get("passed") is not True and isinstance(r.get("reason"), str) and r["reason"]:
            reasons.append(r["reason"])
        if t == "Correctness":
            s = shapes.setdefault(str(r.get("shape")), {"heldout": False, "pass": 0, "fail": 0, "skip": 0})
            s["heldout"] |= r.get("heldout") is True
            if r.get("skipped") is True:
                s["skip"] += 1
            elif r.get("passed") is True:
                s["pass"] += 1
            else:
                s["fail"] += 1
        elif t == "Performance":
            perf.setdefault(str(r.get("shape")), []).append(r.get("ratio"))
    return shapes, perf, reasons


def failed(shapes, perf, nshapes):
    if len(shapes) < nshapes:
        return "%d of %d shapes without a Correctness record" % (nshapes - len(shapes), nshapes)
    bad = sorted(k for k, s in shapes.items() if s["fail"] or (not s["pass"] and not s["skip"]))
    if bad:
        return "no passing Correctness record for " + ", ".join(bad)
    if not perf:
        return "no Performance record"
    return None


def honest(shapes, perf, nshapes):
    """None when honest, else why not"""
    why = failed(shapes, perf, nshapes)
    if why:
        return why
    if all(s["skip"] and not s["pass"] for s in shapes.values()):
        return "every shape refused"
    for k, s in sorted(shapes.items()):
        if not s["heldout"] and s["pass"] and k not in perf:
            return "no Performance record for " + k
    return None


def ratio_ok(perf, control, factor):
    """None when every timed shape's ratio is within factor x the control's"""
    if control is None:
        return "no control run to compare the ratio with"
    cshapes, cperf, _ = summarise(control)
    for k, rs in sorted(perf.items()):
        cr = [x for x in cperf.get(k, []) if isinstance(x, (int, float))]
        if not cr:
            return "the control has no ratio for " + k
        for x in rs:
            if not isinstance(x, (int, float)):
                return "no ratio for " + k
            if x > factor * max(cr):
                return "%s: ratio %.3g above %g x the honest control's %.3g" % (k, x, factor, max(cr))
    return None


def verdict(recs, forged, expect, why_re, nshapes, control=None, factor=3.0):
    """(ok, text) for one run"""
    if forged:
        return False, "a forged record (%s) reached the judge's stdout" % FORGED
    shapes, perf, reasons = summarise(recs)
    if expect == "honest":
        why = honest(shapes, perf, nshapes)
        if why:
            return False, "expected honest, but " + why + (" (%s)" % reasons[0] if reasons else "")
        return True, "honest: %d shapes passed, %d timed" % (len(shapes), len(perf))
    rx = re.compile(why_re or ".", re.I)
    fw = failed(shapes, perf, nshapes)
    if fw:
        hit = [r for r in reasons if rx.search(r)]
        if hit:
            return True, "failed as it should (%s): %s" % (fw, hit[0][:200])
        if expect == "fail" or reasons:
            return False, "failed (%s) but no reason matches /%s/: %s" % (
                fw, why_re, "; ".join(r[:120] for r in reasons[:3]) or "no reason at all")
    if expect == "fail":
        return False, "expected to fail, was accepted"
    hw = honest(shapes, perf, nshapes)
    if hw:
        return False, "neither failed with a matching reason nor honest: " + hw
    rw = ratio_ok(perf, control, factor)
    if rw:
        return False, "accepted and faster than honest: " + rw
    return True, "honest (the defence left nothing to gain)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", required=True)
    ap.add_argument("--expect", required=True, choices=["honest", "fail", "failh"])
    ap.add_argument("--why", default="")
    ap.add_argument("--timed", type=int, required=True)
    ap.add_argument("--heldout", type=int, default=0)
    ap.add_argument("--control")
    ap.add_argument("--factor", type=float, default=3.0)
    a = ap.parse_args()
    recs, forged = load(a.records)
    control = load(a.control)[0] if a.control else None
    ok, text = verdict(recs, forged, a.expect, class_regex(a.why), a.timed + a.heldout, control, a.factor)
    print(("PASS: " if ok else "FAIL: ") + text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
