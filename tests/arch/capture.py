#!/usr/bin/env python3
"""Capture the behaviour goldens of tests/suites/behaviour.sh with one build.

usage: capture.py BUILD_DIR OUT_DIR      (run from anywhere; it works at the repo root)

Writes one file per golden under OUT_DIR:
  cli/NAME.out        the CLI's text: `spak help`, `spak help CMD`, `spak CMD --help`
                      for every command `spak help` lists, `spak explain` (text and
                      --json), `spak` alone and an unknown command
  check/DIR/NAME.out  `spak check FILE` for every spec of examples/, tests/golden/valid
                      and tests/golden/invalid (relative paths, from the repo root)
  proposals/NAME.out  runs of the loop: the candidates in the order proposed (from
                      `spak show RUN --json`), the --json summary, the progress lines
                      and the journal (every transition and its detail), for grid and
                      seeded random on tests/engine/toy.spak and for the default (two
                      seeds) and rules strategies over recorded CPU matmul measurements
                      (tests/engine/matmul-replay.spak)
  show/NAME*.out      `spak show RUN`, `spak status RUN` and `spak status` after three
                      of those runs (toy grid, matmul default seed 7, matmul rules)
  learn/NAME.out      `spak learn --dry-run` of the same runs
  report/NAME.*       `spak report` of the same runs: its output, report.md, report.html
                      (the HTML as NAME.html.golden: a name the duplicate finder does
                      not read as source, since the three reports are alike by design)
Each .out holds the command, its exit status, its stdout and its stderr, byte for
byte except what differs per clone, per day or per run (normalised below, each
replacement named in norm()). To regenerate the committed goldens after a
deliberate change (READ the diff before committing):
  python3 tests/arch/capture.py build tests/golden/behaviour
"""
import atexit
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def escapes(s):
    """s as written raw, escaped for Markdown and escaped for HTML (src/report/svg.h)."""
    md = re.sub(r"([\\`*_\[\]|~])", r"\\\1", s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    html = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return {s, md, html, html.replace("'", "&#39;"), html.replace("'", "&#x27;")}


def norm(text, tmp, device=None):
    # The temporary --home and spec folder differ per run: named $TMP.
    text = text.replace(tmp, "$TMP")
    # The machine a run was measured on (learn and report name it): its CPU
    # model (wherever it appears), and the host name and core count where the
    # report lists the device, become $CPU, $HOST and $CORES.
    device = device or {}
    item = r"(device: %s(?:\*\*: |</dt><dd>))"  # "- **device: host**: X" and "<dt>device: host</dt><dd>X"
    cpu = device.get("cpu")
    if isinstance(cpu, str) and len(cpu) > 3:
        for form in sorted(escapes(cpu), key=len, reverse=True):
            text = re.sub(r"(?<!\w)%s(?!\w)" % re.escape(form), lambda m: "$CPU", text)
    host = device.get("host")
    if isinstance(host, str) and host:
        for form in sorted(escapes(host), key=len, reverse=True):
            text = re.sub(item % "host" + re.escape(form), lambda m: m.group(1) + "$HOST", text)
    cores = device.get("cores")
    if isinstance(cores, int):
        text = re.sub(r"\b%d cores\b" % cores, "$CORES cores", text)
        text = re.sub(item % "cores" + r"%d\b" % cores, r"\g<1>$CORES", text)
    # Dates and times of day (lessons are dated; the report says when the run was made).
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "YYYY-MM-DDTHH:MM:SSZ", text)
    text = re.sub(r"\b20\d{2}-\d{2}-\d{2}\b", "YYYY-MM-DD", text)
    # Run ids carry the day they were made (r20261205-001): the date becomes YYYYMMDD.
    text = re.sub(r"\br\d{8}-(\d+)", r"rYYYYMMDD-\1", text)
    # Wall time of a run ("after 12 evaluations in 1.0 s"): it varies per run.
    text = re.sub(r"evaluations in [0-9.]+ s\b", "evaluations in S s", text)
    # ... and the report's card of it.
    text = re.sub(r'(<div class="k">elapsed</div><div class="v">)[0-9.]+ s<', r"\1S s<", text)
    return text


def section(name, data):
    """A stream as a section; a missing final newline is written out as a marker
    so that it still counts."""
    s = data.decode("utf-8", errors="backslashreplace")
    if s and not s.endswith("\n"):
        s += "\n\\ no newline at end\n"
    return f"--- {name}\n{s}"


# The captured runs take their own measurement lock folder: another spak on
# the machine holding the machine-wide lock would make them wait and print
# "waiting" events into the goldens (docs/scale-out.md).
LOCK_DIR = tempfile.mkdtemp(prefix="spak-capture-locks.")
atexit.register(shutil.rmtree, LOCK_DIR, True)


def run(spak, args, cwd=ROOT, env=None):
    env = dict(os.environ if env is None else env)
    env.setdefault("SPAK_LOCK_DIR", LOCK_DIR)
    p = subprocess.run([spak] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return p.returncode, p.stdout, p.stderr


def write(out_dir, rel, text):
    path = os.path.join(out_dir, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def cli_case(spak, out_dir, tmp, rel, args):
    rc, so, se = run(spak, args)
    text = f"$ spak {' '.join(args)}\nexit {rc}\n" + section("stdout", so) + section("stderr", se)
    write(out_dir, rel, norm(text, tmp))


def commands(spak):
    """The commands `spak help` lists (the lines under 'commands:')."""
    _, so, _ = run(spak, ["help"])
    names, on = [], False
    for line in so.decode().splitlines():
        if line.startswith("commands:"):
            on = True
        elif on and not line.strip():
            break
        elif on and re.match(r"^  [a-z]", line):
            names.append(line.split()[0])
    if not names:
        sys.exit("capture.py: `spak help` lists no commands")
    return names


def capture_cli(spak, out_dir, tmp):
    cli_case(spak, out_dir, tmp, "cli/help.out", ["help"])
    for c in commands(spak):
        cli_case(spak, out_dir, tmp, f"cli/help-{c}.out", ["help", c])
        cli_case(spak, out_dir, tmp, f"cli/{c}--help.out", [c, "--help"])
    cli_case(spak, out_dir, tmp, "cli/explain.out", ["explain"])
    cli_case(spak, out_dir, tmp, "cli/explain--json.out", ["explain", "--json"])
    cli_case(spak, out_dir, tmp, "cli/no-command.out", [])
    cli_case(spak, out_dir, tmp, "cli/unknown-command.out", ["frobnicate"])
    for d in ("examples", "tests/golden/valid", "tests/golden/invalid"):
        for f in sorted(glob.glob(os.path.join(ROOT, d, "*.spak"))):
            rel = os.path.relpath(f, ROOT)
            name = os.path.splitext(os.path.basename(f))[0]
            cli_case(spak, out_dir, tmp, f"check/{os.path.basename(d)}/{name}.out", ["check", rel])


def journal(db_path, run_id):
    """Every transition of a run with its detail; elapsed_s (wall time) dropped."""
    db = sqlite3.connect(db_path)
    lines = []
    for seq, a, b, detail in db.execute(
            "select seq, from_state, to_state, detail_json from journal where run_id = ? order by seq", (run_id,)):
        d = json.loads(detail) if detail else None
        if isinstance(d, dict):
            d.pop("elapsed_s", None)
        lines.append(f"{seq} {a}>{b} {json.dumps(d, sort_keys=True)}")
    db.close()
    return "\n".join(lines) + "\n"


def device_of(db_path, run_id):
    db = sqlite3.connect(db_path)
    row = db.execute("select device_json from runs where id = ?", (run_id,)).fetchone()
    db.close()
    try:
        return json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}


def capture_after(spak, out_dir, tmp, name, home, run_id):
    """What the knowledge and report steps make of a finished run: `spak learn
    --dry-run` (the lessons and the spec v(n+1) diff) and `spak report`
    (report.md and report.html)."""
    device = device_of(os.path.join(home, "spak.db"), run_id)

    def case(rel, args):
        rc, so, se = run(spak, args)
        text = f"$ spak {' '.join(args)}\nexit {rc}\n" + section("stdout", so) + section("stderr", se)
        write(out_dir, rel, norm(text, tmp, device))

    case(f"show/{name}.out", ["show", "--home", home, run_id])
    case(f"show/{name}-status.out", ["status", "--home", home, run_id])
    case(f"show/{name}-status-all.out", ["status", "--home", home])
    case(f"learn/{name}.out", ["learn", "--dry-run", "--home", home, run_id])
    rep = os.path.join(tmp, "report-" + name)
    case(f"report/{name}.out", ["report", "--home", home, "--out", rep, run_id])
    for f, golden in (("report.md", "md"), ("report.html", "html.golden")):
        path = os.path.join(rep, f)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="backslashreplace") as fh:
                write(out_dir, f"report/{name}.{golden}", norm(fh.read(), tmp, device))


def capture_run(spak, out_dir, tmp, rel, spec, args, after=False):
    home = os.path.join(tmp, "home-" + os.path.basename(rel)[:-4])
    full = ["run", "--home", home, "--json"] + args + [spec]
    rc, so, se = run(spak, full)
    text = f"$ spak {' '.join(full)}\nexit {rc}\n"
    try:
        summary = json.loads(so.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        summary = None
    if summary and "run_id" in summary:
        run_id = summary["run_id"]
        # elapsed_s is wall time; the run id is checked by name in the journal/stderr
        summary.pop("elapsed_s", None)
        _, sj, _ = run(spak, ["show", "--home", home, "--json", run_id])
        evals = json.loads(sj)["evaluations"]
        text += "--- candidates in the order proposed (eval_id status candidate metric)\n"
        text += "".join(f"{e['eval_id']} {e['status']} {e['candidate']} {e['metric']!r}\n" for e in evals)
        text += "--- summary (spak run --json, less elapsed_s)\n" + json.dumps(summary, sort_keys=True) + "\n"
        text += section("stderr", se)
        text += "--- journal (seq from>to detail, less elapsed_s)\n" + journal(os.path.join(home, "spak.db"), run_id)
        if after:
            capture_after(spak, out_dir, tmp, os.path.basename(rel)[:-4], home, run_id)
    else:
        text += section("stdout", so) + section("stderr", se)
    write(out_dir, rel, norm(text, tmp))


def capture_proposals(spak, out_dir, tmp):
    # The sandbox runs the measure command as an unprivileged user: the spec and
    # its measure script go to a world-readable folder (like tests/suites/engine.sh).
    eng = os.path.join(tmp, "engine")
    os.makedirs(eng)
    for f in ("toy.spak", "measure.py", "matmul-replay.spak", "replay.py", "matmul-recording.json"):
        shutil.copy(os.path.join(ROOT, "tests", "engine", f), eng)
    os.chmod(tmp, 0o755)
    os.chmod(eng, 0o755)
    toy = os.path.join(eng, "toy.spak")
    mm = os.path.join(eng, "matmul-replay.spak")
    capture_run(spak, out_dir, tmp, "proposals/toy-grid.out", toy, ["--strategy", "grid"], after=True)
    capture_run(spak, out_dir, tmp, "proposals/toy-random-seed5.out", toy,
                ["--strategy", "random", "--seed", "5", "--budget", "12"])
    capture_run(spak, out_dir, tmp, "proposals/matmul-default-seed7.out", mm, ["--strategy", "default", "--seed", "7"],
                after=True)
    capture_run(spak, out_dir, tmp, "proposals/matmul-default-seed11.out", mm,
                ["--strategy", "default", "--seed", "11"])
    capture_run(spak, out_dir, tmp, "proposals/matmul-rules-seed7.out", mm, ["--strategy", "rules", "--seed", "7"],
                after=True)


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    spak = os.path.abspath(os.path.join(argv[0], "spak"))
    out_dir = os.path.abspath(argv[1])
    if not os.access(spak, os.X_OK):
        sys.exit(f"capture.py: {spak} is missing; build first")
    # A folder name without '_', which Markdown would escape (the report names the
    # spec's path): else $TMP could not be found in report.md.
    while True:
        tmp = tempfile.mkdtemp(prefix="spak-behaviour.")
        if "_" not in tmp:
            break
        os.rmdir(tmp)
    try:
        capture_cli(spak, out_dir, tmp)
        capture_proposals(spak, out_dir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
