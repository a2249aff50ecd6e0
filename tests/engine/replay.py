#!/usr/bin/env python3
"""A measure command that replays recorded measurements (a 'user command in
any language' for the loop): it prints, as trace records, what the real CPU
matmul harness printed for the candidate it is given, so a run over it sees
the same numbers every time, on any machine, in a fraction of a second.

usage: replay.py RECORDING.json NAME=VALUE...
The NAME=VALUE pairs, joined with ',' in the order given, are the candidate
key (give them in the spec's parameter order: "rung=packed,tile_k=128,...").
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
key = ",".join(sys.argv[2:])
if key not in recording:
    print(f"replay.py: no recorded measurement for '{key}' in {sys.argv[1]}", file=sys.stderr)
    sys.exit(3)
for rec in recording[key]:
    print("__SPAK_TRACE__ " + json.dumps(rec, separators=(",", ":")), flush=True)
