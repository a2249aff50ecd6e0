#!/usr/bin/env python3
"""Feed `spak export` and `spak compare` mutated export documents: every
member of a real document replaced, one at a time and in random pairs
(seeded), by a value of another type, deleted, or made huge. Each must end
with exit 0 or 1 (a document it reads, or one it refuses with a message),
never a signal or a usage error, and what it accepts must convert to CSV,
T4 and a comparison.

usage: mutate.py SPAK DOC TMPDIR [N]   prints 'ok COUNT' or the failures
"""
import json
import random
import subprocess
import sys

spak, doc_path, tmp = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 150
doc = json.load(open(doc_path))
rng = random.Random(7)
odd = [None, True, 0, -1, 1e308, -0.0, "", "=x", "a\u001b[31mb", [], [1, "x"], {}, {"k": [None]}, "x" * 5000]


def paths(v, p=()):
    yield p
    if isinstance(v, dict):
        for k, x in v.items():
            yield from paths(x, p + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v[:3]):
            yield from paths(x, p + (i,))


def mutate(d, p):
    if not p:
        return rng.choice(odd)
    parent = d
    for k in p[:-1]:
        parent = parent[k]
    if rng.random() < 0.2 and isinstance(parent, dict):
        del parent[p[-1]]
    else:
        parent[p[-1]] = rng.choice(odd)
    return d


all_paths = list(paths(doc))
bad = []
runs = 0
for i in range(n):
    d = json.loads(json.dumps(doc))
    for p in rng.sample(all_paths, 1 if i % 2 else 2):
        try:
            d = mutate(d, p)
        except (KeyError, IndexError, TypeError):
            pass  # an earlier mutation removed the path
    f = "%s/m%d.json" % (tmp, i)
    json.dump(d, open(f, "w"))
    for argv in ([spak, "export", "--format", "csv", f], [spak, "export", "--format", "t4", f],
                 [spak, "compare", f, doc_path], [spak, "compare", "--json", doc_path, f]):
        r = subprocess.run(argv, capture_output=True, timeout=30)
        runs += 1
        if r.returncode not in (0, 1) or (r.returncode == 1 and not r.stderr.strip()):
            bad.append("%s: exit %d %s" % (" ".join(argv[1:]), r.returncode, r.stderr[-200:]))
print("ok %d" % runs if not bad else "\n".join(bad[:10]))
