#!/usr/bin/env python3
"""A measure command that probes what a candidate in flight can see, for
tests/suites/scale_local.sh (--jobs 2: two candidates at once).

usage: probe.py X WORKDIR [--hold S] [--procs N]
X = 1 (candidate A): writes a secret into its own directory, starts N
      processes that live S seconds (they count against its uid's
      RLIMIT_NPROC), then waits for them.
X = 2 (candidate B): waits 1 s (A is in flight then), tries to read A's
      secret (A's directory is WORKDIR's sibling e(N-1)), and starts N
      processes of its own.
Each reports, in its Correctness record's reason: its uid, the cores it
may run on, whether it read the other's secret, how many processes it
could start. passed: it read nothing of the other's and started all N.
"""
import json
import os
import sys
import time

x = int(float(sys.argv[1]))
wd = sys.argv[2]
hold, procs = 3.0, 0
i = 3
while i < len(sys.argv):
    if sys.argv[i] == "--hold":
        hold = float(sys.argv[i + 1]); i += 2
    elif sys.argv[i] == "--procs":
        procs = int(sys.argv[i + 1]); i += 2
    else:
        i += 1

read_other = None
if x == 1:
    with open(os.path.join(wd, "secret.txt"), "w") as f:
        f.write("candidate A's secret\n")
else:
    time.sleep(1)
    base = os.path.basename(wd.rstrip("/"))
    other = os.path.join(os.path.dirname(wd.rstrip("/")), "e%d" % (int(base[1:]) - 1), "secret.txt")
    try:
        with open(other) as f:
            read_other = f.read()
    except OSError as e:
        read_other = None
        print(f"probe: cannot read {other}: {e.strerror}", file=sys.stderr)

started = 0
kids = []
for _ in range(procs):
    try:
        pid = os.fork()
    except OSError as e:
        print(f"probe: fork {started + 1}: {e.strerror}", file=sys.stderr)
        break
    if pid == 0:
        time.sleep(hold if x == 1 else 0.5)
        os._exit(0)
    kids.append(pid)
    started += 1
if x != 1:
    time.sleep(0.1)
for k in kids:
    os.waitpid(k, 0)

info = {"uid": os.getuid(), "cpus": sorted(os.sched_getaffinity(0)), "read_other": read_other is not None,
        "started": started}
ok = read_other is None and started == procs


def rec(d):
    print("__SPAK_TRACE__ " + json.dumps(d), flush=True)


rec({"type": "Correctness", "passed": ok, "reason": json.dumps(info)})
rec({"type": "Performance", "score": float(x), "ratio": 1.0})
