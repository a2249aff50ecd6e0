#!/usr/bin/env python3
"""check_fragments.py - a GPU-free check of rung3_mma.cu's shared-memory
addressing: the XOR swizzle of load_tile, the lane addresses given to
ldmatrix (.x4 and .x4.trans) and the fragments they yield, against the
register layouts the mma.sync m16n8k16 instruction expects (PTX ISA:
A a0..a3 = (g, 2t) (g+8, 2t) (g, 2t+8) (g+8, 2t+8); B b0,b1 = (k 2t, n g)
(k 2t+8, n g); g = lane/4, t = lane%4), plus bank conflicts of every
ldmatrix phase. The index formulas below are copied from rung3_mma.cu; if
that file changes, change them here. Prints "ok" lines; exit 1 on a mismatch."""
import sys

def swz(D, r, c):              # element offset of 16-byte chunk c of row r
    return r * D + ((c ^ (r & 7)) << 3)

def tile(D, R):                # smem element offset -> (row, col) written by load_tile
    m = {}
    for r in range(R):
        for c in range(D // 8):
            for e in range(8):
                m[swz(D, r, c) + e] = (r, c * 8 + e)
    return m

def ldsm(mem, addrs, trans):   # ldmatrix .x4: per thread, 4 regs of 2 elements
    out = []
    for T in range(32):
        regs = []
        for i in range(4):
            if not trans:
                base = addrs[8 * i + T // 4]
                regs.append((mem[base + 2 * (T % 4)], mem[base + 2 * (T % 4) + 1]))
            else:
                regs.append((mem[addrs[8 * i + 2 * (T % 4)] + T // 4], mem[addrs[8 * i + 2 * (T % 4) + 1] + T // 4]))
        out.append(regs)
    return out

def conflicts(addrs):          # each 8-address phase: 16-B rows in distinct 16-B bank groups?
    bad = 0
    for i in range(4):
        groups = [((a * 2) // 16) % 8 for a in addrs[8 * i:8 * i + 8]]
        bad += len(groups) - len(set(groups))
    return bad

def frags_match(fr, want, elem):  # thread T's regs j hold elem(*want(g, t)[j]), g = T // 4, t = T % 4
    for T in range(32):
        for j, (a, b) in enumerate(want(T // 4, T % 4)):
            if fr[T][j] != elem(a, b):
                return False
    return True

fail = 0
def check(name, cond):
    global fail
    print(("ok - " if cond else "FAIL - ") + name)
    fail += 0 if cond else 1

for D in (64, 128):
    for BLOCK_N in (32, 64, 128):
        # Q (A operand), warp w, k-step kk
        mem = tile(D, 64)
        good, bank = True, 0
        for w in range(4):
            for kk in range(D // 16):
                addrs = [swz(D, w * 16 + (l & 7) + ((l >> 3) & 1) * 8, kk * 2 + (l >> 4)) for l in range(32)]
                bank += conflicts(addrs)
                fr = ldsm(mem, addrs, False)
                good &= frags_match(fr, lambda g, t: [(g, 2 * t), (g + 8, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t + 8)],
                                    lambda r, c: ((w * 16 + r, kk * 16 + c), (w * 16 + r, kk * 16 + c + 1)))
        check("D=%d Q A-fragments (ldmatrix.x4)" % D, good) if BLOCK_N == 64 else None
        check("D=%d Q ldmatrix conflict-free" % D, bank == 0) if BLOCK_N == 64 else None
        # K (B operand of S = Q K^T)
        mem = tile(D, BLOCK_N)
        good, bank = True, 0
        for kk in range(D // 16):
            for np_ in range(BLOCK_N // 16):
                addrs = [swz(D, np_ * 16 + (l & 7) + (l >> 4) * 8, kk * 2 + ((l >> 3) & 1)) for l in range(32)]
                bank += conflicts(addrs)
                fr = ldsm(mem, addrs, False)
                # regs: (n-tile 2np: b0, b1), (n-tile 2np+1: b0, b1); element (key n, d k)
                good &= frags_match(fr, lambda g, t: [(g, 2 * t), (g, 2 * t + 8), (g + 8, 2 * t), (g + 8, 2 * t + 8)],
                                    lambda n, k: ((np_ * 16 + n, kk * 16 + k), (np_ * 16 + n, kk * 16 + k + 1)))
        check("D=%d BLOCK_N=%d K B-fragments (ldmatrix.x4)" % (D, BLOCK_N), good)
        check("D=%d BLOCK_N=%d K ldmatrix conflict-free" % (D, BLOCK_N), bank == 0)
        # V (B operand of O += P V), trans
        good, bank = True, 0
        for kk in range(BLOCK_N // 16):
            for dp in range(D // 16):
                addrs = [swz(D, kk * 16 + (l & 7) + ((l >> 3) & 1) * 8, dp * 2 + (l >> 4)) for l in range(32)]
                bank += conflicts(addrs)
                fr = ldsm(mem, addrs, True)
                # regs: (d-tile 2dp: b0 keys 2t.., b1 keys 2t+8..), (d-tile 2dp+1: b0, b1); element (key, d)
                good &= frags_match(fr, lambda g, t: [(2 * t, g), (2 * t + 8, g), (2 * t, g + 8), (2 * t + 8, g + 8)],
                                    lambda k, n: ((kk * 16 + k, dp * 16 + n), (kk * 16 + k + 1, dp * 16 + n)))
        check("D=%d BLOCK_N=%d V B-fragments (ldmatrix.x4.trans)" % (D, BLOCK_N), good)
        check("D=%d BLOCK_N=%d V ldmatrix conflict-free" % (D, BLOCK_N), bank == 0)
sys.exit(1 if fail else 0)
