#!/usr/bin/env python3
"""kernels/cuda/kt/kt_tune.py - Kernel Tuner's side of the side-by-side on the
convolution problem with the filter fixed at 17x17 (issue 17): tune_kernel
over the T1 file's parameters and condition, on the GPU machine, with
Kernel Tuner's CuPy backend.

  kt_tune.py tune  KT_DIR REF STRATEGY SEED FEVALS OUT.json
  kt_tune.py point KT_DIR REF 'name=value,...' OUT.json   (one configuration)

KT_DIR holds Kernel Tuner's test/test_T1_input.json and test/convolution.cu
(from its source distribution); REF is spak's reference (conv_ref.cu): its
output on Kernel Tuner's inputs is the `answer` every configuration is
verified against. The space: the T1 file's values with filter_width and
filter_height fixed at 17, its Condition as a restriction. OUT gets every
evaluation in Kernel Tuner's order (configuration, time in ms or the
reason it has none, Kernel Tuner's own compile/verify/benchmark times) and
the wall time of the whole call; OUT.cache.json is Kernel Tuner's own cache,
written as each configuration is done (what is left of a run cut by its time
limit). Nothing of spak runs here.
"""
import json
import random
import sys
import time

import numpy as np


def space(kt_dir):
    t1 = json.load(open(f"{kt_dir}/test_T1_input.json"))
    params = {}
    for p in t1["ConfigurationSpace"]["TuningParameters"]:
        # the T1 file's values are Python expressions over range() (its own test data, trusted here)
        params[p["Name"]] = list(eval(p["Values"], {"range": range}))
    params["filter_width"] = [17]
    params["filter_height"] = [17]
    conds = [c["Expression"] for c in t1["ConfigurationSpace"].get("Conditions", [])]
    return params, conds


def problem(seed):
    rng = np.random.default_rng(seed)
    n = 4096
    inp = rng.standard_normal((n + 16) * (n + 16)).astype(np.float32)
    filt = rng.standard_normal(17 * 17).astype(np.float32)
    out = np.zeros(n * n, dtype=np.float32)
    return (n, n), [out, inp, filt], filt


def answer(kernel_tuner, ref, size, args):
    params = {"block_size_x": 16, "block_size_y": 16, "filter_width": 17, "filter_height": 17}
    res = kernel_tuner.run_kernel("convolution_ref", open(ref).read(), size, args, params, lang="cupy")
    return [res[0], None, None]


def tune(kt_dir, ref, params, conds, strategy, seed, fevals, out_path):
    import kernel_tuner
    size, args, filt = problem(seed)
    ans = answer(kernel_tuner, ref, size, args)
    random.seed(seed)
    np.random.seed(seed)
    opts = {"max_fevals": fevals} if fevals else None
    t0 = time.time()
    results, env = kernel_tuner.tune_kernel(
        "convolution_kernel", f"{kt_dir}/convolution.cu", size, args, params,
        grid_div_x=["block_size_x", "tile_size_x"], grid_div_y=["block_size_y", "tile_size_y"],
        restrictions=conds, cmem_args={"d_filter": filt}, answer=ans, atol=1e-3,
        compiler_options=["-std=c++11"], lang="cupy", strategy=strategy, strategy_options=opts,
        iterations=7, quiet=True, cache=out_path + ".cache.json")
    wall = time.time() - t0
    evals = []
    for r in results:
        t = r.get("time")
        e = {"config": {k: r[k] for k in params}, "time_ms": t if isinstance(t, (int, float)) and t < 1e19 else None}
        if e["time_ms"] is None:
            e["error"] = str(t)
        for k in ("compile_time", "verification_time", "benchmark_time", "framework_time", "strategy_time"):
            if k in r:
                e[k] = r[k]
        evals.append(e)
    json.dump({"side": "kernel_tuner", "version": kernel_tuner.__version__, "strategy": strategy, "seed": seed,
               "fevals": fevals, "wall_s": wall, "device": env.get("device_name"), "evaluations": evals},
              open(out_path, "w"), indent=1)
    ok = [e for e in evals if e["time_ms"] is not None]
    best = min(ok, key=lambda e: e["time_ms"]) if ok else None
    print(f"kernel_tuner {strategy} seed {seed}: {len(evals)} evaluations ({len(ok)} timed) in {wall:.1f} s; "
          f"best {best['time_ms'] if best else '-'} ms {best['config'] if best else ''}", flush=True)


def main():
    if len(sys.argv) == 8 and sys.argv[1] == "tune":
        kt_dir, ref, strategy, seed, fevals, out = sys.argv[2:]
        params, conds = space(kt_dir)
        tune(kt_dir, ref, params, conds, strategy, int(seed), int(fevals), out)
    elif len(sys.argv) == 6 and sys.argv[1] == "point":
        kt_dir, ref, point, out = sys.argv[2:]
        params, _ = space(kt_dir)
        for kv in point.split(","):
            k, v = kv.split("=")
            if k not in params:
                sys.exit(f"kt_tune.py: {k} is not a parameter of the T1 file")
            params[k] = [int(v)]
        tune(kt_dir, ref, params, [], "brute_force", 1, 0, out)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
