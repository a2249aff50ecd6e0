#!/usr/bin/env python3
"""scripts/experiments/evaluate.py - the engineer's seat experiment judged
(issue 16; scripts/experiments/evaluate.sh runs it). Standard library only.

For every finished arm (experiments/ARM-REP.json, written by engineer.sh):
  1. the trajectory: the best candidate after each of the engineer's steps,
     from the arm's store (its ratio to the run's baseline as the judge
     measured it then);
  2. every arm's final candidate (its best), the naive rung (matmul: as a
     candidate; attention: it is the baseline) and our best hand-written rung
     re-timed SIDE BY SIDE in ONE session of the CPU judge per family;
  3. the verdicts, with the rule stated before the experiment (issue 16):
     "supported" when the loop's re-timed best beats the single shot's in
     every repetition (its paired ratio over the single shot's above 1) and
     the 95% interval of the median improvement excludes zero; "not
     supported" when that interval excludes any gain (its upper end <= 0);
     "inconclusive" otherwise. The ablations are compared with the full loop
     the same way (the claim: the removed sections help).
The median's interval: a bootstrap over the repetitions (resampled with
replacement), each repetition's improvement drawn from its own paired
interval (normal on the log scale), 20000 draws, seed 1: both the spread
between repetitions and the noise of each re-timing widen it.

Output (OUT, default docs/experiments): results.md (the tables and
verdicts), final.csv, trajectories.csv, verdicts.csv,
trajectory-FAMILY.svg, session-FAMILY.txt (the judge's records).
"""
import argparse
import csv
import glob
import json
import math
import os
import random
import re
import shlex
import sqlite3
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAMILY_OF_ARM = {"attn": "attention", "mm": "matmul"}
# our best hand-written rung of each family (docs/results.md's best points)
REFERENCE = {
    "attention": ("blocked", {"SPAK_RUNG_BLOCKED": 1, "THREADS": 2, "BQ": 64, "BK": 64}),
    "matmul": ("packed", {"SPAK_RUNG_PACKED": 1, "THREADS": 2, "TILE_K": 256, "MR": 6, "NV": 2}),
}
# the claims: (name, arm with the thing, arm without it)
CLAIMS = [
    ("attention: the loop beats a single shot", "attn-loop", "attn-single"),
    ("matmul: the loop beats a single shot", "mm-loop", "mm-single"),
    ("attention: measurements and analysis in the context help", "attn-loop", "attn-nomeas"),
    ("attention: knowledge (rules, lessons) in the context helps", "attn-loop", "attn-noknow"),
]
FINAL = ("done", "failed", "stopped")


def fail(msg):
    print("evaluate: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- the arms and their stores ----

def load_arm(path):
    rec = json.load(open(path))
    db = os.path.join(rec["home"], "spak.db")
    if not os.path.exists(db):
        return rec, None, "no store at %s" % db
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    run = con.execute("select status, stop_reason from runs where id=?", (rec["run_id"],)).fetchone()
    rows = con.execute(
        "select e.eval_id, e.status, e.correct, e.metric, e.ratio, e.build_log, e.result_json, k.key, k.source_path "
        "from evaluations e join candidates k on k.run_id=e.run_id and k.cand_id=e.cand_id "
        "where e.run_id=? order by e.eval_id", (rec["run_id"],)).fetchall()
    con.close()
    evals = []
    for r in rows:
        res = json.loads(r[6]) if r[6] else {}
        note = res.get("external") if isinstance(res.get("external"), dict) else {}
        evals.append({"eval_id": r[0], "status": r[1], "correct": r[2] == 1, "metric": r[3], "ratio": r[4],
                      "build_log": r[5] or "", "proposal": note.get("proposal"), "of": note.get("of"),
                      "key": r[7], "source_path": r[8]})
    rec["run_status"] = run[0] if run else "unknown"
    rec["evals"] = evals
    return rec, evals, None


def finished(rec, allow_partial):
    """Whether the arm's engineer has taken its steps and every one is judged:
    (True, why) or (False, why)."""
    first = rec.get("first_engineer_proposal", 2)
    steps = rec["steps"]
    props = {}
    for e in rec["evals"]:
        if e["proposal"] is not None and e["proposal"] >= first:
            props.setdefault(e["proposal"], []).append(e)
    counted = [p for p in sorted(props) if p < first + steps]
    for p in counted:
        evs = props[p]
        if any(e["status"] not in FINAL for e in evs) or len(evs) < max(e["of"] or 1 for e in evs):
            return False, "proposal %d is still being judged" % p
    ended = rec["run_status"] not in ("suspended", "running", "interrupted")
    if len(counted) >= steps:
        extra = len([p for p in props if p >= first + steps])
        return True, "%d steps%s" % (steps, ", %d more proposals not counted" % extra if extra else "")
    if ended:
        return True, "the run ended (%s) after %d of %d steps" % (rec["run_status"], len(counted), steps)
    if allow_partial:
        return True, "partial: %d of %d steps (--partial)" % (len(counted), steps)
    return False, "%d of %d steps taken" % (len(counted), steps)


def trajectory(rec):
    """The best (metric, ratio, eval) after step 0 (the starting point) .. steps."""
    first = rec.get("first_engineer_proposal", 2)
    taken = len({e["proposal"] for e in rec["evals"] if e["proposal"] is not None and e["proposal"] >= first})
    out, best = [], None
    for step in range(rec["steps"] + 1):
        if step > taken:  # a step not taken (a partial arm) has no best
            out.append(None)
            continue
        limit = first + step  # proposals below this are in
        for e in rec["evals"]:
            if e["proposal"] is None or e["proposal"] >= limit:
                continue
            if e["status"] == "done" and e["correct"] and e["metric"] is not None:
                if best is None or e["metric"] > best["metric"]:
                    best = e
        out.append(best)
    return out


# ---- building the candidates again ----

def build_cmd(e, out_so):
    """The compile command of an evaluation (its build log's '$ ' line), with
    the source the store keeps and out_so as the output."""
    line = next((ln[2:] for ln in e["build_log"].splitlines() if ln.startswith("$ ")), None)
    if not line:
        return None
    av = shlex.split(line)
    if "-o" not in av:
        return None
    av[av.index("-o") + 1] = out_so
    if e["source_path"]:  # a code candidate: the build's copy of it is gone
        srcs = [i for i, a in enumerate(av) if a.endswith(".c") or a.endswith(".cu")]
        if len(srcs) != 1:
            return None
        av[srcs[0]] = e["source_path"]
    return av


def reference_cmd(template_av, family, out_so):
    """Our best rung, built as the naive start was (same compiler and flags)."""
    rung, defs = REFERENCE[family]
    av = [a for a in template_av if not a.startswith("-DSPAK_RUNG_")]
    src = [i for i, a in enumerate(av) if a.endswith(".c")][0]
    av[src] = os.path.join(ROOT, "kernels", "cpu", family, rung + ".c")
    at = av.index("-o")
    av[at + 1] = out_so
    for k, v in defs.items():
        av.insert(at, "-D%s=%s" % (k, v))
    return av


def run_build(av, log):
    p = subprocess.run(av, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write("$ " + " ".join(shlex.quote(a) for a in av) + "\n" + p.stdout)
    return p.returncode == 0


# ---- the session ----

def spec_list(spec, key):
    m = re.search(r'\b%s:\s*\[([^\]]*)\]' % key, open(spec).read())
    return ",".join(re.findall(r'"([^"]+)"', m.group(1))) if m else ""


def session(family, spec, cands, outdir, min_time, max_time):
    """cands: [(label, so)]. Returns {label: [Performance records]} and the
    labels in rival order."""
    av = [os.path.join(ROOT, "build", "spak-harness-cpu"), "--family", family]
    for _, so in cands:
        av += ["--candidate", so]
    av += ["--shapes", spec_list(spec, "shapes"), "--heldout", spec_list(spec, "heldout"), "--min-time", str(min_time),
           "--max-time", str(max_time)]
    if family == "attention":
        av += ["--baseline", "so", "--baseline-so", os.path.join(outdir, "build", "attention-naive.so")]
    p = subprocess.run(av, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(os.path.join(outdir, "session-%s.txt" % family), "w") as f:
        f.write("$ " + " ".join(shlex.quote(a) for a in av) + "\n" + p.stdout + "\n--- stderr ---\n" + p.stderr)
    recs = {label: [] for label, _ in cands}
    labels = [label for label, _ in cands]
    for ln in p.stdout.splitlines():
        if not ln.startswith("__SPAK_TRACE__ "):
            continue
        r = json.loads(ln[len("__SPAK_TRACE__ "):])
        if r.get("type") == "Performance" and not r.get("heldout") and isinstance(r.get("rival"), int):
            recs[labels[r["rival"]]].append(r)
    return recs, labels, p.returncode


T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 15: 2.13,
        20: 2.09, 30: 2.04, 60: 2.00}


def tq(df):
    for k in sorted(T975):
        if df <= k:
            return T975[k]
    return 1.96


def pooled(shapes):
    """shapes: [(mean_log, se_log)] -> (mean, se): the shapes weigh alike."""
    n = len(shapes)
    return sum(m for m, _ in shapes) / n, math.sqrt(sum(s * s for _, s in shapes)) / n


def vs_baseline(recs):
    """A candidate's ratio to the baseline over the timed shapes: (ratio, lo, hi)."""
    parts = []
    for r in recs:
        lo, hi = r["ratio_ci"]
        parts.append((math.log(r["ratio"]), (math.log(hi) - math.log(lo)) / (2 * 1.96)))
    if not parts:
        return None
    m, s = pooled(parts)
    return math.exp(m), math.exp(m - 1.96 * s), math.exp(m + 1.96 * s)


def paired(recs_a, recs_b, rival_b):
    """How much faster a is than b in the session, from the rounds both ran
    (per shape the mean of log(t_b / t_a) over the rounds, a t-interval; the
    shapes weigh alike): (mean_log, se_log, rounds) or None."""
    parts, rounds = [], 0
    for ra in recs_a:
        rb = next((r for r in recs_b if r["shape"] == ra["shape"]), None)
        if rb is None:
            continue
        sa, sb = ra.get("samples_ms") or [], rb.get("samples_ms") or []
        n = min(len(sa), len(sb))
        if n >= 3 and len(sa) == len(sb):
            d = [math.log(sb[i] / sa[i]) for i in range(n)]
            m = statistics.mean(d)
            se = statistics.stdev(d) / math.sqrt(n) * tq(n - 1) / 1.96
            parts.append((m, se))
            rounds += n
        else:  # the judge's own paired entry
            v = next((x for x in ra.get("versus", []) if x["rival"] == rival_b), None)
            if v is None:
                continue
            lo, hi = v["ratio_ci"]
            parts.append((math.log(v["ratio"]), (math.log(hi) - math.log(lo)) / (2 * 1.96)))
            rounds += v.get("rounds", 0)
    if not parts:
        return None
    m, s = pooled(parts)
    return m, s, rounds


def verdict(pairs):
    """pairs: [(rep, mean_log, se_log)] of 'with' over 'without' -> (verdict,
    median improvement, lo, hi, every rep beats)."""
    if not pairs:
        return "no data", None, None, None, False
    rnd = random.Random(1)
    meds = []
    for _ in range(20000):
        draw = [rnd.gauss(m, s) for _, m, s in (rnd.choice(pairs) for _ in pairs)]
        meds.append(statistics.median(draw))
    meds.sort()
    lo, hi = math.exp(meds[int(0.025 * len(meds))]) - 1, math.exp(meds[int(0.975 * len(meds)) - 1]) - 1
    med = math.exp(statistics.median([m for _, m, _ in pairs])) - 1
    every = all(m > 0 for _, m, _ in pairs)
    if every and lo > 0:
        v = "supported"
    elif hi <= 0:
        v = "not supported"
    else:
        v = "inconclusive"
    return v, med, lo, hi, every


# ---- charts ----

COLOURS = {"single": "#d62728", "loop": "#1f77b4", "nomeas": "#ff7f0e", "noknow": "#2ca02c"}


def run_baseline(spec):
    """The baseline a run measured its ratios against: the spec's problem.baseline name."""
    try:
        m = re.search(r'^\s*baseline:\s*"([^"]*)"', open(spec).read(), re.M)
    except OSError:
        m = None
    return m.group(1) if m else "the run's baseline"


def svg_chart(path, title, series, ylabel):
    """series: [(label, kind, [y or None per step])]: a line chart, step on x."""
    W, H, L, R, T, B = 720, 420, 70, 170, 40, 50
    ys = [y for _, _, v in series for y in v if y is not None]
    if not ys:
        return
    steps = max(len(v) for _, _, v in series) - 1
    lo, hi = min(ys), max(ys)
    use_log = lo > 0 and hi / lo > 20
    f = (lambda y: math.log10(y)) if use_log else (lambda y: y)
    a, b = f(lo), f(hi)
    if b - a < 1e-9:
        a, b = a - 0.5, b + 0.5
    px = lambda s: L + (W - L - R) * (s / max(steps, 1))
    py = lambda y: T + (H - T - B) * (1 - (f(y) - a) / (b - a))
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="22" font-size="14">%s</text>' % (L, title),
         '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
         '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B)]
    for s in range(steps + 1):
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (px(s), H - B + 16, s))
    o.append('<text x="%d" y="%d" text-anchor="middle">step (0: the naive start)</text>' % ((L + W - R) // 2, H - 12))
    for k in range(5):
        v = a + (b - a) * k / 4
        y = 10 ** v if use_log else v
        o.append('<text x="%d" y="%.1f" text-anchor="end">%.3g</text>' % (L - 6, py(y) + 4, y))
        o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, py(y), W - R, py(y)))
    o.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">%s%s</text>'
             % ((T + H - B) // 2, (T + H - B) // 2, ylabel, " (log scale)" if use_log else ""))
    for i, (label, kind, v) in enumerate(series):
        c = COLOURS.get(kind, "#555")
        pts = ["%.1f,%.1f" % (px(s), py(y)) for s, y in enumerate(v) if y is not None]
        if pts:
            o.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, " ".join(pts)))
        o.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 8, T + 14 * i + 10, c, label))
    o.append("</svg>")
    open(path, "w").write("\n".join(o) + "\n")


# ---- main ----

def cell(t):
    return str(t).replace("|", "\\|")


def fmt_ci(r):
    return "%.3g [%.3g-%.3g]" % r if r else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", default=os.path.join(ROOT, "experiments"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "experiments"))
    ap.add_argument("--partial", action="store_true", help="count arms that took fewer steps than their budget")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--max-time", type=float, default=20,
                    help="the judge's cap a candidate (the session's: candidates x this); the naive matmul takes "
                         "seconds a call")
    a = ap.parse_args()
    os.makedirs(os.path.join(a.out, "build"), exist_ok=True)
    arms, skipped = [], []
    for path in sorted(glob.glob(os.path.join(a.records, "*-*.json"))):
        rec, evals, err = load_arm(path)
        if err:
            skipped.append((os.path.basename(path), err))
            continue
        ok, why = finished(rec, a.partial)
        rec["why"] = why
        (arms if ok else skipped).append(rec if ok else (os.path.basename(path), why))
    if not arms:
        fail("no finished arm under %s (%s)" % (a.records, "; ".join("%s: %s" % s for s in skipped) or "none"))
    for rec in arms:
        rec["label"] = "%s-%s" % (rec["arm"], rec["rep"])
        rec["kind"] = rec["arm"].split("-", 1)[1]
        rec["traj"] = trajectory(rec)
    blog = open(os.path.join(a.out, "build", "build.log"), "w")
    finals, md = [], []
    md.append("# The engineer's seat: results\n")
    md.append("Written by `scripts/experiments/evaluate.sh` from the arms' stores (%s). Verdict rule (issue 16, "
              "stated before the runs): *supported* when the loop's re-timed best beats the single shot's in every "
              "repetition and the 95%% interval of the median improvement excludes zero; *not supported* when the "
              "interval excludes any gain; *inconclusive* otherwise.\n" % os.path.relpath(a.records, ROOT))
    if skipped:
        md.append("Not counted: " + "; ".join("%s (%s)" % s for s in skipped) + ".\n")
    # trajectories
    md.append("## Trajectories (best ratio to the run's baseline after each step, as measured then)\n")
    by_base = {}
    for r in arms:
        by_base.setdefault(run_baseline(r["spec"]), []).append(r["label"])
    md.append("The runs' baselines (their spec's problem.baseline): %s. The re-timed tables below put every arm "
              "beside the naive rung and our best rung.\n" % "; ".join(
                  "%s: %s" % (b, ", ".join(sorted(ls))) for b, ls in sorted(by_base.items())))
    with open(os.path.join(a.out, "trajectories.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["arm", "rep", "run_id", "step", "best_candidate", "best_metric", "best_ratio"])
        for rec in arms:
            for s, e in enumerate(rec["traj"]):
                w.writerow([rec["arm"], rec["rep"], rec["run_id"], s, e["key"] if e else "",
                            e["metric"] if e else "", e["ratio"] if e else ""])
    for rec in arms:
        md.append("- %s (run %s, %s; %s): %s" % (rec["label"], rec["run_id"], rec["home"], rec["why"], ", ".join(
            "%d: %.3g" % (s, e["ratio"]) if e else "%d: -" % s for s, e in enumerate(rec["traj"]))))
    md.append("")
    # the sessions, one per family
    rows, results = [], {}
    for family in ("attention", "matmul"):
        fam_arms = [r for r in arms if FAMILY_OF_ARM[r["arm"].split("-")[0]] == family]
        if not fam_arms:
            continue
        naive = next((e for r in fam_arms for e in r["evals"] if e["key"] == "rung=naive" and e["build_log"]), None)
        if naive is None:
            fail("%s: no arm has the naive start's build to copy" % family)
        tmpl = build_cmd(naive, os.path.join(a.out, "build", "%s-naive.so" % family))
        cands = []
        if not run_build(tmpl, blog):
            fail("%s: the naive rung does not build (see %s)" % (family, blog.name))
        for rec in fam_arms:
            best = next((e for e in reversed(rec["traj"]) if e), None)
            if best is None:
                continue
            so = os.path.join(a.out, "build", rec["label"] + ".so")
            av = build_cmd(best, so)
            if av and run_build(av, blog):
                rec["final"] = best
                cands.append((rec["label"], so))
            else:
                skipped.append((rec["label"], "its best (%s) did not build again" % best["key"]))
        ref_so = os.path.join(a.out, "build", "%s-ours.so" % family)
        if not run_build(reference_cmd(tmpl, family, ref_so), blog):
            fail("%s: our best rung does not build (see %s)" % (family, blog.name))
        cands.append(("ours (%s)" % REFERENCE[family][0], ref_so))
        if family == "matmul":
            cands.append(("naive", os.path.join(a.out, "build", "matmul-naive.so")))
        blog.flush()
        recs, labels, rc = session(family, fam_arms[0]["spec"], cands, a.out, a.min_time, a.max_time)
        ours = labels.index("ours (%s)" % REFERENCE[family][0])
        base = "naive" if family == "attention" else "OpenBLAS"
        md.append("## Re-timed side by side: %s (one session of the CPU judge, %d candidates, exit %d)\n"
                  % (family, len(labels), rc))
        md.append("| candidate | from | ratio to %s [95%%] | ratio to ours [95%%] |" % base)
        md.append("| --- | --- | --- | --- |")
        for i, label in enumerate(labels):
            vb = vs_baseline(recs[label])
            po = paired(recs[label], recs[labels[ours]], ours) if i != ours else None
            vo = (math.exp(po[0]), math.exp(po[0] - 1.96 * po[1]), math.exp(po[0] + 1.96 * po[1])) if po else None
            rec = next((r for r in fam_arms if r["label"] == label), None)
            frm = ("%s, eval %d" % (rec["final"]["key"], rec["final"]["eval_id"])) if rec else "reference"
            md.append("| %s | %s | %s | %s |" % (cell(label), cell(frm), fmt_ci(vb), fmt_ci(vo) if vo else "-"))
            rows.append([family, label, frm] + (list(vb) if vb else ["", "", ""]) + (list(vo) if vo else ["", "", ""]))
        md.append("")
        results[family] = (recs, labels)
    with open(os.path.join(a.out, "final.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["family", "candidate", "from", "ratio_baseline", "lo", "hi", "ratio_ours", "lo", "hi"])
        w.writerows(rows)
    # verdicts
    md.append("## Verdicts\n")
    md.append("| claim | repetitions (with over without, re-timed) | median improvement [95%] | every rep | verdict |")
    md.append("| --- | --- | --- | --- | --- |")
    vrows = []
    for name, with_arm, without_arm in CLAIMS:
        fam = FAMILY_OF_ARM[with_arm.split("-")[0]]
        if fam not in results:
            continue
        recs, labels = results[fam]
        reps_w = sorted(r["rep"] for r in arms if r["arm"] == with_arm and r["label"] in labels)
        reps_o = sorted(r["rep"] for r in arms if r["arm"] == without_arm and r["label"] in labels)
        pairs, shown = [], []
        # repetition r of one arm with repetition r of the other (the rule);
        # a repetition without its partner is said, never paired with another
        unpaired = ["%s-%s" % (with_arm, r) for r in reps_w if r not in reps_o] + \
                   ["%s-%s" % (without_arm, r) for r in reps_o if r not in reps_w]
        for rw in (r for r in reps_w if r in reps_o):
            lw, lo_ = "%s-%s" % (with_arm, rw), "%s-%s" % (without_arm, rw)
            p = paired(recs[lw], recs[lo_], labels.index(lo_))
            if p:
                pairs.append((rw, p[0], p[1]))
                shown.append("%s/%s %.3g [%.3g-%.3g]" % (lw, lo_, math.exp(p[0]), math.exp(p[0] - 1.96 * p[1]),
                                                         math.exp(p[0] + 1.96 * p[1])))
        v, med, lo, hi, every = verdict(pairs)
        if unpaired:
            shown.append("unpaired: " + ", ".join(unpaired))
        md.append("| %s | %s | %s | %s | **%s** |" % (
            name, "; ".join(shown) or "-", "%+.1f%% [%+.1f%%, %+.1f%%]" % (100 * med, 100 * lo, 100 * hi)
            if med is not None else "-", "yes" if every else "no", v))
        vrows.append([name, with_arm, without_arm, len(pairs), med, lo, hi, every, v])
    with open(os.path.join(a.out, "verdicts.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["claim", "with", "without", "pairs", "median_improvement", "lo", "hi", "every_rep_beats",
                    "verdict"])
        w.writerows(vrows)
    md.append("")
    for family in ("attention", "matmul"):
        series = [(r["label"], r["kind"], [e["ratio"] if e else None for e in r["traj"]]) for r in arms
                  if FAMILY_OF_ARM[r["arm"].split("-")[0]] == family]
        if series:
            bases = sorted({run_baseline(r["spec"]) for r in arms if FAMILY_OF_ARM[r["arm"].split("-")[0]] == family})
            svg_chart(os.path.join(a.out, "trajectory-%s.svg" % family), "%s: best ratio after each step" % family,
                      series, "best ratio to %s (as measured in the run)" % " / ".join(bases))
            md.append("![%s trajectories](trajectory-%s.svg)\n" % (family, family))
    text = "\n".join(md) + "\n"
    open(os.path.join(a.out, "results.md"), "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
