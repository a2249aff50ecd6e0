#!/usr/bin/env python3
"""Replay a measured landscape: print the trace records that a real run
recorded for one candidate. scripts/bench-knowledge.sh uses it to compare
search strategies on the same real measurements (every strategy sees exactly
the numbers the harness measured for that candidate in the landscape run).

usage: replay.py LANDSCAPE.json name=value,name=value,...
"""
import json
import sys

land = json.load(open(sys.argv[1]))
key = sys.argv[2]
recs = land.get(key)
if recs is None:
    print("no measurement for candidate " + key, file=sys.stderr)
    sys.exit(3)
for r in recs:
    print("__SPAK_TRACE__ " + json.dumps(r))
