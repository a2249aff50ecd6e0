/*
 * step1: AVX-512 attention, two threads.
 * Per work item (head, block of BQ=48 queries):
 *   1. pack Q^T block (scaled by log2(e)/sqrt(D)), zero padded
 *   2. S^T[j][i] = K_j . Q_i  (8 keys x 48 queries register tile, K broadcast)
 *   3. causal mask + column max, exp2, sums (vectorized over queries: no
 *      horizontal reductions)
 *   4. O = P V (6 rows x 64 d register tile), keys chunked by KC so V chunk
 *      stays in L1, then scaled by 1/l.
 * Causal: only keys j < q0+BQ are touched; PV row tiles stop at their diagonal.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef KC
#define KC 256
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif

#define BQ 48
#define MRO 6

typedef struct {
    int S, D, causal, BH, nqb;
    const float *Q, *K, *V;
    float *O;
    float qscale;
    long nitems;
    long next;
    int err;
} job_t;

static inline __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 8 keys x 48 queries: ST[(j+r)*BQ + c] = sum_d K[j+r][d] * QT[d][c] */
static inline void scores_tile(const float *k0, const float *k1, const float *k2, const float *k3,
                               const float *k4, const float *k5, const float *k6, const float *k7,
                               int D, const float *QT, float *st, int cnt)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00;
    __m512 a10 = a00, a11 = a00, a12 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00;
    __m512 a30 = a00, a31 = a00, a32 = a00;
    __m512 a40 = a00, a41 = a00, a42 = a00;
    __m512 a50 = a00, a51 = a00, a52 = a00;
    __m512 a60 = a00, a61 = a00, a62 = a00;
    __m512 a70 = a00, a71 = a00, a72 = a00;
    for (int d = 0; d < D; d++) {
        const float *qt = QT + (long)d * BQ;
        __m512 q0 = _mm512_load_ps(qt), q1 = _mm512_load_ps(qt + 16), q2 = _mm512_load_ps(qt + 32);
        __m512 b;
#define FM(r)                                                                                  \
    b = _mm512_set1_ps(k##r[d]);                                                               \
    a##r##0 = _mm512_fmadd_ps(b, q0, a##r##0);                                                 \
    a##r##1 = _mm512_fmadd_ps(b, q1, a##r##1);                                                 \
    a##r##2 = _mm512_fmadd_ps(b, q2, a##r##2);
        FM(0) FM(1) FM(2) FM(3) FM(4) FM(5) FM(6) FM(7)
#undef FM
    }
#define ST(r)                                                                                  \
    if (r < cnt) {                                                                             \
        _mm512_store_ps(st + r * BQ, a##r##0);                                                 \
        _mm512_store_ps(st + r * BQ + 16, a##r##1);                                            \
        _mm512_store_ps(st + r * BQ + 32, a##r##2);                                            \
    }
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
#undef ST
}

/* 6 rows x up to 64 d: Ob[r][v] += sum_jj P[jj][r] * V[jj][v] */
static inline void pv_tile(const float *P, const float *V, long D, int jcount, float *Ob, int DP,
                           __mmask16 m0, __mmask16 m1, __mmask16 m2, __mmask16 m3)
{
#define LD(r)                                                                                  \
    __m512 c##r##0 = _mm512_load_ps(Ob + r * DP), c##r##1 = _mm512_load_ps(Ob + r * DP + 16), \
           c##r##2 = _mm512_load_ps(Ob + r * DP + 32), c##r##3 = _mm512_load_ps(Ob + r * DP + 48);
    LD(0) LD(1) LD(2) LD(3) LD(4) LD(5)
#undef LD
    for (int jj = 0; jj < jcount; jj++) {
        const float *v = V + jj * D;
        const float *p = P + (long)jj * BQ;
        __m512 v0 = _mm512_maskz_loadu_ps(m0, v), v1 = _mm512_maskz_loadu_ps(m1, v + 16);
        __m512 v2 = _mm512_maskz_loadu_ps(m2, v + 32), v3 = _mm512_maskz_loadu_ps(m3, v + 48);
        __m512 b;
#define FM(r)                                                                                  \
    b = _mm512_set1_ps(p[r]);                                                                  \
    c##r##0 = _mm512_fmadd_ps(b, v0, c##r##0);                                                 \
    c##r##1 = _mm512_fmadd_ps(b, v1, c##r##1);                                                 \
    c##r##2 = _mm512_fmadd_ps(b, v2, c##r##2);                                                 \
    c##r##3 = _mm512_fmadd_ps(b, v3, c##r##3);
        FM(0) FM(1) FM(2) FM(3) FM(4) FM(5)
#undef FM
    }
#define SV(r)                                                                                  \
    _mm512_store_ps(Ob + r * DP, c##r##0);                                                     \
    _mm512_store_ps(Ob + r * DP + 16, c##r##1);                                                \
    _mm512_store_ps(Ob + r * DP + 32, c##r##2);                                                \
    _mm512_store_ps(Ob + r * DP + 48, c##r##3);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5)
#undef SV
}

static inline __mmask16 dmask(int rem)
{
    if (rem >= 16) return (__mmask16)0xFFFF;
    if (rem <= 0) return 0;
    return (__mmask16)((1u << rem) - 1u);
}

static void do_block(const job_t *jb, long bh, int qb, float *QT, float *STb, float *Ob, float *linv)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int DP = (D + 63) & ~63;
    const float *q = jb->Q + bh * (long)S * D, *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const int q0 = qb * BQ;
    const int nq = S - q0 < BQ ? S - q0 : BQ;
    const int n = causal ? (q0 + BQ < S ? q0 + BQ : S) : S;
    const float qs = jb->qscale;

    /* 1. pack Q^T */
    for (int i = 0; i < BQ; i++) {
        if (i < nq) {
            const float *qr = q + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) QT[(long)d * BQ + i] = qr[d] * qs;
        } else {
            for (int d = 0; d < D; d++) QT[(long)d * BQ + i] = 0.0f;
        }
    }

    /* 2. scores */
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const float *kb = k + (long)j * D;
        scores_tile(kb, kb + D, kb + 2 * D, kb + 3 * D, kb + 4 * D, kb + 5 * D, kb + 6 * D, kb + 7 * D, D, QT,
                    STb + (long)j * BQ, 8);
    }
    if (j < n) {
        const float *kr[8];
        for (int r = 0; r < 8; r++) kr[r] = k + (long)(j + r < n ? j + r : n - 1) * D;
        scores_tile(kr[0], kr[1], kr[2], kr[3], kr[4], kr[5], kr[6], kr[7], D, QT, STb + (long)j * BQ, n - j);
    }

    /* 3. mask, max, exp, sum */
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m[3];
    for (int c = 0; c < 3; c++) {
        __m512 mx = ninf;
        const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(q0 + 16 * c), lane);
        int jfree = causal ? (q0 + 16 * c + 1 < n ? q0 + 16 * c + 1 : n) : n;
        int jj = 0;
        for (; jj < jfree; jj++) mx = _mm512_max_ps(mx, _mm512_load_ps(STb + (long)jj * BQ + 16 * c));
        for (; jj < n; jj++) {
            float *sp = STb + (long)jj * BQ + 16 * c;
            __mmask16 valid = _mm512_cmpge_epi32_mask(idx, _mm512_set1_epi32(jj));
            __m512 s = _mm512_mask_mov_ps(ninf, valid, _mm512_load_ps(sp));
            _mm512_store_ps(sp, s);
            mx = _mm512_max_ps(mx, s);
        }
        m[c] = mx;
    }
    {
        __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
        for (int jj = 0; jj < n; jj++) {
            float *sp = STb + (long)jj * BQ;
            __m512 p0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp), m[0]));
            __m512 p1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp + 16), m[1]));
            __m512 p2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp + 32), m[2]));
            _mm512_store_ps(sp, p0);
            _mm512_store_ps(sp + 16, p1);
            _mm512_store_ps(sp + 32, p2);
            l0 = _mm512_add_ps(l0, p0);
            l1 = _mm512_add_ps(l1, p1);
            l2 = _mm512_add_ps(l2, p2);
        }
        const __m512 one = _mm512_set1_ps(1.0f);
        _mm512_store_ps(linv, _mm512_div_ps(one, l0));
        _mm512_store_ps(linv + 16, _mm512_div_ps(one, l1));
        _mm512_store_ps(linv + 32, _mm512_div_ps(one, l2));
    }

    /* 4. O = P V */
    memset(Ob, 0, sizeof(float) * BQ * DP);
    for (int jc = 0; jc < n; jc += KC) {
        for (int i0 = 0; i0 < nq; i0 += MRO) {
            int jlim = causal ? (q0 + i0 + MRO < n ? q0 + i0 + MRO : n) : n;
            int jend = jc + KC < jlim ? jc + KC : jlim;
            if (jend <= jc) continue;
            for (int dc = 0; dc < D; dc += 64) {
                int rem = D - dc;
                pv_tile(STb + (long)jc * BQ + i0, v + (long)jc * D + dc, D, jend - jc, Ob + (long)i0 * DP + dc, DP,
                        dmask(rem), dmask(rem - 16), dmask(rem - 32), dmask(rem - 48));
            }
        }
    }
    for (int i = 0; i < nq; i++) {
        const __m512 s = _mm512_set1_ps(linv[i]);
        float *orow = o + (long)(q0 + i) * D;
        const float *ob = Ob + (long)i * DP;
        for (int d = 0; d < D; d += 16) {
            __mmask16 mk = dmask(D - d);
            _mm512_mask_storeu_ps(orow + d, mk, _mm512_mul_ps(_mm512_load_ps(ob + d), s));
        }
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D;
    const int DP = (D + 63) & ~63;
    size_t qt_sz = sizeof(float) * (size_t)D * BQ;
    size_t st_sz = sizeof(float) * ((size_t)S + 8) * BQ;
    size_t ob_sz = sizeof(float) * (size_t)BQ * DP;
    size_t li_sz = sizeof(float) * BQ;
    size_t tot = ((qt_sz + 63) & ~(size_t)63) + ((st_sz + 63) & ~(size_t)63) + ob_sz + li_sz + 64;
    char *mem = aligned_alloc(64, (tot + 63) & ~(size_t)63);
    if (!mem) {
        __atomic_store_n(&jb->err, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    float *QT = (float *)mem;
    float *STb = (float *)(mem + ((qt_sz + 63) & ~(size_t)63));
    float *Ob = (float *)((char *)STb + ((st_sz + 63) & ~(size_t)63));
    float *linv = (float *)((char *)Ob + ob_sz);
    for (;;) {
        long it = __atomic_fetch_add(&jb->next, 1, __ATOMIC_RELAXED);
        if (it >= jb->nitems) break;
        long bh;
        int qb;
        if (jb->causal) { /* heaviest blocks first */
            bh = it % jb->BH;
            qb = jb->nqb - 1 - (int)(it / jb->BH);
        } else {
            bh = it / jb->nqb;
            qb = (int)(it % jb->nqb);
        }
        do_block(jb, bh, qb, QT, STb, Ob, linv);
    }
    free(mem);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t jb;
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.BH = B * H;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.qscale = (float)(1.4426950408889634 / sqrt((double)D));
    jb.nitems = (long)jb.BH * jb.nqb;
    jb.next = 0;
    jb.err = 0;
    int nt = NTHREADS;
    if (nt <= 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        nt = np > 0 ? (int)np : 1;
    }
    if (nt > 64) nt = 64;
    if (nt > jb.nitems) nt = (int)jb.nitems;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, worker, &jb) == 0) started++;
    }
    worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    if (jb.err) {
        /* a worker could not allocate: finish whatever is left (none left if any worker ran) */
        if (jb.next < jb.nitems) return 2;
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/avx512-2pass", "fp32", "BQ=48"};
const spak_kernel_info *spak_info(void) { return &info; }
