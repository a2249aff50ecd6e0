#!/usr/bin/env python3
"""Find include cycles between the modules of a C tree (#12: there must be none).

usage: cycles.py ROOT [DIR...]      (DIR defaults to: src tool; relative to ROOT)

A module is a .c/.h pair with the same path stem (src/spec/expr.c + .h is
src/spec/expr), at any folder depth. A header alone is a module too. A .c
file without a header of its own stem joins the module of the header it
includes that declares its exported functions (src/spec/check.c implements
src/spec/spec.h, the backends src/program/llm/llm_*.c implement llm.h): its
includes are that module's includes, which is what a reader of the header
depends on. A .c that declares nothing in a header it includes stays alone.

X depends on Y when a file of X has #include "Y.h" (or Y's other header),
the name resolved against the including file's folder, then ROOT/src, then
ROOT/include (the compiler's -I order); a module including its own header is
no dependency. Includes that resolve outside the DIRs (include/spak.h, the
system) are not modules.

Prints each cycle found, one per strongly connected group of modules, as
  cycle: A -> B -> A
      A's file:LINE includes "B.h"
      ...
and exits 1; prints nothing and exits 0 when there is none. Standard library only.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import funclen  # noqa: E402  (the same scanner finds the definitions)

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', re.M)


def files_under(root, dirs):
    out = []
    for d in dirs:
        for dp, dn, fn in os.walk(os.path.join(root, d)):
            dn.sort()
            for f in sorted(fn):
                if f.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dp, f), root))
    return out


def includes(root, rel, known):
    """(line, text as written, resolved repo-relative path or None) per #include "..."."""
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        src = f.read()
    res = []
    for m in INCLUDE.finditer(src):
        name = m.group(1)
        line = src.count("\n", 0, m.start()) + 1
        target = None
        for base in (os.path.dirname(rel), "src", "include"):
            cand = os.path.normpath(os.path.join(base, name))
            if cand in known or os.path.isfile(os.path.join(root, cand)):
                target = cand
                break
        res.append((line, name, target))
    return res


def exported(root, rel):
    """Names of the functions a .c file defines without 'static'."""
    names = []
    for _, _, name, head in funclen.functions(os.path.join(root, rel)):
        if not re.search(r"\bstatic\b", head):
            names.append(name)
    return names


def modules(root, files):
    """file -> module name (its stem, or the stem of the header it implements)."""
    known = set(files)
    mod = {f: os.path.splitext(f)[0] for f in files}
    for f in files:
        stem = os.path.splitext(f)[0]
        if not f.endswith(".c") or stem + ".h" in known:
            continue
        names = exported(root, f)
        best, best_n = None, 0
        for _, _, target in includes(root, f, known):
            if target not in known or not target.endswith(".h"):
                continue
            with open(os.path.join(root, target), encoding="utf-8", errors="replace") as h:
                text = funclen.blank(h.read())
            k = sum(1 for n in names if re.search(r"\b%s\s*\(" % re.escape(n), text))
            if k > best_n:
                best, best_n = target, k
        if best:
            mod[f] = os.path.splitext(best)[0]
    return mod


def graph(root, files, mod):
    """module -> {module it depends on: [(file, line, include text)]}"""
    known = set(files)
    g = {m: {} for m in mod.values()}
    for f in files:
        for line, name, target in includes(root, f, known):
            if target not in known:
                continue
            a, b = mod[f], mod[target]
            if a != b:
                g[a].setdefault(b, []).append((f, line, name))
    return g


def sccs(g):
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(g):
        if start in index:
            continue
        work = [(start, iter(sorted(g[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def one_cycle(g, comp):
    """A shortest cycle through the first module of a component (BFS inside it)."""
    inside = set(comp)
    s = comp[0]
    prev = {s: None}
    queue = [s]
    while queue:
        v = queue.pop(0)
        for w in sorted(g[v]):
            if w == s:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [s]
            if w in inside and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + [s]


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    root, dirs = argv[0], argv[1:] or ["src", "tool"]
    files = files_under(root, dirs)
    mod = modules(root, files)
    g = graph(root, files, mod)
    found = 0
    for comp in sccs(g):
        if len(comp) < 2:
            continue
        found += 1
        cyc = one_cycle(g, comp)
        print("cycle: " + " -> ".join(cyc))
        for a, b in zip(cyc, cyc[1:]):
            for f, line, name in g[a][b]:
                print(f'    {f}:{line} includes "{name}"')
        joined = sorted(f for f in mod if mod[f] in comp and os.path.splitext(f)[0] != mod[f])
        for f in joined:
            print(f"    ({f} belongs to {mod[f]}: it defines what {mod[f]}.h declares)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
