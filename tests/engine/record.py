#!/usr/bin/env python3
"""Record the CPU matmul measurements that tests/engine/replay.py plays back.

usage: record.py BUILD_DIR [OUT.json]          run tests/engine/matmul-record.spak
                                               with grid (every point) and export
       record.py --db SPAK_DB RUN_ID [OUT.json] export a run already made

OUT defaults to tests/engine/matmul-recording.json. The recording holds, per
candidate key ("rung=packed,tile_k=128,mr=6,nv=2"), the trace records its
evaluation printed (the valid ones, in order), so a replayed run sees the
same numbers and its strategies must propose the same candidates. Recording
takes a few minutes (32 points, each built, checked and timed); it is done
once, on purpose, and committed: the goldens of tests/suites/behaviour.sh
depend on these numbers, so regenerate them after recording again.
"""
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "matmul-record.spak")


def export(db_path, run_id):
    db = sqlite3.connect(db_path)
    cands = {}
    rows = db.execute(
        "select c.key, e.eval_id, e.status from evaluations e join candidates c"
        " on c.run_id = e.run_id and c.cand_id = e.cand_id where e.run_id = ? order by e.eval_id",
        (run_id,)).fetchall()
    for key, eval_id, status in rows:
        if status != "done":
            sys.exit(f"record.py: evaluation {eval_id} ({key}) is '{status}', not done: record again")
        recs = [json.loads(r[0]) for r in db.execute(
            "select record_json from traces where run_id = ? and eval_id = ? and valid = 1 order by seq",
            (run_id, eval_id))]
        if not recs:
            sys.exit(f"record.py: evaluation {eval_id} ({key}) has no valid record")
        cands[key] = recs
    if not cands:
        sys.exit(f"record.py: run {run_id} has no evaluation in {db_path}")
    return cands


def main(argv):
    if len(argv) >= 3 and argv[0] == "--db":
        db, run_id, rest = argv[1], argv[2], argv[3:]
        tmp = None
    elif len(argv) >= 1 and not argv[0].startswith("-"):
        build, rest = argv[0], argv[1:]
        tmp = tempfile.mkdtemp(prefix="spak-record.")
        os.chmod(tmp, 0o755)  # the sandbox runs the measure command unprivileged
        home = os.path.join(tmp, "home")
        out = subprocess.run([os.path.join(build, "spak"), "run", "--home", home, "--no-learn", "--json", SPEC],
                             stdout=subprocess.PIPE, check=True, text=True).stdout
        run_id = json.loads(out.strip().splitlines()[-1])["run_id"]
        db = os.path.join(home, "spak.db")
    else:
        sys.exit(__doc__)
    path = rest[0] if rest else os.path.join(HERE, "matmul-recording.json")
    doc = {
        "about": "CPU matmul measurements replayed by tests/engine/replay.py; made by tests/engine/record.py",
        "spec": "tests/engine/matmul-record.spak",
        "recorded": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared; the numbers are noisy, which is fine: "
                   "they are replayed, not compared)",
        "candidates": export(db, run_id),
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"record.py: {len(doc['candidates'])} candidates -> {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
