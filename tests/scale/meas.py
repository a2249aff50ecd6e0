#!/usr/bin/env python3
"""tests/scale/meas.py DB - every evaluation of a spak store, one a line:
"eval_id status device from to uid error" (the measurement's device, its
start and end times and the sandbox uid it ran as; 0 or - where absent)."""
import json, sqlite3, sys

db = sqlite3.connect(sys.argv[1])
for eid, st, err, rj in db.execute("select eval_id, status, error, result_json from evaluations order by eval_id"):
    m = json.loads(rj or "{}").get("measurement", {})
    print(eid, st, m.get("device", "-"), m.get("from", 0), m.get("to", 0), m.get("sandbox_uid", 0), err or "")
