/*
 * step5: hybrid attention, 2 threads.
 *  - work items (head, block of BLK query rows), head-major, heaviest block
 *    first inside a head, taken dynamically; each thread packs the head it is
 *    working on into its own buffers (repacked when the head changes).
 *  - AVX-512 engine (from step1/2): K packed tile-major (64-key x D tiles),
 *    6x64 register-tiled QK^T and PV, exact softmax with exp2 (deg-6 minimax),
 *    causal diagonal tiles trimmed to 16-key granularity.
 *  - AMX engine (from step3/4; D%32==0): 3-way bf16 split, 6 cross products,
 *    TDPBF16PS, fp32 softmax on AVX-512.
 *  - HYB=1: thread 1 runs the AMX engine (its TMUL is idle otherwise), thread 0
 *    the AVX-512 engine (FMA ports). HYB=0: both AVX-512.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BLK
#define BLK 64
#endif
#ifndef HYB
#define HYB 1
#endif
#ifndef NT
#define NT 0
#endif
#define RQ 6
#define KB 64
#define AI static inline __attribute__((always_inline))

typedef struct {
    int B, H, S, D, causal, Sp, Dp, nblk, amx;
    long items;
    const float *Q, *K, *V;
    float *O;
    float c;
    long next;
} ctx_t;

AI __m512 exp2_ps(__m512 x)
{
    /* x <= 0; very negative x gives n very negative and scalef returns 0 */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5345812004000534e-04f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3399931219124377e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618488957102513e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5503287769656406e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022646890634405e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472057372673e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000000005541665f));
    return _mm512_scalef_ps(p, n);
}

/* S[r][0..16*NV) = sum_d q[r][d] * kt[d][0..16*NV) for r < R (kt rows of KB floats) */
AI void qk_tile(const int R, const int NV, const float *q, int D, const float *kt, float *s, int lds)
{
    __m512 acc[RQ][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kr = kt + (size_t)d * KB;
        __m512 kk[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) kk[v] = _mm512_loadu_ps(kr + 16 * v);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m512 qb = _mm512_set1_ps(q[(size_t)r * D + d]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(qb, kk[v], acc[r][v]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(s + (size_t)r * lds + 16 * v, acc[r][v]);
}

AI void pv_tile(const int R, const int NV, const float *p, int ldp, const float *v, int ldv, int n, float *o,
                int ldo, const float *invl, int rem)
{
    __m512 acc[RQ][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) acc[r][x] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) vv[x] = _mm512_loadu_ps(vr + 16 * x);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m512 pb = _mm512_set1_ps(p[(size_t)r * ldp + j]);
#pragma GCC unroll 4
            for (int x = 0; x < NV; x++) acc[r][x] = _mm512_fmadd_ps(pb, vv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        __m512 sc = _mm512_set1_ps(invl[r]);
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) {
            __m512 val = _mm512_mul_ps(acc[r][x], sc);
            int left = rem - 16 * x;
            float *dst = o + (size_t)r * ldo + 16 * x;
            if (left >= 16)
                _mm512_storeu_ps(dst, val);
            else if (left > 0)
                _mm512_mask_storeu_ps(dst, (__mmask16)((1u << left) - 1u), val);
        }
    }
}

#define QKR(R)                                                  \
    switch (nv) {                                               \
    case 4: qk_tile(R, 4, q, D, kt, s, lds); break;             \
    case 3: qk_tile(R, 3, q, D, kt, s, lds); break;             \
    case 2: qk_tile(R, 2, q, D, kt, s, lds); break;             \
    default: qk_tile(R, 1, q, D, kt, s, lds); break;            \
    }

static void qk_dispatch(int rr, int nv, const float *q, int D, const float *kt, float *s, int lds)
{
    switch (rr) {
    case 6: QKR(6); break;
    case 5: QKR(5); break;
    case 4: QKR(4); break;
    case 3: QKR(3); break;
    case 2: QKR(2); break;
    default: QKR(1); break;
    }
}

#define PVR(R)                                                                                  \
    switch (nv) {                                                                               \
    case 4: pv_tile(R, 4, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    case 3: pv_tile(R, 3, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    case 2: pv_tile(R, 2, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    default: pv_tile(R, 1, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                        \
    }

static void pv_dispatch(int rr, int nv, const float *p, int ldp, const float *v, int ldv, int n, float *o, int ldo,
                        const float *invl, int rem)
{
    switch (rr) {
    case 6: PVR(6); break;
    case 5: PVR(5); break;
    case 4: PVR(4); break;
    case 3: PVR(3); break;
    case 2: PVR(2); break;
    default: PVR(1); break;
    }
}

/* AVX engine: pack one head's K tile-major (kt[jt][d][KB]) and, if D%16, V padded */
static void avx_pack_head(const ctx_t *c, long bh, float *kt, float *vp)
{
    const int S = c->S, D = c->D, Sp = c->Sp;
    const float *k = c->K + (size_t)bh * S * D;
    for (int j0 = 0; j0 < Sp; j0 += KB) {
        float *tile = kt + (size_t)j0 * D;
        int je = j0 + KB < S ? j0 + KB : S;
        for (int j = j0; j < je; j++) {
            const float *kr = k + (size_t)j * D;
            for (int d = 0; d < D; d++) tile[(size_t)d * KB + (j - j0)] = kr[d];
        }
        for (int d = 0; d < D; d++)
            for (int j = je > j0 ? je : j0; j < j0 + KB; j++) tile[(size_t)d * KB + (j - j0)] = 0.0f;
    }
    if (vp) {
        const float *v = c->V + (size_t)bh * S * D;
        for (int j = 0; j < S; j++) {
            memcpy(vp + (size_t)j * c->Dp, v + (size_t)j * D, sizeof(float) * D);
            for (int d = D; d < c->Dp; d++) vp[(size_t)j * c->Dp + d] = 0.0f;
        }
    }
}

static void avx_block(const ctx_t *c, long bh, int qb, const float *kt, const float *vp, float *sbuf, float *invl)
{
    const int S = c->S, D = c->D, Sp = c->Sp, causal = c->causal;
    const int LDS = Sp + 16;
    const int i0 = qb * BLK, i1 = i0 + BLK < S ? i0 + BLK : S, nr = i1 - i0;
    int W = Sp;
    if (causal) {
        W = (i1 + KB - 1) / KB * KB;
        if (W > Sp) W = Sp;
    }
    const float *q = c->Q + (size_t)bh * S * D + (size_t)i0 * D;
    const float *v = vp ? vp : c->V + (size_t)bh * S * D;
    const int ldv = vp ? c->Dp : D;
    float *o = c->O + (size_t)bh * S * D + (size_t)i0 * D;

    for (int j0 = 0; j0 < W; j0 += KB)
        for (int r = 0; r < nr; r += RQ) {
            int rr = nr - r < RQ ? nr - r : RQ;
            int nv = 4;
            if (causal) {
                int last = i0 + r + rr - 1; /* last row of the group: needs keys <= last */
                if (j0 > last) continue;
                int need = last - j0 + 1;
                nv = (need + 15) / 16;
                if (nv > 4) nv = 4;
            }
            qk_dispatch(rr, nv, q + (size_t)r * D, D, kt + (size_t)j0 * D, sbuf + (size_t)r * LDS + j0, LDS);
        }

    const __m512 vc = _mm512_set1_ps(c->c);
    for (int r = 0; r < nr; r++) {
        int i = i0 + r;
        int n = causal ? i + 1 : S;
        int rg = r / RQ * RQ;
        int rgn = nr - rg < RQ ? nr - rg : RQ;
        int ext = causal ? i0 + rg + rgn : S; /* keys the PV of this row group reads */
        if (ext > S) ext = S;
        float *s = sbuf + (size_t)r * LDS;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        int j0 = 0;
        for (; j0 + 16 <= n; j0 += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j0));
        if (j0 < n) {
            __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
            vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, s + j0));
        }
        float mx = _mm512_reduce_max_ps(vmax);
        __m512 negm = _mm512_set1_ps(-mx * c->c);
        __m512 vsum = _mm512_setzero_ps();
        for (j0 = 0; j0 + 16 <= n; j0 += 16) {
            __m512 e = exp2_ps(_mm512_fmadd_ps(_mm512_loadu_ps(s + j0), vc, negm));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_storeu_ps(s + j0, e);
        }
        if (j0 < n) {
            __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
            __m512 e = _mm512_maskz_mov_ps(m, exp2_ps(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, s + j0), vc, negm)));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_storeu_ps(s + j0, e);
            j0 += 16;
        }
        for (; j0 < ext; j0 += 16) _mm512_storeu_ps(s + j0, _mm512_setzero_ps());
        invl[r] = 1.0f / _mm512_reduce_add_ps(vsum);
    }

    const int Dp = (D + 15) / 16 * 16;
    for (int rg = 0; rg < nr; rg += RQ) {
        int rr = nr - rg < RQ ? nr - rg : RQ;
        int jmax = causal ? (i0 + rg + rr < S ? i0 + rg + rr : S) : S;
        for (int c0 = 0; c0 < Dp; c0 += 64) {
            int nv = (Dp - c0) / 16;
            if (nv > 4) nv = 4;
            pv_dispatch(rr, nv, sbuf + (size_t)rg * LDS, LDS, v + c0, ldv, jmax, o + (size_t)rg * D + c0, D,
                        invl + rg, D - c0);
        }
    }
}
