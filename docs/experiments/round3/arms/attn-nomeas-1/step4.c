/*
 * Flash-style attention, "transposed" formulation, AVX-512, pthreads.
 * Per (bh, query block of BQ = 16*QV rows):
 *   Qt[d][i]  = Q[q0+i][d] * log2(e)/sqrt(D)          (packed once per block)
 *   St[j][i]  = sum_d K[j][d] * Qt[d][i]              (broadcast K, vectors over queries)
 *   online softmax over j is a vertical (element-wise) max/sum: no horizontal reductions
 *   Ot[d][i] += sum_j V[j][d] * Pt[j][i]              (broadcast V, vectors over queries)
 * Causal: key blocks past the diagonal skipped, diagonal masked.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"

#ifndef QV
#define QV 4
#endif
#ifndef BK
#define BK 64
#endif
#ifndef KT
#define KT 4
#endif
#ifndef DT
#define DT 4
#endif
#ifndef CHEAPEXP
#define CHEAPEXP 0
#endif
#ifndef SKIPDIAG
#define SKIPDIAG 1
#endif
#ifndef NTHREADS
#define NTHREADS 2
#endif
#define BQ (16 * QV)

#if CHEAPEXP
static inline __m512 exp2_ps(__m512 x)
{
    /* x <= 0. Clamp at -125 so the result stays a normal number (>= ~2^-125.5);
     * masked (-inf) scores become ~1e-38 instead of 0, which no fp32 sum can see. */
    x = _mm512_max_ps(x, _mm512_set1_ps(-125.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381608e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.2402265069591007f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931471805599453f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}
#else
static inline __m512 exp2_ps(__m512 x)
{
    const __m512 lo = _mm512_set1_ps(-100.0f);
    __mmask16 ok = _mm512_cmp_ps_mask(x, lo, _CMP_GT_OQ);
    x = _mm512_max_ps(x, lo);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381608e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.2402265069591007f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.6931471805599453f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(ok, _mm512_scalef_ps(p, n));
}
#endif

/* 16x16 fp32 transpose: dst[c][r] = src[r][c] * scale, strides in floats */
static inline void tr16(const float *src, long ss, float *dst, long ds, __m512 scale)
{
    __m512 r[16], t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * ss);
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 0]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 0]), _mm512_castps_pd(t[4 * i + 2])));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[4 * i + 1]), _mm512_castps_pd(t[4 * i + 3])));
    }
    /* r[4i+k] holds, for rows 4i..4i+3, column k of each 128-bit lane (lane L -> columns 4L+k) */
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m512 a = _mm512_shuffle_f32x4(r[0 + k], r[4 + k], 0x88);  /* lanes 0,2 of rows0-3 | lanes 0,2 of rows4-7 */
        __m512 b = _mm512_shuffle_f32x4(r[0 + k], r[4 + k], 0xdd);  /* lanes 1,3 */
        __m512 c = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88);
        __m512 e = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
        t[k + 0] = _mm512_shuffle_f32x4(a, c, 0x88);  /* lane 0 of all row groups: column k */
        t[k + 8] = _mm512_shuffle_f32x4(a, c, 0xdd);  /* lane 2: column 8+k */
        t[k + 4] = _mm512_shuffle_f32x4(b, e, 0x88);  /* lane 1: column 4+k */
        t[k + 12] = _mm512_shuffle_f32x4(b, e, 0xdd); /* lane 3: column 12+k */
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ds, _mm512_mul_ps(t[i], scale));
}

typedef struct {
    float *Qt, *St, *Ot;
} workspace;

typedef struct {
    int BH, S, D, causal, nqb;
    const float *Q, *K, *V;
    float *O;
    float qscale;
    int next;
    int fail;
} job;


#define AI static inline __attribute__((always_inline))

/* St rows [rb, re) (relative to block start k0) for query vectors voff..voff+NV-1 */
AI void qk_rows(const int NV, const int voff, const float *k, const float *Qt, float *St, int k0, int rb, int re,
                int D, int q0, int need_mask, __m512 *mb)
{
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    int j = rb;
    for (; j + KT <= re; j += KT) {
        __m512 acc[KT][4];
#pragma GCC unroll 32
        for (int t = 0; t < KT; t++)
#pragma GCC unroll 8
            for (int vv = 0; vv < NV; vv++) acc[t][vv] = _mm512_setzero_ps();
        const float *kr = k + (long)(k0 + j) * D;
        for (int d = 0; d < D; d++) {
            __m512 qv[4];
#pragma GCC unroll 8
            for (int vv = 0; vv < NV; vv++) qv[vv] = _mm512_load_ps(Qt + d * BQ + 16 * (voff + vv));
#pragma GCC unroll 32
            for (int t = 0; t < KT; t++) {
                __m512 b = _mm512_set1_ps(kr[t * D + d]);
#pragma GCC unroll 8
                for (int vv = 0; vv < NV; vv++) acc[t][vv] = _mm512_fmadd_ps(b, qv[vv], acc[t][vv]);
            }
        }
#pragma GCC unroll 32
        for (int t = 0; t < KT; t++) {
            const int jabs = k0 + j + t;
#pragma GCC unroll 8
            for (int vv = 0; vv < voff; vv++) _mm512_store_ps(St + (j + t) * BQ + 16 * vv, ninf);
#pragma GCC unroll 8
            for (int vv = 0; vv < NV; vv++) {
                __m512 s = acc[t][vv];
                if (need_mask) {
                    __mmask16 hide = _mm512_cmp_epi32_mask(
                        _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * (voff + vv))), _mm512_set1_epi32(jabs),
                        _MM_CMPINT_LT);
                    s = _mm512_mask_mov_ps(s, hide, ninf);
                }
                _mm512_store_ps(St + (j + t) * BQ + 16 * (voff + vv), s);
                mb[voff + vv] = _mm512_max_ps(mb[voff + vv], s);
            }
        }
    }
    for (; j < re; j++) {
        __m512 acc[4];
#pragma GCC unroll 8
        for (int vv = 0; vv < NV; vv++) acc[vv] = _mm512_setzero_ps();
        const float *kr = k + (long)(k0 + j) * D;
        for (int d = 0; d < D; d++) {
            __m512 b = _mm512_set1_ps(kr[d]);
#pragma GCC unroll 8
            for (int vv = 0; vv < NV; vv++)
                acc[vv] = _mm512_fmadd_ps(b, _mm512_load_ps(Qt + d * BQ + 16 * (voff + vv)), acc[vv]);
        }
        const int jabs = k0 + j;
#pragma GCC unroll 8
        for (int vv = 0; vv < voff; vv++) _mm512_store_ps(St + j * BQ + 16 * vv, ninf);
#pragma GCC unroll 8
        for (int vv = 0; vv < NV; vv++) {
            __m512 s = acc[vv];
            if (need_mask) {
                __mmask16 hide = _mm512_cmp_epi32_mask(
                    _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * (voff + vv))), _mm512_set1_epi32(jabs),
                    _MM_CMPINT_LT);
                s = _mm512_mask_mov_ps(s, hide, ninf);
            }
            _mm512_store_ps(St + j * BQ + 16 * (voff + vv), s);
            mb[voff + vv] = _mm512_max_ps(mb[voff + vv], s);
        }
    }
}

/* Ot[:, vectors voff..] (+)= V[rows rb..re)^T P[rows, vectors]; scaled by alpha first when use_alpha */
#define PV_TILE(TR)                                                                                           \
    {                                                                                                         \
        __m512 acc[TR][4];                                                                                    \
        _Pragma("GCC unroll 32") for (int t = 0; t < TR; t++) _Pragma("GCC unroll 8") for (int vv = 0; vv < NV; \
                                                                                             vv++)          \
        {                                                                                                     \
            __m512 o_ = _mm512_load_ps(Ot + (d + t) * BQ + 16 * (voff + vv));                                 \
            acc[t][vv] = use_alpha ? _mm512_mul_ps(o_, alpha[voff + vv]) : o_;                                \
        }                                                                                                     \
        const float *vr = v + (long)k0 * D + d;                                                               \
        for (int jj = rb; jj < re; jj++) {                                                                    \
            __m512 pv[4];                                                                                     \
            _Pragma("GCC unroll 8") for (int vv = 0; vv < NV; vv++) pv[vv] =                                  \
                _mm512_load_ps(St + jj * BQ + 16 * (voff + vv));                                              \
            _Pragma("GCC unroll 32") for (int t = 0; t < TR; t++)                                             \
            {                                                                                                 \
                __m512 b = _mm512_set1_ps(vr[(long)jj * D + t]);                                              \
                _Pragma("GCC unroll 8") for (int vv = 0; vv < NV; vv++) acc[t][vv] =                          \
                    _mm512_fmadd_ps(b, pv[vv], acc[t][vv]);                                                   \
            }                                                                                                 \
        }                                                                                                     \
        _Pragma("GCC unroll 32") for (int t = 0; t < TR; t++) _Pragma("GCC unroll 8") for (int vv = 0; vv < NV; \
                                                                                             vv++)          \
            _mm512_store_ps(Ot + (d + t) * BQ + 16 * (voff + vv), acc[t][vv]);                               \
    }

AI void pv_rows(const int NV, const int voff, const float *v, const float *St, float *Ot, int k0, int rb, int re,
                int D, int use_alpha, const __m512 *alpha)
{
    int d = 0;
    for (; d + DT <= D; d += DT) PV_TILE(DT)
    if (DT != 4)
        for (; d + 4 <= D; d += 4) PV_TILE(4)
    for (; d < D; d++) PV_TILE(1)
}

static void qk_seg(int NV, const float *k, const float *Qt, float *St, int k0, int rb, int re, int D, int q0,
                   int need_mask, __m512 *mb)
{
    switch (NV) {
#if QV >= 4
    case 4: qk_rows(4, QV - 4, k, Qt, St, k0, rb, re, D, q0, need_mask, mb); break;
#endif
#if QV >= 3
    case 3: qk_rows(3, QV - 3, k, Qt, St, k0, rb, re, D, q0, need_mask, mb); break;
#endif
#if QV >= 2
    case 2: qk_rows(2, QV - 2, k, Qt, St, k0, rb, re, D, q0, need_mask, mb); break;
#endif
    default: qk_rows(1, QV - 1, k, Qt, St, k0, rb, re, D, q0, need_mask, mb); break;
    }
}

static void pv_seg(int NV, const float *v, const float *St, float *Ot, int k0, int rb, int re, int D,
                   int use_alpha, const __m512 *alpha)
{
    switch (NV) {
#if QV >= 4
    case 4: pv_rows(4, QV - 4, v, St, Ot, k0, rb, re, D, use_alpha, alpha); break;
#endif
#if QV >= 3
    case 3: pv_rows(3, QV - 3, v, St, Ot, k0, rb, re, D, use_alpha, alpha); break;
#endif
#if QV >= 2
    case 2: pv_rows(2, QV - 2, v, St, Ot, k0, rb, re, D, use_alpha, alpha); break;
#endif
    default: pv_rows(1, QV - 1, v, St, Ot, k0, rb, re, D, use_alpha, alpha); break;
    }
}

/* first query vector that is not fully hidden for key jabs (causal) */
static inline int first_vec(int jabs, int q0) { return jabs <= q0 ? 0 : (jabs - q0) / 16; }

static void do_block(const job *jb, workspace *w, long bh, int q0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float *q = jb->Q + bh * S * D, *k = jb->K + bh * S * D, *v = jb->V + bh * S * D;
    float *o = jb->O + bh * S * D;
    float *Qt = w->Qt, *St = w->St, *Ot = w->Ot;
    const int nq = S - q0 < BQ ? S - q0 : BQ;
    const float qs = jb->qscale;

    if (nq == BQ && (D & 15) == 0) {
        const __m512 vqs = _mm512_set1_ps(qs);
        for (int i0 = 0; i0 < BQ; i0 += 16)
            for (int d0 = 0; d0 < D; d0 += 16)
                tr16(q + (long)(q0 + i0) * D + d0, D, Qt + d0 * BQ + i0, BQ, vqs);
    } else {
        for (int i = 0; i < BQ; i++) {
            if (i < nq) {
                const float *qr = q + (long)(q0 + i) * D;
                for (int d = 0; d < D; d++) Qt[d * BQ + i] = qr[d] * qs;
            } else {
                for (int d = 0; d < D; d++) Qt[d * BQ + i] = 0.0f;
            }
        }
    }
    memset(Ot, 0, sizeof(float) * (size_t)D * BQ);

    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m[QV], l[QV];
    for (int vv = 0; vv < QV; vv++) {
        m[vv] = ninf;
        l[vv] = _mm512_setzero_ps();
    }
    const int kend = causal ? q0 + nq : S;
    for (int k0 = 0; k0 < kend; k0 += BK) {
        const int nk = kend - k0 < BK ? kend - k0 : BK;
        const int need_mask = causal && (k0 + nk - 1 > q0);
        __m512 mb[QV];
        for (int vv = 0; vv < QV; vv++) mb[vv] = ninf;

        /* ---- scores, in segments of rows sharing the same first live query vector ---- */
        int rb = 0;
        while (rb < nk) {
            int u = (causal && SKIPDIAG) ? first_vec(k0 + rb, q0) : 0;
            int re = nk;
            if (causal && SKIPDIAG && u < QV - 1) {
                int lim = q0 + 16 * (u + 1) - k0; /* rows with jabs < q0+16(u+1) keep first vector u */
                if (u == 0) lim = q0 + 16 - k0;
                if (lim < re) re = lim;
            }
            qk_seg(QV - u, k, Qt, St, k0, rb, re, D, q0, need_mask, mb);
            rb = re;
        }

        /* ---- online softmax (vertical) ---- */
        __m512 alpha[QV], ls[QV];
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) {
            __m512 mn = _mm512_max_ps(m[vv], mb[vv]);
            alpha[vv] = exp2_ps(_mm512_sub_ps(m[vv], mn));
            m[vv] = mn;
            ls[vv] = _mm512_setzero_ps();
        }
        for (int jj = 0; jj < nk; jj++) {
#pragma GCC unroll 8
            for (int vv = 0; vv < QV; vv++) {
                __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(St + jj * BQ + 16 * vv), m[vv]));
                _mm512_store_ps(St + jj * BQ + 16 * vv, p);
                ls[vv] = _mm512_add_ps(ls[vv], p);
            }
        }
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) l[vv] = _mm512_fmadd_ps(l[vv], alpha[vv], ls[vv]);

        /* ---- Ot = Ot*alpha + V^T P, same segments; vectors before the first segment's first live
         * vector saw no live key in this block, so their alpha is exactly 1 ---- */
        rb = 0;
        int first = 1;
        while (rb < nk) {
            int u = (causal && SKIPDIAG) ? first_vec(k0 + rb, q0) : 0;
            int re = nk;
            if (causal && SKIPDIAG && u < QV - 1) {
                int lim = q0 + 16 * (u + 1) - k0;
                if (u == 0) lim = q0 + 16 - k0;
                if (lim < re) re = lim;
            }
            pv_seg(QV - u, v, St, Ot, k0, rb, re, D, first, alpha);
            first = 0;
            rb = re;
        }
    }

    /* ---- normalize and write O (transpose back) ---- */
    __m512 inv[QV];
#pragma GCC unroll 8
    for (int vv = 0; vv < QV; vv++) inv[vv] = _mm512_div_ps(_mm512_set1_ps(1.0f), l[vv]);
    for (int d = 0; d < D; d++)
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++)
            _mm512_store_ps(Ot + d * BQ + 16 * vv, _mm512_mul_ps(_mm512_load_ps(Ot + d * BQ + 16 * vv), inv[vv]));
    if (nq == BQ && (D & 15) == 0) {
        const __m512 one = _mm512_set1_ps(1.0f);
        for (int d0 = 0; d0 < D; d0 += 16)
            for (int i0 = 0; i0 < BQ; i0 += 16) tr16(Ot + d0 * BQ + i0, BQ, o + (long)(q0 + i0) * D + d0, D, one);
    } else {
        for (int i = 0; i < nq; i++) {
            float *orow = o + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) orow[d] = Ot[d * BQ + i];
        }
    }
}

static void *worker(void *arg)
{
    job *jb = (job *)arg;
    workspace w;
    size_t dq = (size_t)jb->D * BQ;
    w.Qt = aligned_alloc(64, sizeof(float) * dq);
    w.Ot = aligned_alloc(64, sizeof(float) * dq);
    w.St = aligned_alloc(64, sizeof(float) * (size_t)BK * BQ);
    if (!w.Qt || !w.Ot || !w.St) {
        __atomic_store_n(&jb->fail, 1, __ATOMIC_RELAXED);
        free(w.Qt);
        free(w.Ot);
        free(w.St);
        return NULL;
    }
    const long ntask = (long)jb->BH * jb->nqb;
    for (;;) {
        long t = __atomic_fetch_add(&jb->next, 1, __ATOMIC_RELAXED);
        if (t >= ntask) break;
        /* largest (latest, for causal) query blocks first */
        int qb = jb->nqb - 1 - (int)(t / jb->BH);
        long bh = t % jb->BH;
        do_block(jb, &w, bh, qb * BQ);
    }
    free(w.Qt);
    free(w.Ot);
    free(w.St);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job jb;
    jb.BH = B * H;
    jb.S = S;
    jb.D = D;
    jb.causal = causal;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.qscale = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    jb.next = 0;
    jb.fail = 0;
    long ntask = (long)jb.BH * jb.nqb;
    int nth = NTHREADS;
    if (ntask < nth) nth = (int)ntask;
    pthread_t th[NTHREADS];
    int started = 0;
    for (int t = 1; t < nth; t++) {
        if (pthread_create(&th[t], NULL, worker, &jb) == 0) started |= 1 << t;
    }
    worker(&jb);
    for (int t = 1; t < nth; t++)
        if (started & (1 << t)) pthread_join(th[t], NULL);
    if (jb.fail) {
        /* a worker could not allocate: finish remaining tasks is impossible to know; redo serially */
        jb.next = 0;
        jb.fail = 0;
        worker(&jb);
        if (jb.fail) return 2;
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-transposed-avx512-v4", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
