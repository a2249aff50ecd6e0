#!/usr/bin/env python3
"""tests/t1/compare.py T1_FILE SPAK_POINTS [NAME=VALUES ...]

Kernel Tuner's own view of a T1 file's space, compared with spak's
(`spak import t1 --points`, one JSON object a line): the tunable parameters
as tune_kernel_T1 builds them (Values evaluated by Python), NAME=VALUES
overrides as spak's --set, the points as Kernel Tuner's Searchspace keeps
them (the Conditions and the 1024-thread block limit), and for each point
the block and grid by kernel_tuner.util.get_thread_block_dimensions and
get_grid_dimensions. Prints one summary line; exit status 1 on any
difference (the first few are printed).
"""
import json
import sys

from kernel_tuner import util
from kernel_tuner.searchspace import Searchspace


def main():
    t1_path, pts_path = sys.argv[1], sys.argv[2]
    sets = dict(a.split("=", 1) for a in sys.argv[3:])
    doc = json.load(open(t1_path))
    ks = doc["KernelSpecification"]
    tune_params = {}
    for p in doc["ConfigurationSpace"]["TuningParameters"]:
        v = eval(sets.get(p["Name"], p["Values"]))  # as tune_kernel_T1 does
        tune_params[p["Name"]] = list(v) if isinstance(v, (list, tuple, range)) else [v]
    restrictions = [c["Expression"] for c in doc["ConfigurationSpace"].get("Conditions", [])]
    grid_div = tuple(ks.get(k) or None for k in ("GridDivX", "GridDivY", "GridDivZ"))
    problem_size = ks["ProblemSize"]
    names = list(tune_params)
    ss = Searchspace(tune_params, restrictions, 1024)
    kt_points = {tuple(c) for c in ss.list}

    spak = {}
    for line in open(pts_path):
        d = json.loads(line)
        spak[tuple(d["point"][k] for k in names)] = (tuple(d["grid"]), tuple(d["block"]))
    bad = []
    for pt in sorted(kt_points ^ set(spak))[:5]:
        bad.append(f"point {dict(zip(names, pt))} is in {'Kernel Tuner' if pt in kt_points else 'spak'}'s space only")
    for pt, (grid, block) in spak.items():
        if pt not in kt_points:
            continue
        params = dict(zip(names, pt))
        kt_block = util.get_thread_block_dimensions(params)
        kt_grid = util.get_grid_dimensions(util.get_problem_size(problem_size, params), params, grid_div,
                                           util.default_block_size_names)
        if tuple(kt_grid) != grid or tuple(kt_block) != block:
            bad.append(f"{params}: spak grid {grid} block {block}, Kernel Tuner grid {kt_grid} block {kt_block}")
            if len(bad) > 10:
                break
    print(f"{len(spak)} spak points, {len(kt_points)} Kernel Tuner points, {len(bad)} differences")
    for b in bad[:10]:
        print("  " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
