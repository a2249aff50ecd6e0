#!/usr/bin/env python3
"""gen_wgmma_rs.py - writes wgmma_rs.cuh: inline-PTX wrappers for
wgmma.mma_async m64nNk16 with A from registers (four 32-bit registers of
16-bit pairs, the mma.sync A-fragment layout per warp) and B from a shared
memory descriptor (TB 0: K-major, imm-trans-b 0; TB 1: MN-major, imm-trans-b 1),
fp32 accumulate, N in NS, f16 and bf16. The SS form (both operands in shared memory) is the GEMM work's
kernels/cuda/common/wgmma_ops.cuh, whose generator writes these wrappers too.
Run: python3 gen_wgmma_rs.py > wgmma_rs.cuh"""
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from gen_wgmma import header, wrapper  # noqa: E402

NS = [64, 128]
out = header("wgmma_rs.cuh", "gen_wgmma_rs.py", "template <int N, int BF16, int TB = 0> struct wgmma_rs;")
for n in NS:
    nr = n // 2
    for bf, ty, tb in ((1, "bf16", 0), (0, "f16", 0), (1, "bf16", 1), (0, "f16", 1)):
        wrapper(out, "wgmma_rs<%d, %d, %d>" % (n, bf, tb), "const uint32_t *a, uint64_t db", n, ty,
                "{%%%d, %%%d, %%%d, %%%d}" % (nr, nr + 1, nr + 2, nr + 3), "%d" % tb,
                '"r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d)')
out.append("#endif")
print("\n".join(out))
