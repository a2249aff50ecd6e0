#pragma GCC target("amx-tile,amx-bf16,avx512bf16")
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
#define KC 128
#endif
#ifndef NTHREADS
#define NTHREADS 8
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

static int avx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
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


/* ====================== AMX-BF16 path (3-way bf16 split, 6 products) ====================== */
#include <stdint.h>
#include <sys/syscall.h>

#define ABQ 32
#ifndef NG
#define NG 1
#endif
#define CBAR() __asm__ volatile("" ::: "memory")

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tilecfg_t;

typedef struct {
    int S, D, causal, BH, Sp, Dp, nqb;
    const float *Q, *K, *V;
    float *O;
    float qscale;
    size_t hs;         /* Sp*Dp */
    int ng;
    char *arena;
    size_t per;
    long slot;
    long nitems, next;
    int err;
} ajob_t;

static inline __m512 bf16_to_f32(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline void split3(__m512 x, __m256i *h, __m256i *m, __m256i *l)
{
    __m256i hh = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r = _mm512_sub_ps(x, bf16_to_f32(hh));
    __m256i mm = (__m256i)_mm512_cvtneps_pbh(r);
    __m512 r2 = _mm512_sub_ps(r, bf16_to_f32(mm));
    *h = hh;
    *m = mm;
    *l = (__m256i)_mm512_cvtneps_pbh(r2);
}

static inline __m512i cat256(__m256i a, __m256i b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

static void pack_head(const ajob_t *jb, long bh, uint16_t *Kpb, uint16_t *Vpb)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    const float *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    uint32_t *kp = (uint32_t *)Kpb;
    uint32_t *vp = (uint32_t *)Vpb;
    const __m512i sidx = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    /* K: per 16-key block, Dp/2 rows of 16 words (d pair, key) */
    for (int j = 0; j < Sp; j++) {
        const float *kr = k + (long)j * D;
        for (int dc = 0; dc < Dp; dc += 32) {
            __mmask16 m0 = j < S ? dmask(D - dc) : 0, m1 = j < S ? dmask(D - dc - 16) : 0;
            __m512 x0 = _mm512_maskz_loadu_ps(m0, kr + dc), x1 = _mm512_maskz_loadu_ps(m1, kr + dc + 16);
            __m256i h0, mm0, l0, h1, mm1, l1;
            split3(x0, &h0, &mm0, &l0);
            split3(x1, &h1, &mm1, &l1);
            uint32_t *base = kp + (size_t)(j / 16) * (Dp / 2) * 16 + (size_t)(dc / 2) * 16 + (j % 16);
            _mm512_i32scatter_epi32(base, sidx, cat256(h0, h1), 4);
            _mm512_i32scatter_epi32(base + hs / 2, sidx, cat256(mm0, mm1), 4);
            _mm512_i32scatter_epi32(base + hs, sidx, cat256(l0, l1), 4);
        }
    }
    /* V: per key pair, Dp words (even key low, odd key high) */
    for (int j2 = 0; j2 < Sp / 2; j2++) {
        const int ja = 2 * j2, jo = 2 * j2 + 1;
        const float *va = v + (long)ja * D, *vo = v + (long)jo * D;
        for (int dc = 0; dc < Dp; dc += 16) {
            __mmask16 ma = ja < S ? dmask(D - dc) : 0, mo = jo < S ? dmask(D - dc) : 0;
            __m512 xa = _mm512_maskz_loadu_ps(ma, va + dc), xo = _mm512_maskz_loadu_ps(mo, vo + dc);
            __m256i ha, mma, la, ho, mmo, lo;
            split3(xa, &ha, &mma, &la);
            split3(xo, &ho, &mmo, &lo);
            uint32_t *base = vp + (size_t)j2 * Dp + dc;
            _mm512_storeu_si512(base, _mm512_or_si512(_mm512_cvtepu16_epi32(ha),
                                                      _mm512_slli_epi32(_mm512_cvtepu16_epi32(ho), 16)));
            _mm512_storeu_si512(base + hs / 2, _mm512_or_si512(_mm512_cvtepu16_epi32(mma),
                                                               _mm512_slli_epi32(_mm512_cvtepu16_epi32(mmo), 16)));
            _mm512_storeu_si512(base + hs, _mm512_or_si512(_mm512_cvtepu16_epi32(la),
                                                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(lo), 16)));
        }
    }
}

static inline int blk_n32(const ajob_t *jb, int qb)
{
    const int q0 = qb * ABQ;
    return jb->causal ? (q0 + ABQ < jb->Sp ? q0 + ABQ : jb->Sp) : jb->Sp;
}

static void q_split(const ajob_t *jb, long bh, int qb, uint16_t *Qs)
{
    const int S = jb->S, D = jb->D, Dp = jb->Dp;
    const int q0 = qb * ABQ;
    const int nq = S - q0 < ABQ ? S - q0 : ABQ;
    const float *q = jb->Q + bh * (long)S * D;
    const __m512 qs = _mm512_set1_ps(jb->qscale);
    for (int i = 0; i < ABQ; i++) {
        const float *qr = q + (long)(q0 + i) * D;
        for (int dc = 0; dc < Dp; dc += 16) {
            __mmask16 mk = i < nq ? dmask(D - dc) : 0;
            __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, qr + dc), qs);
            __m256i h, m, l;
            split3(x, &h, &m, &l);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)i * Dp + dc), h);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)ABQ * Dp + (size_t)i * Dp + dc), m);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)2 * ABQ * Dp + (size_t)i * Dp + dc), l);
        }
    }
}

/* softmax (base 2) of rows [r0, r1) of block qb: ST -> P split (Ps), 1/l (linv) */
static void softmax_rows(const ajob_t *jb, int qb, const float *ST, uint16_t *Ps, float *linv, int r0, int r1)
{
    const int S = jb->S, Sp = jb->Sp, causal = jb->causal;
    const int q0 = qb * ABQ;
    const int n32 = blk_n32(jb, qb);
    for (int i = r0; i < r1; i++) {
        const int qi = q0 + i;
        const int jv = causal ? (qi + 1 < S ? qi + 1 : S) : S;
        const float *srow = ST + (size_t)i * Sp;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < n32; j += 16) {
            int rem = jv - j;
            if (rem <= 0) break;
            mx = _mm512_mask_max_ps(mx, dmask(rem), mx, _mm512_loadu_ps(srow + j));
        }
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sum = _mm512_setzero_ps();
        uint16_t *p0 = Ps + (size_t)i * Sp, *p1 = p0 + (size_t)ABQ * Sp, *p2 = p1 + (size_t)ABQ * Sp;
        for (int j = 0; j < n32; j += 16) {
            int rem = jv - j;
            if (rem <= 0) {
                const __m256i z = _mm256_setzero_si256();
                _mm256_storeu_si256((__m256i *)(p0 + j), z);
                _mm256_storeu_si256((__m256i *)(p1 + j), z);
                _mm256_storeu_si256((__m256i *)(p2 + j), z);
                continue;
            }
            __m512 p = _mm512_maskz_mov_ps(dmask(rem), exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(srow + j), m)));
            sum = _mm512_add_ps(sum, p);
            __m256i h, mm, l;
            split3(p, &h, &mm, &l);
            _mm256_storeu_si256((__m256i *)(p0 + j), h);
            _mm256_storeu_si256((__m256i *)(p1 + j), mm);
            _mm256_storeu_si256((__m256i *)(p2 + j), l);
        }
        linv[i] = 1.0f / _mm512_reduce_add_ps(sum);
    }
}

/* scores of block qb into ST; interleaved with the softmax of the previous block (pqb >= 0) */
static void scores_il(const ajob_t *jb, int qb, const uint16_t *kp, const uint16_t *Qs, float *ST, int pqb,
                      const float *STp, uint16_t *Ps, float *linv)
{
    const int Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    const int n32 = blk_n32(jb, qb);
    const int nk = n32 / 32;
    const int rpi = (ABQ + nk - 1) / nk;
    int r = 0;
    for (int kb2 = 0; kb2 < nk; kb2++) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int dc = 0; dc < Dp; dc += 32) {
            for (int b = 0; b < 3; b++) {
                const uint16_t *kb = kp + (size_t)b * hs +
                                     ((size_t)(2 * kb2) * (Dp / 2) * 16 + (size_t)(dc / 2) * 16) * 2;
                _tile_loadd(6, kb, 64);
                _tile_loadd(7, kb + (size_t)(Dp / 2) * 16 * 2, 64);
                for (int a = 0; a < 3 - b; a++) {
                    const uint16_t *qa = Qs + (size_t)a * ABQ * Dp + dc;
                    _tile_loadd(4, qa, Dp * 2);
                    _tile_loadd(5, qa + (size_t)16 * Dp, Dp * 2);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
        }
        /* AVX-512 work that can run while the TMUL drains the products above */
        if (pqb >= 0 && r < ABQ) {
            int r1 = r + rpi < ABQ ? r + rpi : ABQ;
            softmax_rows(jb, pqb, STp, Ps, linv, r, r1);
            r = r1;
        }
        float *sp = ST + kb2 * 32;
        _tile_stored(0, sp, Sp * 4);
        _tile_stored(1, sp + 16, Sp * 4);
        _tile_stored(2, sp + (size_t)16 * Sp, Sp * 4);
        _tile_stored(3, sp + (size_t)16 * Sp + 16, Sp * 4);
    }
    if (pqb >= 0 && r < ABQ) softmax_rows(jb, pqb, STp, Ps, linv, r, ABQ);
}

static void pv_out(const ajob_t *jb, long bh, int qb, const uint16_t *vp, const uint16_t *Ps, float *Ob,
                   const float *linv)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    const int q0 = qb * ABQ;
    const int nq = S - q0 < ABQ ? S - q0 : ABQ;
    const int n32 = blk_n32(jb, qb);
    float *o = jb->O + bh * (long)S * D;
    for (int dp = 0; dp < Dp; dp += 32) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int kc = 0; kc < n32; kc += 32) {
            for (int b = 0; b < 3; b++) {
                const uint16_t *vb = vp + (size_t)b * hs + ((size_t)(kc / 2) * Dp + dp) * 2;
                _tile_loadd(6, vb, Dp * 4);
                _tile_loadd(7, vb + 32, Dp * 4);
                for (int a = 0; a < 3 - b; a++) {
                    const uint16_t *pa = Ps + (size_t)a * ABQ * Sp + kc;
                    _tile_loadd(4, pa, Sp * 2);
                    _tile_loadd(5, pa + (size_t)16 * Sp, Sp * 2);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
        }
        _tile_stored(0, Ob + dp, Dp * 4);
        _tile_stored(1, Ob + dp + 16, Dp * 4);
        _tile_stored(2, Ob + (size_t)16 * Dp + dp, Dp * 4);
        _tile_stored(3, Ob + (size_t)16 * Dp + dp + 16, Dp * 4);
    }
    CBAR();
    for (int i = 0; i < nq; i++) {
        const __m512 s = _mm512_set1_ps(linv[i]);
        float *orow = o + (long)(q0 + i) * D;
        const float *ob = Ob + (size_t)i * Dp;
        for (int d = 0; d < D; d += 16)
            _mm512_mask_storeu_ps(orow + d, dmask(D - d), _mm512_mul_ps(_mm512_loadu_ps(ob + d), s));
    }
}

static void *amx_worker(void *arg)
{
    ajob_t *jb = (ajob_t *)arg;
    const int Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    size_t kv_sz = sizeof(uint16_t) * 3 * hs;
    size_t qs_sz = sizeof(uint16_t) * 3 * ABQ * (size_t)Dp;
    size_t st_sz = sizeof(float) * ABQ * (size_t)Sp;
    size_t ps_sz = sizeof(uint16_t) * 3 * ABQ * (size_t)Sp;
    size_t ob_sz = sizeof(float) * ABQ * (size_t)Dp;
#define RUP(x) (((x) + 63) & ~(size_t)63)
    size_t tot = 2 * RUP(kv_sz) + RUP(qs_sz) + 2 * RUP(st_sz) + RUP(ps_sz) + RUP(ob_sz) + RUP(sizeof(float) * ABQ);
    (void)tot;
    char *mem = jb->arena + (size_t)__atomic_fetch_add(&jb->slot, 1, __ATOMIC_RELAXED) * jb->per;
    uint16_t *Kpb = (uint16_t *)mem;
    uint16_t *Vpb = (uint16_t *)(mem + RUP(kv_sz));
    uint16_t *Qs = (uint16_t *)(mem + 2 * RUP(kv_sz));
    float *ST = (float *)((char *)Qs + RUP(qs_sz));
    float *ST2 = (float *)((char *)ST + RUP(st_sz));
    uint16_t *Ps = (uint16_t *)((char *)ST2 + RUP(st_sz));
    float *Ob = (float *)((char *)Ps + RUP(ps_sz));
    float *linv = (float *)((char *)Ob + RUP(ob_sz));
#undef RUP

    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
    CBAR();
    long cur = -1;
    for (;;) {
        long it = __atomic_fetch_add(&jb->next, 1, __ATOMIC_RELAXED);
        if (it >= jb->nitems) break;
        long bh = it / jb->ng;
        int g = (int)(it % jb->ng);
        if (bh != cur) {
            CBAR();
            pack_head(jb, bh, Kpb, Vpb);
            CBAR();
            cur = bh;
        }
        /* pipeline: scores(b) overlapped with softmax(b-1), then PV(b-1) */
        float *STc = ST, *STp = ST2;
        int pqb = -1;
        for (int qb = jb->nqb - 1 - g; qb >= 0; qb -= jb->ng) {
            CBAR();
            q_split(jb, bh, qb, Qs);
            CBAR();
            scores_il(jb, qb, Kpb, Qs, STc, pqb, STp, Ps, linv);
            CBAR();
            if (pqb >= 0) pv_out(jb, bh, pqb, Vpb, Ps, Ob, linv);
            CBAR();
            pqb = qb;
            float *t = STc;
            STc = STp;
            STp = t;
        }
        if (pqb >= 0) {
            CBAR();
            softmax_rows(jb, pqb, STp, Ps, linv, 0, ABQ);
            CBAR();
            pv_out(jb, bh, pqb, Vpb, Ps, Ob, linv);
            CBAR();
        }
    }
    CBAR();
    _tile_release();
    return NULL;
}

static int amx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                         float *O)
{
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0) return -1;
    ajob_t jb;
    memset(&jb, 0, sizeof jb);
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.BH = B * H;
    jb.Sp = (S + 31) & ~31;
    jb.Dp = (D + 31) & ~31;
    jb.nqb = jb.Sp / ABQ;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.qscale = (float)(1.4426950408889634 / sqrt((double)D));
    jb.hs = (size_t)jb.Sp * jb.Dp;
    jb.ng = NG < jb.nqb ? NG : jb.nqb;
    jb.nitems = (long)jb.BH * jb.ng;
    int nt = NTHREADS;
    if (nt <= 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        nt = np > 0 ? (int)np : 1;
    }
    if (nt > 64) nt = 64;
    if (nt > jb.nitems) nt = (int)jb.nitems;
    {
        const size_t Sp = jb.Sp, Dp = jb.Dp;
#define RUP(x) (((x) + 63) & ~(size_t)63)
        size_t kv_sz = sizeof(uint16_t) * 3 * jb.hs;
        size_t qs_sz = sizeof(uint16_t) * 3 * ABQ * Dp;
        size_t st_sz = sizeof(float) * ABQ * Sp;
        size_t ps_sz = sizeof(uint16_t) * 3 * ABQ * Sp;
        size_t ob_sz = sizeof(float) * ABQ * Dp;
        jb.per = RUP(2 * RUP(kv_sz) + RUP(qs_sz) + 2 * RUP(st_sz) + RUP(ps_sz) + RUP(ob_sz) + RUP(sizeof(float) * ABQ));
#undef RUP
    }
    /* one arena for all workers, allocated and freed by the calling thread (glibc then keeps it in the
       main heap between calls instead of faulting fresh pages in every worker) */
    jb.arena = aligned_alloc(64, jb.per * (size_t)nt);
    if (!jb.arena) return -1;
    jb.slot = 0;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, amx_worker, &jb) == 0) started++;
    amx_worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    free(jb.arena);
    if (jb.next < jb.nitems) return -1; /* nobody could finish: let the caller fall back */
    return 0;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
#if !defined(NO_AMX) || NO_AMX == 0
    if (amx_attention(B, H, S, D, causal, Q, K, V, O) == 0) return 0;
#endif
    return avx_attention(B, H, S, D, causal, Q, K, V, O);
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16x3", "fp32", "ABQ=32"};
const spak_kernel_info *spak_info(void) { return &info; }
