#!/usr/bin/env python3
"""cost-table.py - where a GPU evaluation's time went (issue 18, "a cheaper
evaluation"), from the Cost records the CUDA judges write
(docs/trust-gpu.md, "Where an evaluation's time goes").

usage: cost-table.py [--json] FILE...
       cost-table.py --self-test   its checks on records written by hand

Each FILE is one of
  - a judge's output (or a log holding several): lines
    `__SPAK_TRACE__ {...}`; each judge process's records end with its
    Cost record of scope "run", the shape children's of scope "shape"
    before it;
  - `spak show --json RUN`: each evaluation's "cost" (the engine's steps:
    build, lock wait, sandbox, command, reading) with the judge's records.

Prints one table per input: the judge runs' phases summed (mean per run
beside), the shape children's phases summed over shapes and runs (timed
shapes and held-out ones apart), the
parts of a phase indented under it ("timed.idle_before": the idle probes
before each timed batch), the rounds, and the engine's steps when the
input has them. --json: the same numbers as one JSON object per input.
The shares are of the judge process's wall time (before main included).
"""
import json
import sys

PREFIX = "__SPAK_TRACE__ "


def records_of_text(text):
    out = []
    for line in text.splitlines():
        i = line.find(PREFIX)
        if i < 0:
            continue
        try:
            r = json.loads(line[i + len(PREFIX):])
        except ValueError:
            continue
        if isinstance(r, dict) and r.get("type") == "Cost":
            out.append(r)
    return out


def runs_of(records):
    """[(run record or None, [shape records])] in order: a run's shapes come before it."""
    runs, shapes = [], []
    for r in records:
        if r.get("scope") == "shape":
            shapes.append(r)
        elif r.get("scope") == "run":
            runs.append((r, shapes))
            shapes = []
    if shapes:
        runs.append((None, shapes))  # a judge killed before its end
    return runs


def add(acc, phases, counts=None):
    for k, v in (phases or {}).items():
        s, n = acc.get(k, (0.0, 0))
        acc[k] = (s + float(v), n + int((counts or {}).get(k, 1)))


def summarize(runs, engine):
    run_ph, shape_ph, held_ph, rounds, exits = {}, {}, {}, [], 0.0
    nshapes = heldout = 0
    for run, shapes in runs:
        if run:
            add(run_ph, dict(run.get("phases", {}), wall_s=run.get("wall_s", 0)), run.get("counts"))
            walls = run.get("shape_wall_s") or []
            exits += sum(walls) - sum(s.get("wall_s", 0) for s in shapes[: len(walls)])
        for s in shapes:
            nshapes += 1
            heldout += bool(s.get("heldout"))
            add(held_ph if s.get("heldout") else shape_ph, s.get("phases", {}), s.get("counts"))
            if "rounds" in s:
                rounds.append((s.get("shape"), s["rounds"], s.get("rounds_min"), s.get("rounds_cap"),
                               s.get("rounds_stopped_by"), s.get("calls_per_batch")))
    eng = {}
    for c in engine:
        add(eng, {k: v for k, v in c.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return {"runs": sum(1 for r, _ in runs if r), "shapes": nshapes, "heldout_shapes": heldout,
            "run_phases": {k: v[0] for k, v in run_ph.items()}, "shape_phases": {k: v[0] for k, v in shape_ph.items()},
            "shape_phase_counts": {k: v[1] for k, v in shape_ph.items()},
            "heldout_phases": {k: v[0] for k, v in held_ph.items()},
            "heldout_phase_counts": {k: v[1] for k, v in held_ph.items()}, "child_exit_s": exits,
            "rounds": rounds, "engine": {k: v[0] for k, v in eng.items()}, "evaluations": len(engine)}


def order(phases):
    """top phases in their first order, each followed by its parts"""
    tops = [k for k in phases if "." not in k]
    for k in phases:
        t = k.split(".")[0]
        if t not in tops:
            tops.append(t)
    out = []
    for t in tops:
        out.append(t)
        out += [k for k in phases if k.startswith(t + ".")]
    return out


def table(name, s):
    n = max(s["runs"], 1)
    total = s["run_phases"].get("wall_s", 0) + s["run_phases"].get("before_main", 0)
    lines = ["# where the time went: %s (%d judge runs, %d shape children, %d held out)"
             % (name, s["runs"], s["shapes"], s["heldout_shapes"])]
    row = "%-46s %10s %10s %7s"
    lines.append(row % ("phase", "seconds", "per run", "share"))

    def put(label, sec, indent=0):
        share = "%6.1f%%" % (100 * sec / total) if total > 0 else "-"
        lines.append(row % ("  " * indent + label, "%.3f" % sec, "%.3f" % (sec / n), share))

    rp = s["run_phases"]
    for k in order([k for k in rp if k != "wall_s"]):
        put(k, rp[k], 1 if "." in k else 0)
        if k == "shapes":
            for tag, key in (("[timed shape] ", "shape_phases"), ("[held-out shape] ", "heldout_phases")):
                sp, cnt = s[key], s[key.replace("phases", "phase_counts")]
                for j in order(sp):
                    put(tag + j + (" (x%d)" % cnt[j] if "." in j else ""), sp[j], 2 if "." in j else 1)
            put("[shape children] exit (context teardown, reaping)", s["child_exit_s"], 1)
    put("judge total (before main + wall)", total)
    if s["rounds"]:
        lines.append("rounds per timed shape (done / min / cap, stopped by, calls a batch):")
        for sh, d, lo, cap, by, cpb in s["rounds"]:
            lines.append("  %-30s %4s / %s / %s  %s  %s" % (sh, d, lo, cap, by, cpb))
    if s["evaluations"]:
        lines.append("engine steps over %d evaluations (sum, per evaluation):" % s["evaluations"])
        for k, v in s["engine"].items():
            lines.append("  %-32s %10.3f %10.3f" % (k, v, v / s["evaluations"]))
    return "\n".join(lines)


def load(path):
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8", errors="replace").read()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "evaluations" in doc:
        recs, engine = [], []
        for e in doc["evaluations"]:
            c = e.get("cost") or {}
            recs += c.get("judge", [])
            if c:
                engine.append(dict({k: v for k, v in c.items() if k != "judge"}, seconds=e.get("seconds", 0)))
        return runs_of(recs), engine
    return runs_of(records_of_text(text)), []


def self_test():
    import os
    import tempfile

    def rec(**k):
        return PREFIX + json.dumps(k)
    shape = dict(type="Cost", scope="shape", family="declared", wall_s=3.0,
                 phases={"context": 0.5, "runners_start": 1.5, "timed": 0.9, "timed.calls": 0.6},
                 counts={"context": 1, "runners_start": 1, "timed": 1, "timed.calls": 30}, heldout=False,
                 shape="s1", rounds=30, rounds_min=30, rounds_cap=120, rounds_stopped_by="precision",
                 calls_per_batch=64)
    held = dict(type="Cost", scope="shape", family="declared", wall_s=1.0, phases={"context": 0.5, "checks": 0.5},
                counts={"context": 1, "checks": 1}, heldout=True, shape="h1")
    run = dict(type="Cost", scope="run", family="declared", wall_s=6.0,
               phases={"before_main": 0.2, "probe": 1.0, "probe.peak_tflops": 0.7, "shapes": 4.6},
               counts={"probe": 1, "shapes": 2}, shape_wall_s=[3.3, 1.3])
    log = "\n".join(["spak-judge-cuda: a line", rec(type="Correctness", passed=True), rec(**shape), rec(**held),
                     rec(**run), rec(**shape)])  # the last: a second judge cut before its end
    runs = runs_of(records_of_text(log))
    s = summarize(runs, [])
    show = {"evaluations": [{"seconds": 9.0, "cost": {"build_s": 0.1, "measure_s": 8.0, "command_s": 7.5,
                                                      "judge": [shape, run]}},
                            {"seconds": 1.0, "cost": {"build_s": 0.3}}]}
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(show, f)
    sruns, engine = load(path)
    os.unlink(path)
    e = summarize(sruns, engine)
    checks = [
        ("a judge's records: one run with its two shapes, and a run cut short",
         len(runs) == 2 and runs[0][0] is not None and len(runs[0][1]) == 2 and runs[1][0] is None),
        ("only Cost records are read", all(r.get("type") == "Cost" for r in records_of_text(log))),
        ("timed and held-out shapes apart, phases summed over the runs",
         abs(s["shape_phases"]["context"] - 1.0) < 1e-9 and abs(s["heldout_phases"]["context"] - 0.5) < 1e-9),
        ("a part keeps its count", s["shape_phase_counts"]["timed.calls"] == 60),
        ("the children's exit: their walls beyond their own accounting", abs(s["child_exit_s"] - 0.6) < 1e-9),
        ("the rounds of each timed shape", len(s["rounds"]) == 2 and s["rounds"][0][1:5] == (30, 30, 120,
                                                                                             "precision")),
        ("the table puts the probe's parts under it and sums to the judge's total",
         "  probe.peak_tflops" in table("t", s) and "judge total (before main + wall)" in table("t", s)),
        ("spak show --json: the engine's steps per evaluation and the judge's records",
         e["evaluations"] == 2 and abs(e["engine"]["build_s"] - 0.4) < 1e-9 and e["runs"] == 1 and
         "engine steps over 2 evaluations" in table("t", e)),
    ]
    bad = 0
    for name, ok in checks:
        print("%s - %s" % ("ok" if ok else "NOT OK", name))
        bad += not ok
    return 1 if bad else 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    as_json = "--json" in argv
    files = [a for a in argv if a != "--json"]
    if not files:
        sys.stderr.write(__doc__)
        return 2
    for f in files:
        try:
            runs, engine = load(f)
        except OSError as e:
            sys.stderr.write("cost-table.py: %s: %s\n" % (f, e.strerror))
            return 1
        if not runs and not engine:
            sys.stderr.write("cost-table.py: %s: no Cost record (a judge built before issue 18?)\n" % f)
            return 1
        s = summarize(runs, engine)
        print(json.dumps(dict(s, input=f)) if as_json else table(f, s))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
