#!/usr/bin/env python3
"""A measure command that replays recorded measurements (a 'user command in
any language' for the loop): it prints, as trace records, what the real CPU
matmul harness printed for the candidate it is given, so a run over it sees
the same numbers every time, on any machine, in a fraction of a second.

usage: replay.py RECORDING.json [--drop FIELD[@KEY]]... NAME=VALUE...
The NAME=VALUE pairs, joined with ',' in the order given, are the candidate
key (give them in the spec's parameter order: "rung=packed,tile_k=128,...").
--drop FIELD leaves FIELD out of every record printed (e.g. "baseline": a
command that names no baseline); with @KEY, only out of the records of
candidate KEY (e.g. "ratio@bq=128,bk=128": one candidate without a ratio).
A key that is not in the recording is an error (exit 3, named on stderr): a
strategy proposing a point that was never measured must fail loudly, not
get made-up numbers. Made by tests/engine/record.py.
"""
import json
import sys

if len(sys.argv) < 3:
    sys.exit(__doc__)
with open(sys.argv[1]) as f:
    recording = json.load(f)["candidates"]
args, drops = sys.argv[2:], []
while len(args) >= 2 and args[0] == "--drop":
    field, _, only = args[1].partition("@")
    drops.append((field, only))
    args = args[2:]
key = ",".join(args)
if key not in recording:
    print(f"replay.py: no recorded measurement for '{key}' in {sys.argv[1]}", file=sys.stderr)
    sys.exit(3)
for rec in recording[key]:
    rec = {k: v for k, v in rec.items() if not any(k == f and (not only or only == key) for f, only in drops)}
    print("__SPAK_TRACE__ " + json.dumps(rec, separators=(",", ":")), flush=True)
