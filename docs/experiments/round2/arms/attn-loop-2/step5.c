/*
 * step1: flash-style attention, AVX-512, pthreads.
 *  - K is packed once per call into panels [S/KB][D][KB] (zero padded).
 *  - per query block of BQ = 16*QV rows: Q^T block (scaled by log2e/sqrt(D)),
 *    scores held transposed St[key][BQ] so each query is a vector lane:
 *    QK^T = QV vectors x KB keys register block (broadcast of packed K),
 *    online softmax vectorised across queries (exp2 polynomial),
 *    PV = RB rows x 4 d-vectors register block, V rows read directly.
 *  - items (head, query block) handed out by an atomic counter, largest first.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/syscall.h>
#include "abi.h"

#pragma GCC target("amx-tile,amx-bf16,avx512bf16")

#ifndef USE_AMX
#define USE_AMX 1
#endif

#ifndef QKCFG
#define QKCFG 2
#endif
#if QKCFG == 1
#define QV 2
#define KB 12
#elif QKCFG == 2
#define QV 3
#define KB 8
#else
#define QV 2
#define KB 8
#endif
#ifndef BKP
#define BKP 12
#endif
#ifndef RB
#define RB 6
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#define BQ (16 * QV)
#define DV 4
#define CHR (BKP * KB)
#define MAXT 64


typedef struct {
    long BH, nitems;
    int S, D, causal, Dp, npan, nqb;
    float scale2;
    const float *Q, *K, *V;
    float *O, *Kp;
    atomic_long next_pack, packed, next_item;
    /* AMX path */
    int amx, SP, Dpad, Dq;
    uint32_t *Kx[3], *Vx[3];
} ctx_t;

typedef struct {
    ctx_t *c;
    float *Qt, *St, *Ob;
    uint16_t *Qx, *Px;
    float *Sb, *Ob2;
    uint32_t *kx[3], *vx[3];
} targ_t;

static inline __m512 exp2_ps(__m512 x)
{
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-100.0f), _CMP_GT_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.540353039338e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076285e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.55041086648216e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(ok, p, n);
}

static void pack_head(const ctx_t *c, long bh)
{
    int S = c->S, D = c->D;
    const float *k = c->K + bh * (long)S * D;
    float *kp = c->Kp + bh * (long)c->npan * KB * D;
    for (int p = 0; p < c->npan; p++) {
        float *dst = kp + (long)p * KB * D;
        for (int kk = 0; kk < KB; kk++) {
            int j = p * KB + kk;
            if (j < S) {
                const float *src = k + (long)j * D;
                for (int d = 0; d < D; d++) dst[d * KB + kk] = src[d];
            } else {
                for (int d = 0; d < D; d++) dst[d * KB + kk] = 0.0f;
            }
        }
    }
}

/* St[kk][BQ] = Qt^T . Kpanel  for KB keys */
static inline void qk_panel(const float *restrict Qt, const float *restrict kp, int D, float *restrict st)
{
    __m512 acc[QV][KB];
#pragma GCC unroll 64
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) acc[vv][kk] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q[QV];
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) q[vv] = _mm512_load_ps(Qt + d * BQ + 16 * vv);
#pragma GCC unroll 64
        for (int kk = 0; kk < KB; kk++) {
            __m512 b = _mm512_set1_ps(kp[kk]);
#pragma GCC unroll 8
            for (int vv = 0; vv < QV; vv++) acc[vv][kk] = _mm512_fmadd_ps(q[vv], b, acc[vv][kk]);
        }
        kp += KB;
    }
#pragma GCC unroll 64
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) _mm512_store_ps(st + kk * BQ + 16 * vv, acc[vv][kk]);
}

/* Ob[r0..r0+RB)[g*64 .. g*64+64) += P[r][j] V[j][..] */
static inline __attribute__((always_inline)) void pv_block(const float *restrict st, const float *restrict v,
                                                          int D, int jv, float *restrict ob, int Dp,
                                                          const __mmask16 *mk, int masked, const int nr)
{
    __m512 acc[RB][DV];
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++) acc[r][dv] = _mm512_load_ps(ob + (long)r * Dp + 16 * dv);
    for (int j = 0; j < jv; j++) {
        __m512 x[DV];
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++)
            x[dv] = masked ? _mm512_maskz_loadu_ps(mk[dv], v + 16 * dv) : _mm512_loadu_ps(v + 16 * dv);
#pragma GCC unroll 16
        for (int r = 0; r < nr; r++) {
            __m512 b = _mm512_set1_ps(st[r]);
#pragma GCC unroll 4
            for (int dv = 0; dv < DV; dv++) acc[r][dv] = _mm512_fmadd_ps(b, x[dv], acc[r][dv]);
        }
        v += D;
        st += BQ;
    }
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++) _mm512_store_ps(ob + (long)r * Dp + 16 * dv, acc[r][dv]);
}

static void do_block(const ctx_t *c, long bh, int qb, float *restrict Qt, float *restrict St,
                     float *restrict Ob)
{
    const int S = c->S, D = c->D, Dp = c->Dp, causal = c->causal;
    const float *q = c->Q + bh * (long)S * D, *v = c->V + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D;
    const float *kp = c->Kp + bh * (long)c->npan * KB * D;
    const int i0 = qb * BQ, nq = (S - i0) < BQ ? (S - i0) : BQ;
    const float sc = c->scale2;

    for (int l = 0; l < BQ; l++) {
        if (l < nq) {
            const float *qr = q + (long)(i0 + l) * D;
            for (int d = 0; d < D; d++) Qt[d * BQ + l] = qr[d] * sc;
        } else {
            for (int d = 0; d < D; d++) Qt[d * BQ + l] = 0.0f;
        }
    }
    memset(Ob, 0, sizeof(float) * BQ * Dp);

    __m512 m[QV], ls[QV];
    for (int vv = 0; vv < QV; vv++) {
        m[vv] = _mm512_set1_ps(-INFINITY);
        ls[vv] = _mm512_setzero_ps();
    }
    float abuf[BQ] __attribute__((aligned(64)));

    const int n = causal ? ((i0 + BQ) < S ? (i0 + BQ) : S) : S;
    const int np_total = (n + KB - 1) / KB;
    const int masked = (D % 64) != 0;
    const int jmask_from = causal ? i0 + 1 : S;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);

    for (int p0 = 0; p0 < np_total; p0 += BKP) {
        const int np = (np_total - p0) < BKP ? (np_total - p0) : BKP;
        const int jc = p0 * KB, rows = np * KB;
        for (int p = 0; p < np; p++) qk_panel(Qt, kp + (long)(p0 + p) * KB * D, D, St + p * KB * BQ);

        if (jc + rows > jmask_from) {
            int jstart = jmask_from - jc;
            if (jstart < 0) jstart = 0;
            for (int j = jstart; j < rows; j++) {
                int jg = jc + j;
                float *row = St + j * BQ;
                for (int vv = 0; vv < QV; vv++) {
                    int t = (jg >= S) ? 16 : (jg - i0 - 16 * vv);
                    if (t <= 0) continue;
                    __mmask16 mk = t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << t) - 1u);
                    __m512 x = _mm512_load_ps(row + 16 * vv);
                    _mm512_store_ps(row + 16 * vv, _mm512_mask_mov_ps(x, mk, ninf));
                }
            }
        }

        int rescale = 0;
        for (int vv = 0; vv < QV; vv++) {
            __m512 cm0 = ninf, cm1 = ninf;
            int j = 0;
            for (; j + 1 < rows; j += 2) {
                cm0 = _mm512_max_ps(cm0, _mm512_load_ps(St + j * BQ + 16 * vv));
                cm1 = _mm512_max_ps(cm1, _mm512_load_ps(St + (j + 1) * BQ + 16 * vv));
            }
            for (; j < rows; j++) cm0 = _mm512_max_ps(cm0, _mm512_load_ps(St + j * BQ + 16 * vv));
            __m512 mn = _mm512_max_ps(m[vv], _mm512_max_ps(cm0, cm1));
            __m512 alpha = exp2_ps(_mm512_sub_ps(m[vv], mn));
            m[vv] = mn;
            __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
            j = 0;
            for (; j + 1 < rows; j += 2) {
                float *a = St + j * BQ + 16 * vv, *b = a + BQ;
                __m512 pa = exp2_ps(_mm512_sub_ps(_mm512_load_ps(a), mn));
                __m512 pb = exp2_ps(_mm512_sub_ps(_mm512_load_ps(b), mn));
                _mm512_store_ps(a, pa);
                _mm512_store_ps(b, pb);
                s0 = _mm512_add_ps(s0, pa);
                s1 = _mm512_add_ps(s1, pb);
            }
            for (; j < rows; j++) {
                float *a = St + j * BQ + 16 * vv;
                __m512 pa = exp2_ps(_mm512_sub_ps(_mm512_load_ps(a), mn));
                _mm512_store_ps(a, pa);
                s0 = _mm512_add_ps(s0, pa);
            }
            ls[vv] = _mm512_fmadd_ps(ls[vv], alpha, _mm512_add_ps(s0, s1));
            _mm512_store_ps(abuf + 16 * vv, alpha);
            if (_mm512_cmp_ps_mask(alpha, _mm512_set1_ps(1.0f), _CMP_NEQ_UQ)) rescale = 1;
        }
        if (p0 > 0 && rescale) {
            for (int r = 0; r < BQ; r++) {
                __m512 a = _mm512_set1_ps(abuf[r]);
                float *ob = Ob + (long)r * Dp;
                for (int d = 0; d < Dp; d += 16) _mm512_store_ps(ob + d, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
            }
        }

        int jv = n - jc;
        if (jv > rows) jv = rows;
        const float *vc = v + (long)jc * D;
        for (int g = 0; g < Dp; g += 64) {
            __mmask16 mk[DV];
            for (int dv = 0; dv < DV; dv++) {
                int left = D - (g + 16 * dv);
                mk[dv] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
            }
            int r0 = 0;
            if (masked) {
                for (; r0 + RB <= BQ; r0 += RB)
                    pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 1, RB);
#if (BQ % RB) != 0
                pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 1, BQ % RB);
#endif
            } else {
                for (; r0 + RB <= BQ; r0 += RB)
                    pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 0, RB);
#if (BQ % RB) != 0
                pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 0, BQ % RB);
#endif
            }
        }
    }

    float inv[BQ] __attribute__((aligned(64)));
    for (int vv = 0; vv < QV; vv++) _mm512_store_ps(inv + 16 * vv, _mm512_div_ps(_mm512_set1_ps(1.0f), ls[vv]));
    for (int i = 0; i < nq; i++) {
        __m512 a = _mm512_set1_ps(inv[i]);
        const float *ob = Ob + (long)i * Dp;
        float *orow = o + (long)(i0 + i) * D;
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(orow + d, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        if (d < D) {
            __mmask16 mk = (__mmask16)((1u << (D - d)) - 1u);
            _mm512_mask_storeu_ps(orow + d, mk, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        }
    }
}


/* ---------------- AMX bf16x3 path ----------------
 * Each fp32 value x is split into three bf16 parts x = h + m + l (RNE), and a
 * product x*y is formed from the six terms hh, hm, mh, hl, lh, mm (the dropped
 * ones are ~2^-24 relative), accumulated in fp32 by TDPBF16PS: fp32-level error.
 * Scores: C[16 q x 16 keys] tiles, A = Q parts [16][Dpad], B = K parts packed
 * [kb][d pair][16 keys] words. PV: A = P parts [16][SP], B = V parts packed
 * [key pair][Dq] words. 16 query rows per item, exact (two-pass) softmax.
 */
typedef struct __attribute__((packed)) {
    uint8_t palette, start_row;
    uint8_t res[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static inline __m512 bf16_to_f32(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }

static inline void split3(__m512 x, __m256i *h, __m256i *m, __m256i *l)
{
    __m256i a = (__m256i)_mm512_cvtneps_pbh(x);
    x = _mm512_sub_ps(x, bf16_to_f32(a));
    __m256i b = (__m256i)_mm512_cvtneps_pbh(x);
    x = _mm512_sub_ps(x, bf16_to_f32(b));
    *h = a;
    *m = b;
    *l = (__m256i)_mm512_cvtneps_pbh(x);
}

/* exact truncation split x = h + m + l, each part a bf16 held in the upper
 * half of its 32-bit lane (low 16 bits zero) */
static inline void split3t(__m512 x, __m512i *h, __m512i *m, __m512i *l)
{
    const __m512i M = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512i hb = _mm512_and_si512(_mm512_castps_si512(x), M);
    __m512 r = _mm512_sub_ps(x, _mm512_castsi512_ps(hb));
    __m512i mb = _mm512_and_si512(_mm512_castps_si512(r), M);
    r = _mm512_sub_ps(r, _mm512_castsi512_ps(mb));
    *h = hb;
    *m = mb;
    *l = _mm512_castps_si512(r);
}
/* word l = (a[l] low, b[l] high): a VNNI pair of elements l and 16+l */
static inline __m512i comb(__m512i a, __m512i b) { return _mm512_or_si512(_mm512_srli_epi32(a, 16), b); }
static inline void split_pair(__m512 a, __m512 b, __m512i w[3])
{
    __m512i ah, am, al, bh, bm, bl;
    split3t(a, &ah, &am, &al);
    split3t(b, &bh, &bm, &bl);
    w[0] = comb(ah, bh);
    w[1] = comb(am, bm);
    w[2] = comb(al, bl);
}
static inline __mmask16 tailmask(int left)
{
    return left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : (__mmask16)0;
}

static void pack_head_amx(const ctx_t *c, long bh, uint32_t *const kx[3], uint32_t *const vx[3])
{
    const int S = c->S, D = c->D, SP = c->SP, Dpad = c->Dpad, Dq = c->Dq;
    const float *k = c->K + bh * (long)S * D, *v = c->V + bh * (long)S * D;
    /* K, d chunk of 32 starting at d0: pair l = (d0+l, d0+16+l);
     * word -> kx[(j/16 * Dpad/2 + d0/2 + l) * 16 + j%16] */
    for (int j = 0; j < SP; j++) {
        const float *kr = k + (long)j * D;
        for (int d0 = 0; d0 < Dpad; d0 += 32) {
            __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
            if (j < S) {
                a = _mm512_maskz_loadu_ps(tailmask(D - d0), kr + d0);
                b = _mm512_maskz_loadu_ps(tailmask(D - d0 - 16), kr + d0 + 16);
            }
            __m512i w[3];
            split_pair(a, b, w);
            for (int p = 0; p < 3; p++) {
                uint32_t t[16] __attribute__((aligned(64)));
                _mm512_store_si512((void *)t, w[p]);
                uint32_t *dst = kx[p] + ((long)(j >> 4) * (Dpad / 2) + d0 / 2) * 16 + (j & 15);
                for (int l = 0; l < 16; l++) dst[l * 16] = t[l];
            }
        }
    }
    /* V, key chunk kc of 32: pair r = keys (kc+r, kc+16+r) -> vx[(kc/2 + r) * Dq + d] */
    for (int kc = 0; kc < SP; kc += 32) {
        for (int r = 0; r < 16; r++) {
            int ja = kc + r, jb = kc + 16 + r;
            for (int d0 = 0; d0 < Dq; d0 += 16) {
                __mmask16 mk = tailmask(D - d0);
                __m512 xa = ja < S ? _mm512_maskz_loadu_ps(mk, v + (long)ja * D + d0) : _mm512_setzero_ps();
                __m512 xb = jb < S ? _mm512_maskz_loadu_ps(mk, v + (long)jb * D + d0) : _mm512_setzero_ps();
                __m512i w[3];
                split_pair(xa, xb, w);
                for (int p = 0; p < 3; p++) _mm512_store_si512((void *)(vx[p] + (long)(kc / 2 + r) * Dq + d0), w[p]);
            }
        }
    }
}

/* Item: 32 query rows. Each product is a GEMM over a 6x longer inner dimension:
 * A' = [h m l h m h] parts of the left operand, B' = [h h h m m l] parts of the
 * right one (terms hh, mh, lh, hm, mm, hl). 2x2 tile blocking: C tiles 0..3,
 * A tiles 4,5 (row halves), B tiles 6,7 (column halves): four independent
 * accumulators per inner step. Row strides of the score and P buffers are
 * padded off powers of two (L1 set conflicts). */
static void do_block_amx(const ctx_t *c, long bh, int qb, uint16_t *restrict Qx, uint16_t *restrict Px,
                         float *restrict Sb, float *restrict Ob, uint32_t *const kxh[3], uint32_t *const vxh[3])
{
    const int S = c->S, D = c->D, SP = c->SP, Dpad = c->Dpad, Dq = c->Dq, causal = c->causal;
    const int SS = SP + 16;  /* Sb row stride, floats */
    const int PS = SP + 32;  /* P row stride, bf16 */
    const float *q = c->Q + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D;
    const uint32_t *kx[3], *vx[3];
    for (int p = 0; p < 3; p++) {
        kx[p] = kxh[p];
        vx[p] = vxh[p];
    }
    const int i0 = qb * 32, nq = (S - i0) < 32 ? (S - i0) : 32;
    const float sc = c->scale2;
    const long qpart = 32L * Dpad, ppart = 32L * PS;
    static const int aseg[6] = {0, 1, 2, 0, 1, 0}, bseg[6] = {0, 0, 0, 1, 1, 2};

    for (int i = 0; i < 32; i++) {
        const float *qr = q + (long)(i0 + i) * D;
        for (int d0 = 0; d0 < Dpad; d0 += 32) {
            __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
            if (i < nq) {
                a = _mm512_mul_ps(_mm512_maskz_loadu_ps(tailmask(D - d0), qr + d0), _mm512_set1_ps(sc));
                b = _mm512_mul_ps(_mm512_maskz_loadu_ps(tailmask(D - d0 - 16), qr + d0 + 16), _mm512_set1_ps(sc));
            }
            __m512i w[3];
            split_pair(a, b, w);
            _mm512_store_si512((void *)(Qx + (long)i * Dpad + d0), w[0]);
            _mm512_store_si512((void *)(Qx + qpart + (long)i * Dpad + d0), w[1]);
            _mm512_store_si512((void *)(Qx + 2 * qpart + (long)i * Dpad + d0), w[2]);
        }
    }

    const int n = causal ? ((i0 + 32) < S ? (i0 + 32) : S) : S;
    const int nk = (n + 31) & ~31;
    const int nc = Dpad / 32;
    const long qstride = (long)Dpad * 2;
    const long kbstep = (long)(Dpad / 2) * 16;

    /* scores: Sb[32][SS] */
    for (int kb = 0; kb < nk / 16; kb += 2) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int sg = 0; sg < 6; sg++) {
            const uint16_t *qa = Qx + aseg[sg] * qpart;
            const uint32_t *kbp = kx[bseg[sg]] + (long)kb * kbstep;
            for (int cc = 0; cc < nc; cc++) {
                _tile_loadd(4, qa + cc * 32, qstride);
                _tile_loadd(6, kbp + cc * 256, 64);
                _tile_loadd(5, qa + 16L * Dpad + cc * 32, qstride);
                _tile_loadd(7, kbp + kbstep + cc * 256, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, Sb + kb * 16, (long)SS * 4);
        _tile_stored(1, Sb + kb * 16 + 16, (long)SS * 4);
        _tile_stored(2, Sb + 16L * SS + kb * 16, (long)SS * 4);
        _tile_stored(3, Sb + 16L * SS + kb * 16 + 16, (long)SS * 4);
    }

    /* softmax rows (exp2), P split into bf16 parts */
    float linv[32];
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < 32; i++) {
        int valid = causal ? ((i0 + i + 1) < n ? (i0 + i + 1) : n) : n;
        const float *row = Sb + (long)i * SS;
        __m512 mx0 = ninf, mx1 = ninf;
        int j = 0;
        for (; j + 32 <= valid; j += 32) {
            mx0 = _mm512_max_ps(mx0, _mm512_loadu_ps(row + j));
            mx1 = _mm512_max_ps(mx1, _mm512_loadu_ps(row + j + 16));
        }
        for (; j < valid; j += 16) {
            int left = valid - j;
            __mmask16 mk = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
            mx0 = _mm512_mask_max_ps(mx0, mk, mx0, _mm512_loadu_ps(row + j));
        }
        __m512 mb = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(mx0, mx1)));
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        uint16_t *prow = Px + (long)i * PS;
        for (j = 0; j < nk; j += 32) {
            __m512 pa = _mm512_maskz_mov_ps(tailmask(valid - j), exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), mb)));
            __m512 pb = _mm512_maskz_mov_ps(tailmask(valid - j - 16),
                                            exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j + 16), mb)));
            sum0 = _mm512_add_ps(sum0, pa);
            sum1 = _mm512_add_ps(sum1, pb);
            __m512i w[3];
            split_pair(pa, pb, w);
            _mm512_store_si512((void *)(prow + j), w[0]);
            _mm512_store_si512((void *)(prow + ppart + j), w[1]);
            _mm512_store_si512((void *)(prow + 2 * ppart + j), w[2]);
        }
        linv[i] = 1.0f / _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
    }

    /* O = P V, Ob[32][Dq] */
    const long pstride = (long)PS * 2, vstride = (long)Dq * 4;
    for (int g = 0; g < Dq; g += 32) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int sg = 0; sg < 6; sg++) {
            const uint16_t *pa = Px + aseg[sg] * ppart;
            const uint32_t *vb = vx[bseg[sg]] + g;
            for (int kc = 0; kc < nk; kc += 32) {
                _tile_loadd(4, pa + kc, pstride);
                _tile_loadd(6, vb + (long)(kc / 2) * Dq, vstride);
                _tile_loadd(5, pa + 16L * PS + kc, pstride);
                _tile_loadd(7, vb + (long)(kc / 2) * Dq + 16, vstride);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
        _tile_stored(0, Ob + g, (long)Dq * 4);
        _tile_stored(1, Ob + g + 16, (long)Dq * 4);
        _tile_stored(2, Ob + 16L * Dq + g, (long)Dq * 4);
        _tile_stored(3, Ob + 16L * Dq + g + 16, (long)Dq * 4);
    }

    for (int i = 0; i < nq; i++) {
        __m512 a = _mm512_set1_ps(linv[i]);
        const float *ob = Ob + (long)i * Dq;
        float *orow = o + (long)(i0 + i) * D;
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(orow + d, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        if (d < D) {
            __mmask16 mk = (__mmask16)((1u << (D - d)) - 1u);
            _mm512_mask_storeu_ps(orow + d, mk, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        }
    }
}

static int amx_state = 0; /* 0 unknown, 1 usable, -1 not */
static int amx_enable(void)
{
    if (amx_state == 0) {
        long r = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */);
        amx_state = r == 0 ? 1 : -1;
    }
    return amx_state == 1;
}

static void *worker_amx(targ_t *ta)
{
    ctx_t *c = ta->c;
    long cur = -1;
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    long t;
    while ((t = atomic_fetch_add(&c->next_item, 1)) < c->nitems) {
        long bh = t / c->nqb;
        int qb = c->nqb - 1 - (int)(t % c->nqb);
        if (bh != cur) { /* per-thread packed K/V of the current head */
            pack_head_amx(c, bh, ta->kx, ta->vx);
            cur = bh;
        }
        do_block_amx(c, bh, qb, ta->Qx, ta->Px, ta->Sb, ta->Ob2, ta->kx, ta->vx);
    }
    _tile_release();
    return NULL;
}

static void *worker(void *arg)
{
    targ_t *ta = arg;
    ctx_t *c = ta->c;
    if (c->amx) return worker_amx(ta);
    long h;
    while ((h = atomic_fetch_add(&c->next_pack, 1)) < c->BH) {
        pack_head(c, h);
        atomic_fetch_add(&c->packed, 1);
    }
    while (atomic_load(&c->packed) < c->BH) _mm_pause();
    long t;
    while ((t = atomic_fetch_add(&c->next_item, 1)) < c->nitems) {
        long bh = t / c->nqb;
        int qb = c->nqb - 1 - (int)(t % c->nqb);
        do_block(c, bh, qb, ta->Qt, ta->St, ta->Ob);
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    c.BH = (long)B * H;
    c.S = S;
    c.D = D;
    c.causal = causal ? 1 : 0;
    c.Dp = (D + 63) & ~63;
    c.npan = (S + KB - 1) / KB;
    c.amx = USE_AMX && amx_enable();
    c.nqb = c.amx ? (S + 31) / 32 : (S + BQ - 1) / BQ;
    c.SP = (S + 31) & ~31;
    c.Dpad = (D + 31) & ~31;
    c.Dq = (D + 31) & ~31;
    c.nitems = c.BH * c.nqb;
    c.scale2 = (float)(1.4426950408889634 / sqrt((double)D));
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    atomic_init(&c.next_pack, 0);
    atomic_init(&c.packed, 0);
    atomic_init(&c.next_item, 0);

    size_t kpsz;
    if (c.amx) {
        kpsz = 64;
    } else {
        kpsz = sizeof(float) * (size_t)c.BH * c.npan * KB * D;
    }
    kpsz = (kpsz + 63) & ~(size_t)63;
    c.Kp = aligned_alloc(64, kpsz);
    if (!c.Kp) return 2;
    long nt = NTHREADS > 0 ? NTHREADS : sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if (nt > c.nitems) nt = c.nitems;

    size_t qtsz = sizeof(float) * (size_t)D * BQ, stsz = sizeof(float) * (size_t)CHR * BQ,
           obsz = sizeof(float) * (size_t)BQ * c.Dp;
    qtsz = (qtsz + 63) & ~(size_t)63;
    if (c.amx) {
        qtsz = sizeof(uint16_t) * 3 * 32 * (size_t)c.Dpad;            /* Qx */
        stsz = sizeof(uint16_t) * 3 * 32 * (size_t)(c.SP + 32)       /* Px */
               + sizeof(float) * 32 * (size_t)(c.SP + 16);            /* Sb */
        obsz = sizeof(float) * 32 * (size_t)c.Dq                      /* Ob2 */
               + sizeof(uint32_t) * 3 * ((size_t)c.SP * c.Dpad / 2 + (size_t)c.SP / 2 * c.Dq); /* Kx, Vx */
    }
    size_t per = qtsz + stsz + obsz;
    float *buf = aligned_alloc(64, per * nt);
    if (!buf) {
        free(c.Kp);
        return 2;
    }
    targ_t ta[MAXT];
    pthread_t th[MAXT];
    int started[MAXT];
    for (long i = 0; i < nt; i++) {
        char *b = (char *)buf + per * i;
        ta[i].c = &c;
        ta[i].Qt = (float *)b;
        ta[i].St = (float *)(b + qtsz);
        ta[i].Ob = (float *)(b + qtsz + stsz);
        ta[i].Qx = (uint16_t *)b;
        ta[i].Px = (uint16_t *)(b + qtsz);
        ta[i].Sb = (float *)(b + qtsz + sizeof(uint16_t) * 3 * 32 * (size_t)(c.SP + 32));
        ta[i].Ob2 = (float *)(b + qtsz + stsz);
        if (c.amx) {
            uint32_t *p = (uint32_t *)(b + qtsz + stsz + sizeof(float) * 32 * (size_t)c.Dq);
            for (int k = 0; k < 3; k++) {
                ta[i].kx[k] = p;
                p += (size_t)c.SP * c.Dpad / 2;
            }
            for (int k = 0; k < 3; k++) {
                ta[i].vx[k] = p;
                p += (size_t)c.SP / 2 * c.Dq;
            }
        }
        started[i] = 0;
    }
    for (long i = 1; i < nt; i++) started[i] = pthread_create(&th[i], NULL, worker, &ta[i]) == 0;
    worker(&ta[0]);
    for (long i = 1; i < nt; i++)
        if (started[i]) pthread_join(th[i], NULL);
    free(buf);
    free(c.Kp);
    return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-amx-bf16x3", "fp32",
                                      "QKCFG=" STR(QKCFG) " KB=" STR(KB) " BKP=" STR(BKP) " RB=" STR(RB) " USE_AMX=" STR(USE_AMX)};
const spak_kernel_info *spak_info(void) { return &info; }
