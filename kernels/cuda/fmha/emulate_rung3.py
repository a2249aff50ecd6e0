#!/usr/bin/env python3
"""emulate_rung3.py - runs rung3_mma.cu's algorithm for one (batch, head) on
the CPU, thread by thread, with the register bookkeeping of the kernel
(the fragment layouts check_fragments.py verifies): tile loop with the
causal bound, per-element mask, online softmax in base 2 with the scale
folded into the exponent, quad shuffles, per-thread partial sums, P rounded
to fp16 and re-packed as A fragments, the epilogue and the LSE. Compares O and
the LSE with a direct softmax(Q K^T * scale) V. Pure Python (no numpy): small
shapes only. Exit 1 on a mismatch.

    python3 emulate_rung3.py            # a fixed set of small cases
"""
import math, random, struct, sys

def f16(x):
    return struct.unpack('e', struct.pack('e', x))[0]

def exp2(x):
    return 0.0 if x == -math.inf else 2.0 ** x

def run(S, D, causal, WARPS, BLOCK_N, seed):
    rnd = random.Random(seed)
    Q = [[f16(rnd.gauss(0, 2)) for _ in range(D)] for _ in range(S)]
    K = [[f16(rnd.gauss(0, 1)) for _ in range(D)] for _ in range(S)]
    V = [[f16(rnd.gauss(0, 1)) for _ in range(D)] for _ in range(S)]
    scale = 1 / math.sqrt(D)
    BLOCK_M = 16 * WARPS
    NT, DT = BLOCK_N // 8, D // 8
    c = scale * 1.4426950408889634
    O = [[None] * D for _ in range(S)]
    L = [None] * S
    nblk = (S + BLOCK_M - 1) // BLOCK_M
    for mblk in range(nblk):
        q0 = mblk * BLOCK_M
        kend = min(S, q0 + BLOCK_M) if causal else S
        ntiles = (kend + BLOCK_N - 1) // BLOCK_N
        for warp in range(WARPS):
            # per-thread state, lane = 4*g + t4
            st = []
            for lane in range(32):
                g, t4 = lane >> 2, lane & 3
                st.append(dict(g=g, t4=t4, row0=q0 + warp * 16 + g, row1=q0 + warp * 16 + g + 8,
                               m0=-math.inf, m1=-math.inf, l0=0.0, l1=0.0,
                               o=[[0.0] * 4 for _ in range(DT)]))
            qrow = lambda r: Q[r] if r < S else [0.0] * D      # zero-filled rows past S
            krow = lambda j: K[j] if j < S else [0.0] * D
            vrow = lambda j: V[j] if j < S else [0.0] * D
            for it in range(ntiles):
                k0 = it * BLOCK_N
                # S = Q K^T: accumulator element (n, e) of a thread
                for s in st:
                    s['s'] = [[0.0] * 4 for _ in range(NT)]
                    for n in range(NT):
                        for e in range(4):
                            i = s['row0'] if e < 2 else s['row1']
                            j = k0 + n * 8 + 2 * s['t4'] + (e & 1)
                            s['s'][n][e] = sum(a * b for a, b in zip(qrow(i), krow(j)))
                if k0 + BLOCK_N > S or (causal and k0 + BLOCK_N - 1 > q0):
                    for s in st:
                        for n in range(NT):
                            for e in range(4):
                                j = k0 + n * 8 + 2 * s['t4'] + (e & 1)
                                i = s['row0'] if e < 2 else s['row1']
                                if j >= S or (causal and j > i):
                                    s['s'][n][e] = -math.inf
                mx = []
                for s in st:
                    a, b = s['m0'], s['m1']
                    for n in range(NT):
                        a = max(a, s['s'][n][0], s['s'][n][1])
                        b = max(b, s['s'][n][2], s['s'][n][3])
                    mx.append([a, b])
                for off in (1, 2):                             # __shfl_xor_sync over the quad
                    mx = [[max(mx[l][0], mx[l ^ off][0]), max(mx[l][1], mx[l ^ off][1])] for l in range(32)]
                for lane, s in enumerate(st):
                    mx0, mx1 = mx[lane]
                    mc0 = 0.0 if mx0 == -math.inf else mx0 * c
                    mc1 = 0.0 if mx1 == -math.inf else mx1 * c
                    corr0 = exp2(s['m0'] * c - mc0) if s['m0'] != -math.inf else 0.0
                    corr1 = exp2(s['m1'] * c - mc1) if s['m1'] != -math.inf else 0.0
                    s['m0'], s['m1'] = mx0, mx1
                    s['l0'] *= corr0
                    s['l1'] *= corr1
                    for n in range(DT):
                        s['o'][n][0] *= corr0; s['o'][n][1] *= corr0
                        s['o'][n][2] *= corr1; s['o'][n][3] *= corr1
                    for n in range(NT):
                        for e in range(4):
                            x = s['s'][n][e]
                            s['s'][n][e] = exp2(x * c - (mc0 if e < 2 else mc1)) if x != -math.inf else 0.0
                        s['l0'] += s['s'][n][0] + s['s'][n][1]
                        s['l1'] += s['s'][n][2] + s['s'][n][3]
                # O += P V through the A-fragment re-pack: rebuild P (16 x BLOCK_N) from the registers
                P = [[0.0] * BLOCK_N for _ in range(16)]
                for s in st:
                    for kk in range(BLOCK_N // 16):
                        regs = [(s['s'][2 * kk][0], s['s'][2 * kk][1]), (s['s'][2 * kk][2], s['s'][2 * kk][3]),
                                (s['s'][2 * kk + 1][0], s['s'][2 * kk + 1][1]), (s['s'][2 * kk + 1][2], s['s'][2 * kk + 1][3])]
                        # A layout: a0 (g, 2t) a1 (g+8, 2t) a2 (g, 2t+8) a3 (g+8, 2t+8)
                        pos = [(s['g'], 2 * s['t4']), (s['g'] + 8, 2 * s['t4']), (s['g'], 2 * s['t4'] + 8), (s['g'] + 8, 2 * s['t4'] + 8)]
                        for (r, col), (lo, hi) in zip(pos, regs):
                            P[r][kk * 16 + col] = f16(lo)
                            P[r][kk * 16 + col + 1] = f16(hi)
                for s in st:
                    for n in range(DT):
                        for e in range(4):
                            r = s['g'] + (8 if e >= 2 else 0)
                            d = n * 8 + 2 * s['t4'] + (e & 1)
                            s['o'][n][e] += sum(P[r][jj] * vrow(k0 + jj)[d] for jj in range(BLOCK_N))
            l = [[s['l0'], s['l1']] for s in st]
            for off in (1, 2):
                l = [[l[x][0] + l[x ^ off][0], l[x][1] + l[x ^ off][1]] for x in range(32)]
            for lane, s in enumerate(st):
                inv0 = 1 / l[lane][0] if l[lane][0] > 0 else 0.0
                inv1 = 1 / l[lane][1] if l[lane][1] > 0 else 0.0
                for n in range(DT):
                    d = n * 8 + 2 * s['t4']
                    if s['row0'] < S:
                        O[s['row0']][d] = f16(s['o'][n][0] * inv0); O[s['row0']][d + 1] = f16(s['o'][n][1] * inv0)
                    if s['row1'] < S:
                        O[s['row1']][d] = f16(s['o'][n][2] * inv1); O[s['row1']][d + 1] = f16(s['o'][n][3] * inv1)
                if s['t4'] == 0:
                    if s['row0'] < S:
                        L[s['row0']] = s['m0'] * scale + math.log(l[lane][0])
                    if s['row1'] < S:
                        L[s['row1']] = s['m1'] * scale + math.log(l[lane][1])
    # reference
    num = den = 0.0
    lerr = 0.0
    for i in range(S):
        js = [j for j in range(S) if not (causal and j > i)]
        sc = [scale * sum(a * b for a, b in zip(Q[i], K[j])) for j in js]
        m = max(sc)
        w = [math.exp(x - m) for x in sc]
        tot = sum(w)
        for d in range(D):
            ref = sum(w[k] * V[j][d] for k, j in enumerate(js)) / tot
            if O[i][d] is None:
                return float('nan'), float('nan')
            num += (O[i][d] - ref) ** 2
            den += ref * ref
        lerr = max(lerr, abs(L[i] - (m + math.log(tot))))
    return math.sqrt(num / den), lerr

cases = [  # S, D, causal, WARPS, BLOCK_N
    (40, 64, False, 1, 16), (40, 64, True, 1, 16), (37, 64, True, 2, 32), (70, 64, True, 1, 32),
    (33, 128, False, 2, 16), (50, 128, True, 1, 64)]
bad = 0
for n, (S, D, causal, W, BN) in enumerate(cases):
    err, lerr = run(S, D, causal, W, BN, 1000 + n)
    ok = err < 2e-3 and lerr < 1e-3
    bad += not ok
    print("%s - S=%d D=%d causal=%d WARPS=%d BLOCK_N=%d: rel_err %.2e, lse_err %.1e"
          % ("ok" if ok else "FAIL", S, D, causal, W, BN, err, lerr))
sys.exit(1 if bad else 0)
