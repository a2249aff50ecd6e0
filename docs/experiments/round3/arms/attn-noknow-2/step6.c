/*
 * step6 (step5 + work buffers carved from the caller's frame, sized by D): flash attention with a transposed score tile, AVX-512, all online cores.
 *  - work item = (bh, block of BQ = 16*CQ queries); atomic counter, heavy (causal) blocks first.
 *  - Q block packed transposed and pre-scaled by log2(e)/sqrt(D): QT[d][BQ] (the only packing;
 *    K and V are read in place, row-major).
 *  - per key block of BK keys: S^T[j][i] = K_j . Q_i with an RK x CQ register tile
 *    (broadcast K[j][d], vector over 16 queries); online softmax vectorised over queries
 *    (max, exp2, sums are lane-wise); O[i][:] = alpha_i*O[i][:] + sum_j P^T[j][i] V[j][:]
 *    with a 6-query x 64-d register tile (broadcasts from one contiguous P^T row).
 *  - all buffers on the worker's stack: no allocation, no page faults per call.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef CQ
#define CQ 3
#endif
#ifndef BK
#define BK 128
#endif
#define RK (24 / CQ)
#define BQ (16 * CQ)
#define PQ 6
#define NQT (BQ / PQ)
#define MAXTH 64

typedef struct {
    int S, D, causal, nq;
    const float *Q, *K, *V;
    float *O;
    long BH, nitems;
    float qscale;
    long next;
} ctx_t;

/* 2^x: degree-5 relative-minimax polynomial on [-0.5,0.5] (max rel. error 1.1e-7) and scalef.
 * CLAMP guards x = -inf (causally masked scores); unmasked blocks have finite x <= 0. */
static inline __m512 exp2_512(__m512 x, int clamp)
{
    if (clamp) x = _mm512_max_ps(x, _mm512_set1_ps(-125.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.321867252e-3f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.671697939e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550892952e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.4022238e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.931468559e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tmask(int k)
{
    if (k >= 16) return (__mmask16)0xFFFF;
    if (k <= 0) return 0;
    return (__mmask16)((1u << k) - 1u);
}

/* st[r][0..BQ) = sum_d K[row r][d] * qt[d][0..BQ) for RK key rows */
__attribute__((noinline)) static void qk_tile(const float *qt, const float *const *kr, int D, float *st, float *bmax)
{
    const float *k[RK];
    for (int r = 0; r < RK; r++) k[r] = kr[r];
    __m512 a[RK][CQ];
#pragma GCC unroll 8
    for (int r = 0; r < RK; r++)
#pragma GCC unroll 6
        for (int c = 0; c < CQ; c++) a[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q[CQ];
#pragma GCC unroll 6
        for (int c = 0; c < CQ; c++) q[c] = _mm512_load_ps(qt + (long)d * BQ + 16 * c);
#pragma GCC unroll 8
        for (int r = 0; r < RK; r++) {
            __m512 b = _mm512_set1_ps(k[r][d]);
#pragma GCC unroll 6
            for (int c = 0; c < CQ; c++) a[r][c] = _mm512_fmadd_ps(b, q[c], a[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RK; r++)
#pragma GCC unroll 6
        for (int c = 0; c < CQ; c++) _mm512_store_ps(st + (long)r * BQ + 16 * c, a[r][c]);
    if (bmax) {
#pragma GCC unroll 6
        for (int c = 0; c < CQ; c++) {
            __m512 m = _mm512_load_ps(bmax + 16 * c);
#pragma GCC unroll 8
            for (int r = 0; r < RK; r++) m = _mm512_max_ps(m, a[r][c]);
            _mm512_store_ps(bmax + 16 * c, m);
        }
    }
}

/* ob[r][:] = alpha_r * ob[r][:] + sum_{j<nj} pt[j][r] * v[j][:] for PQ=6 query rows */
__attribute__((noinline)) static void pv_tile(const float *pt, int nj, const float *v, int D, float *ob, int Dp,
                                              const float *alpha)
{
    __m512 al[PQ];
#pragma GCC unroll 6
    for (int r = 0; r < PQ; r++) al[r] = _mm512_set1_ps(alpha[r]);
    int dc = 0;
    for (; dc + 64 <= D; dc += 64) { /* full chunks: plain loads */
        __m512 a[PQ][4];
#pragma GCC unroll 6
        for (int r = 0; r < PQ; r++) {
            float *o = ob + (long)r * Dp + dc;
            a[r][0] = _mm512_mul_ps(al[r], _mm512_loadu_ps(o));
            a[r][1] = _mm512_mul_ps(al[r], _mm512_loadu_ps(o + 16));
            a[r][2] = _mm512_mul_ps(al[r], _mm512_loadu_ps(o + 32));
            a[r][3] = _mm512_mul_ps(al[r], _mm512_loadu_ps(o + 48));
        }
        const float *vp = v + dc;
        const float *pp = pt;
#pragma GCC unroll 2
        for (int j = 0; j < nj; j++) {
            __m512 v0 = _mm512_loadu_ps(vp), v1 = _mm512_loadu_ps(vp + 16), v2 = _mm512_loadu_ps(vp + 32),
                   v3 = _mm512_loadu_ps(vp + 48);
#pragma GCC unroll 6
            for (int r = 0; r < PQ; r++) {
                __m512 b = _mm512_set1_ps(pp[r]);
                a[r][0] = _mm512_fmadd_ps(b, v0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(b, v1, a[r][1]);
                a[r][2] = _mm512_fmadd_ps(b, v2, a[r][2]);
                a[r][3] = _mm512_fmadd_ps(b, v3, a[r][3]);
            }
            vp += D;
            pp += BQ;
        }
#pragma GCC unroll 6
        for (int r = 0; r < PQ; r++) {
            float *o = ob + (long)r * Dp + dc;
            _mm512_storeu_ps(o, a[r][0]);
            _mm512_storeu_ps(o + 16, a[r][1]);
            _mm512_storeu_ps(o + 32, a[r][2]);
            _mm512_storeu_ps(o + 48, a[r][3]);
        }
    }
    if (dc < D) { /* tail chunk: masked loads */
        int rem = D - dc;
        __mmask16 m0 = tmask(rem), m1 = tmask(rem - 16), m2 = tmask(rem - 32), m3 = tmask(rem - 48);
        __m512 a[PQ][4];
#pragma GCC unroll 6
        for (int r = 0; r < PQ; r++) {
            float *o = ob + (long)r * Dp + dc;
            a[r][0] = _mm512_mul_ps(al[r], _mm512_maskz_loadu_ps(m0, o));
            a[r][1] = _mm512_mul_ps(al[r], _mm512_maskz_loadu_ps(m1, o + 16));
            a[r][2] = _mm512_mul_ps(al[r], _mm512_maskz_loadu_ps(m2, o + 32));
            a[r][3] = _mm512_mul_ps(al[r], _mm512_maskz_loadu_ps(m3, o + 48));
        }
        const float *vp = v + dc;
        const float *pp = pt;
        for (int j = 0; j < nj; j++) {
            __m512 v0 = _mm512_maskz_loadu_ps(m0, vp), v1 = _mm512_maskz_loadu_ps(m1, vp + 16),
                   v2 = _mm512_maskz_loadu_ps(m2, vp + 32), v3 = _mm512_maskz_loadu_ps(m3, vp + 48);
#pragma GCC unroll 6
            for (int r = 0; r < PQ; r++) {
                __m512 b = _mm512_set1_ps(pp[r]);
                a[r][0] = _mm512_fmadd_ps(b, v0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(b, v1, a[r][1]);
                a[r][2] = _mm512_fmadd_ps(b, v2, a[r][2]);
                a[r][3] = _mm512_fmadd_ps(b, v3, a[r][3]);
            }
            vp += D;
            pp += BQ;
        }
#pragma GCC unroll 6
        for (int r = 0; r < PQ; r++) {
            float *o = ob + (long)r * Dp + dc;
            _mm512_mask_storeu_ps(o, m0, a[r][0]);
            _mm512_mask_storeu_ps(o + 16, m1, a[r][1]);
            _mm512_mask_storeu_ps(o + 32, m2, a[r][2]);
            _mm512_mask_storeu_ps(o + 48, m3, a[r][3]);
        }
    }
}

static void do_item(const ctx_t *c, long bh, int qb, float *QT, float *ST, float *Ob)
{
    const int S = c->S, D = c->D, causal = c->causal;
    const int Dp = (D + 15) & ~15;
    const float *q = c->Q + bh * (long)S * D;
    const float *k = c->K + bh * (long)S * D;
    const float *v = c->V + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D;
    const int i0 = qb * BQ;
    const int rows = (S - i0) < BQ ? (S - i0) : BQ;
    const int kend = causal ? (i0 + rows) : S;
    const float qs = c->qscale;

    /* pack Q^T, scaled into the log2 domain */
    {
        const __m512i vidx = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(D));
        const __m512 vqs = _mm512_set1_ps(qs);
        for (int cc = 0; cc < CQ; cc++) {
            int base = 16 * cc;
            __mmask16 mk = tmask(rows - base);
            if (!mk) {
                for (int d = 0; d < D; d++) _mm512_store_ps(QT + (long)d * BQ + base, _mm512_setzero_ps());
                continue;
            }
            const float *src = q + (long)(i0 + base) * D;
            for (int d = 0; d < D; d++) {
                __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, vidx, src + d, 4);
                _mm512_store_ps(QT + (long)d * BQ + base, _mm512_mul_ps(g, vqs));
            }
        }
    }
    memset(Ob, 0, sizeof(float) * (size_t)BQ * (size_t)Dp);
    __m512 mv[CQ], lv[CQ];
    for (int cc = 0; cc < CQ; cc++) {
        mv[cc] = _mm512_set1_ps(-INFINITY);
        lv[cc] = _mm512_setzero_ps();
    }
    float alpha[BQ] __attribute__((aligned(64)));
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);

    /* causal: unmasked blocks cover keys [0, i0), then one diagonal block [i0, kend) holds every mask */
    const int split = causal ? i0 : kend;
    for (int j0 = 0; j0 < kend;) {
        int nb;
        if (j0 < split) nb = (split - j0) < BK ? (split - j0) : BK;
        else nb = kend - j0;
        /* 1. S^T block; its lane-wise max is taken in the tile epilogue unless a causal mask touches it
         * (rows past nb in the last tile repeat key kend-1, a key of this block, so they do not change it) */
        const int masked = causal && (j0 + nb - 1 > i0);
        float bmax[BQ] __attribute__((aligned(64)));
        for (int cc = 0; cc < CQ; cc++) _mm512_store_ps(bmax + 16 * cc, _mm512_set1_ps(-INFINITY));
        for (int jt = 0; jt < nb; jt += RK) {
            const float *kr[RK];
            for (int r = 0; r < RK; r++) {
                int j = j0 + jt + r;
                if (j > kend - 1) j = kend - 1;
                kr[r] = k + (long)j * D;
            }
            qk_tile(QT, kr, D, ST + (long)jt * BQ, masked ? (float *)0 : bmax);
        }
        /* 2. causal mask: key j > query i -> -inf */
        if (masked) {
            int js = i0 + 1 > j0 ? i0 + 1 : j0;
            for (int j = js; j < j0 + nb; j++) {
                float *row = ST + (long)(j - j0) * BQ;
                __m512i vj = _mm512_set1_epi32(j);
                for (int cc = 0; cc < CQ; cc++) {
                    __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32(i0 + 16 * cc));
                    __mmask16 mk = _mm512_cmplt_epi32_mask(idx, vj);
                    _mm512_mask_storeu_ps(row + 16 * cc, mk, _mm512_set1_ps(-INFINITY));
                }
            }
        }
        /* 3. online softmax, lane-wise over queries */
        __m512 mb[CQ], mn[CQ], ls[CQ];
        for (int cc = 0; cc < CQ; cc++) mb[cc] = _mm512_load_ps(bmax + 16 * cc);
        if (masked)
            for (int j = 0; j < nb; j++)
                for (int cc = 0; cc < CQ; cc++)
                    mb[cc] = _mm512_max_ps(mb[cc], _mm512_load_ps(ST + (long)j * BQ + 16 * cc));
        for (int cc = 0; cc < CQ; cc++) {
            mn[cc] = _mm512_max_ps(mv[cc], mb[cc]);
            __m512 al = exp2_512(_mm512_sub_ps(mv[cc], mn[cc]), 1);
            _mm512_store_ps(alpha + 16 * cc, al);
            lv[cc] = _mm512_mul_ps(lv[cc], al);
            mv[cc] = mn[cc];
            ls[cc] = _mm512_setzero_ps();
        }
        if (masked) {
            for (int j = 0; j < nb; j++) {
                float *row = ST + (long)j * BQ;
                for (int cc = 0; cc < CQ; cc++) {
                    __m512 p = exp2_512(_mm512_sub_ps(_mm512_load_ps(row + 16 * cc), mn[cc]), 1);
                    _mm512_store_ps(row + 16 * cc, p);
                    ls[cc] = _mm512_add_ps(ls[cc], p);
                }
            }
        } else {
            for (int j = 0; j < nb; j++) {
                float *row = ST + (long)j * BQ;
                for (int cc = 0; cc < CQ; cc++) {
                    __m512 p = exp2_512(_mm512_sub_ps(_mm512_load_ps(row + 16 * cc), mn[cc]), 0);
                    _mm512_store_ps(row + 16 * cc, p);
                    ls[cc] = _mm512_add_ps(ls[cc], p);
                }
            }
        }
        for (int cc = 0; cc < CQ; cc++) lv[cc] = _mm512_add_ps(lv[cc], ls[cc]);
        /* 4. O = alpha*O + P V */
        for (int t = 0; t < NQT; t++) {
            int q0 = t * PQ;
            if (q0 >= rows) break;
            int nj = nb;
            if (causal) {
                int lim = i0 + q0 + PQ - j0; /* keys j < i0+q0+PQ can be visible */
                if (lim < nj) nj = lim;
                if (nj <= 0) continue; /* alpha == 1 for these queries */
            }
            pv_tile(ST + q0, nj, v + (long)j0 * D, D, Ob + (long)q0 * Dp, Dp, alpha + q0);
        }
        j0 += nb;
    }
    /* 5. normalise and write */
    float lsum[BQ] __attribute__((aligned(64)));
    for (int cc = 0; cc < CQ; cc++) _mm512_store_ps(lsum + 16 * cc, lv[cc]);
    for (int r = 0; r < rows; r++) {
        __m512 vi = _mm512_set1_ps(1.0f / lsum[r]);
        float *dst = o + (long)(i0 + r) * D;
        const float *src = Ob + (long)r * Dp;
        for (int d = 0; d < D; d += 16) {
            __mmask16 mk = tmask(D - d);
            _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, src + d), vi));
        }
    }
}

#define STROWS ((BK > BQ ? BK : BQ) + RK)
#define NBUF 2 /* threads whose buffers live in the caller's frame (its pages stay mapped between calls) */

typedef struct {
    ctx_t *c;
    float *QT, *ST, *Ob;
} warg_t;

static void run_items(ctx_t *c, float *QT, float *ST, float *Ob)
{
    for (;;) {
        long it = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
        if (it >= c->nitems) break;
        long bh = it / c->nq;
        int qb = c->nq - 1 - (int)(it % c->nq);
        do_item(c, bh, qb, QT, ST, Ob);
    }
}

static void *worker(void *arg)
{
    warg_t *w = (warg_t *)arg;
    if (w->QT) {
        run_items(w->c, w->QT, w->ST, w->Ob);
    } else {
        float QT[SPAK_ATTN_MAX_D * BQ] __attribute__((aligned(64)));
        float ST[STROWS * BQ] __attribute__((aligned(64)));
        float Ob[BQ * SPAK_ATTN_MAX_D] __attribute__((aligned(64)));
        run_items(w->c, QT, ST, Ob);
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.S = S; c.D = D; c.causal = causal;
    c.Q = Q; c.K = K; c.V = V; c.O = O;
    c.BH = (long)B * H;
    c.nq = (S + BQ - 1) / BQ;
    c.nitems = c.BH * c.nq;
    c.qscale = 1.4426950408889634f / sqrtf((float)D);
    c.next = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = ncpu < 1 ? 1 : (ncpu > MAXTH ? MAXTH : (int)ncpu);
    if (nth > c.nitems) nth = (int)c.nitems;
    /* per-thread buffers, sized by the actual D, carved from this frame */
    const int Dp = (D + 15) & ~15;
    const long qtn = (long)Dp * BQ, stn = (long)STROWS * BQ, obn = (long)BQ * Dp;
    const long per = qtn + stn + obn;
    float pool[NBUF * (SPAK_ATTN_MAX_D * BQ * 2 + STROWS * BQ)] __attribute__((aligned(64)));
    warg_t wa[MAXTH];
    for (int t = 0; t < nth; t++) {
        wa[t].c = &c;
        if (t < NBUF) {
            float *base = pool + (long)t * per;
            wa[t].QT = base;
            wa[t].ST = base + qtn;
            wa[t].Ob = base + qtn + stn;
        } else {
            wa[t].QT = wa[t].ST = wa[t].Ob = (float *)0;
        }
    }
    pthread_t th[MAXTH];
    int started = 0;
    for (int t = 1; t < nth; t++) {
        if (pthread_create(&th[started], NULL, worker, &wa[t]) != 0) break;
        started++;
    }
    worker(&wa[0]);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-st-avx512-v6", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
