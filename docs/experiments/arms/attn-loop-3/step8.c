/*
 * step2: AMX-BF16 attention with a 3-way bf16 split of every fp32 operand
 * (x = hi + mid + lo, 6 cross products: hh, hm, hl, mh, mm, lh) so both GEMMs
 * (QK^T and PV) keep ~fp32 accuracy while running on the AMX tile unit.
 * Per (bh, query block of BQ rows): Q block split -> scores via 2x2 16x16 C
 * tiles -> exact row softmax (exp2, log2e folded in the Q scale) fused with
 * the split of P -> O = P V via AMX -> scaled by 1/l. K and V are split and
 * packed in the VNNI pair layout once per call, in parallel.
 * Causal: each 32-row pair only touches keys up to its last row.
 * Fallback (no AMX permission): the AVX-512 6x64 register-tile path of step1.
 * step3: one parallel phase, no barrier: each thread packs the head it works on
 * into its own buffer (work items are head-major, so ~2 packs per head); all
 * memory comes from one malloc in the calling thread; scores loop kt-outer so
 * a 32-key K chunk is reused from L1 by every row pair of the block.
 * step4: PV blocked by PVK keys (V block reused from L1 across row pairs, C
 * tiles spilled to L1 between key blocks); per-thread head-aligned item ranges
 * with stealing, so each head is packed about once.
 * step5: row pairs (32-row units) are software-pipelined: while the AMX unit
 * runs PV of unit u, the vector units do exp2+split of unit u+1 (interleaved
 * after every 24-TDP step), hiding most of the softmax cost.
 * step6: the softmax of a unit is spread over two GEMMs: EFRAC% under PV of
 * the previous unit, the rest under the scores GEMM of the next unit (P is
 * double-buffered); unit 0's softmax now also runs under S(1).
 * step7: finer interleave (after each A-tile group, <=12 TDPs, so the vector
 * work fits the ROB window); PV in 64-key blocks with d pairs inner and C
 * tiles spilled to L1, so P tiles are reused from L1 by both d pairs.
 * step8: the row max is computed lazily inside the interleaved softmax work
 * (no exposed max pass); tiny problems run on the calling thread only.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "abi.h"

#ifndef BQ
#define BQ 64
#endif
#ifndef KC
#define KC 128
#endif
#ifndef EFRAC
#define EFRAC 50
#endif
#define MR 6
#define NR 64
#define MAXT 64

#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AVX512BF16__)
#define HAVE_AMX 1
#else
#define HAVE_AMX 0
#endif

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    float *Kt;            /* avx path */
    uint32_t *KB, *VB;    /* amx path: packed bf16 pairs */
    int npan, nqb;        /* npan: S rounded to 64, in 64s */
    int Sp, Dp, nkb, nch; /* Sp = npan*64; Dp = D rounded to 32; nkb = Sp/16; nch = Sp/32 */
    long BH;
    long ldp, ldo, ldpa;
    float qscale;
    long nitems;
    long counter;
    int amx;
    char *mem;
    size_t per_thread;
    long tid_counter;
    int nranges;
    long rbeg[MAXT + 1];
    struct { long v; char pad[56]; } rctr[MAXT];
} ctx_t;

static inline __attribute__((always_inline)) void gemm_tile(const float *A, long lda, const float *B, long ldb,
                                                            int K, float *C, long ldc, int loadc,
                                                            const int masked, const __mmask16 *mk)
{
    __m512 acc[MR][4];
    __mmask16 m0 = 0xFFFF, m1 = 0xFFFF, m2 = 0xFFFF, m3 = 0xFFFF;
    if (masked) {
        m0 = mk[0];
        m1 = mk[1];
        m2 = mk[2];
        m3 = mk[3];
    }
    if (loadc) {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm512_maskz_loadu_ps(m0, C + r * ldc + 0);
            acc[r][1] = _mm512_maskz_loadu_ps(m1, C + r * ldc + 16);
            acc[r][2] = _mm512_maskz_loadu_ps(m2, C + r * ldc + 32);
            acc[r][3] = _mm512_maskz_loadu_ps(m3, C + r * ldc + 48);
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            acc[r][0] = _mm512_setzero_ps();
            acc[r][1] = _mm512_setzero_ps();
            acc[r][2] = _mm512_setzero_ps();
            acc[r][3] = _mm512_setzero_ps();
        }
    }
    for (int k = 0; k < K; k++) {
        const float *b = B + (long)k * ldb;
        __m512 b0, b1, b2, b3;
        if (masked) {
            b0 = _mm512_maskz_loadu_ps(m0, b);
            b1 = _mm512_maskz_loadu_ps(m1, b + 16);
            b2 = _mm512_maskz_loadu_ps(m2, b + 32);
            b3 = _mm512_maskz_loadu_ps(m3, b + 48);
        } else {
            b0 = _mm512_loadu_ps(b);
            b1 = _mm512_loadu_ps(b + 16);
            b2 = _mm512_loadu_ps(b + 32);
            b3 = _mm512_loadu_ps(b + 48);
        }
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(A[r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(C + r * ldc + 0, m0, acc[r][0]);
        _mm512_mask_storeu_ps(C + r * ldc + 16, m1, acc[r][1]);
        _mm512_mask_storeu_ps(C + r * ldc + 32, m2, acc[r][2]);
        _mm512_mask_storeu_ps(C + r * ldc + 48, m3, acc[r][3]);
    }
}

static inline __m512 exp2v(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* exp2(p - max) over [0,n), zero over [n,nk); returns 1/sum */
static float softmax_row(float *p, int n, int nk)
{
    __m512 mv = _mm512_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 16 <= n; j += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(p + j));
    if (j < n) {
        __mmask16 m = (__mmask16)((1u << (n - j)) - 1u);
        mv = _mm512_mask_max_ps(mv, m, mv, _mm512_maskz_loadu_ps(m, p + j));
    }
    __m512 mm = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 e0 = exp2v(_mm512_sub_ps(_mm512_loadu_ps(p + j), mm));
        __m512 e1 = exp2v(_mm512_sub_ps(_mm512_loadu_ps(p + j + 16), mm));
        _mm512_storeu_ps(p + j, e0);
        _mm512_storeu_ps(p + j + 16, e1);
        s0 = _mm512_add_ps(s0, e0);
        s1 = _mm512_add_ps(s1, e1);
    }
    for (; j + 16 <= n; j += 16) {
        __m512 e0 = exp2v(_mm512_sub_ps(_mm512_loadu_ps(p + j), mm));
        _mm512_storeu_ps(p + j, e0);
        s0 = _mm512_add_ps(s0, e0);
    }
    if (j < n) {
        __mmask16 m = (__mmask16)((1u << (n - j)) - 1u);
        __m512 e0 = exp2v(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + j), mm));
        _mm512_mask_storeu_ps(p + j, m, e0);
        s0 = _mm512_mask_add_ps(s0, m, s0, e0);
        /* zero the rest of this vector */
        _mm512_mask_storeu_ps(p + j, (__mmask16)~m, _mm512_setzero_ps());
        j += 16;
    }
    for (; j < nk; j++) p[j] = 0.0f;
    float l = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    return 1.0f / l;
}

static void do_block_avx(ctx_t *c, const float *kt, float *Qs, float *P, float *Ob, float *il, long bh, int qb)
{
    const int S = c->S, D = c->D;
    const long ldp = c->ldp, ldo = c->ldo;
    const int i0 = qb * BQ;
    const int nrows = (S - i0) < BQ ? (S - i0) : BQ;
    const int nrp = (nrows + MR - 1) / MR * MR;
    const float *q = c->Q + (bh * S + i0) * (long)D;
    const float sc = c->qscale;
    for (int r = 0; r < nrows; r++)
        for (int d = 0; d < D; d++) Qs[r * D + d] = q[(long)r * D + d] * sc;
    for (int r = nrows; r < nrp; r++)
        for (int d = 0; d < D; d++) Qs[r * D + d] = 0.0f;
    const int nk = c->causal ? i0 + nrows : S;
    const int np = (nk + NR - 1) / NR;
    for (int p = 0; p < np; p++) {
        const float *kp = kt + (long)p * D * NR;
        for (int rg = 0; rg < nrp; rg += MR)
            gemm_tile(Qs + rg * D, D, kp, NR, D, P + rg * ldp + p * NR, ldp, 0, 0, NULL);
    }
    for (int r = 0; r < nrows; r++) {
        int n = c->causal ? i0 + r + 1 : S;
        il[r] = softmax_row(P + r * ldp, n, nk);
    }
    for (int r = nrows; r < nrp; r++) memset(P + r * ldp, 0, sizeof(float) * (size_t)nk);
    const float *v = c->V + bh * (long)S * D;
    for (int dc = 0; dc < D; dc += 64) {
        int w = D - dc < 64 ? D - dc : 64;
        if (w == 64) {
            for (int kc = 0; kc < nk; kc += KC) {
                int kl = nk - kc < KC ? nk - kc : KC;
                for (int rg = 0; rg < nrp; rg += MR)
                    gemm_tile(P + rg * ldp + kc, ldp, v + (long)kc * D + dc, D, kl, Ob + rg * ldo + dc, ldo,
                              kc > 0, 0, NULL);
            }
        } else {
            __mmask16 mk[4];
            for (int t = 0; t < 4; t++) {
                int c0 = w - 16 * t;
                mk[t] = c0 >= 16 ? (__mmask16)0xFFFF : c0 <= 0 ? (__mmask16)0 : (__mmask16)((1u << c0) - 1u);
            }
            for (int kc = 0; kc < nk; kc += KC) {
                int kl = nk - kc < KC ? nk - kc : KC;
                for (int rg = 0; rg < nrp; rg += MR)
                    gemm_tile(P + rg * ldp + kc, ldp, v + (long)kc * D + dc, D, kl, Ob + rg * ldo + dc, ldo,
                              kc > 0, 1, mk);
            }
        }
    }
    float *o = c->O + (bh * S + i0) * (long)D;
    for (int r = 0; r < nrows; r++) {
        float s = il[r];
        for (int d = 0; d < D; d++) o[(long)r * D + d] = Ob[r * ldo + d] * s;
    }
}

static void pack_head_avx(ctx_t *c, long bh, float *Kt)
{
    const int S = c->S, D = c->D;
    const float *k = c->K + bh * (long)S * D;
    for (int p = 0; p < c->npan; p++) {
        float *dst = Kt + (long)p * D * NR;
        for (int jj = 0; jj < NR; jj++) {
            int j = p * NR + jj;
            if (j < S) {
                const float *src = k + (long)j * D;
                for (int d = 0; d < D; d++) dst[d * NR + jj] = src[d];
            } else {
                for (int d = 0; d < D; d++) dst[d * NR + jj] = 0.0f;
            }
        }
    }
}

#if HAVE_AMX
typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static inline __m512 bf2f(__m256i v) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16)); }

static inline void split3(__m512 x, __m256i *h, __m256i *m, __m256i *l)
{
    __m256i a = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r = _mm512_sub_ps(x, bf2f(a));
    __m256i b = (__m256i)_mm512_cvtneps_pbh(r);
    __m512 r2 = _mm512_sub_ps(r, bf2f(b));
    __m256i c = (__m256i)_mm512_cvtneps_pbh(r2);
    *h = a;
    *m = b;
    *l = c;
}

static inline __mmask16 dmask(int D, int dv)
{
    int rem = D - 16 * dv;
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
}

/* pack K (16-key blocks, d pairs) and V (32-key chunks, key pairs) of head bh */
static void pack_head_amx(ctx_t *c, long bh, uint32_t *KBh, uint32_t *VBh)
{
    const int S = c->S, D = c->D, Dp = c->Dp;
    const long kps = (long)c->nkb * (Dp / 2) * 16, vps = (long)c->nch * (Dp / 16) * 256;
    uint16_t tmp[3][16 * 256] __attribute__((aligned(64)));
    for (int ch = 0; ch < c->nch; ch++) {
    for (int half = 0; half < 2; half++) {
        int kb = ch * 2 + half;
        for (int jj = 0; jj < 16; jj++) {
            int j = kb * 16 + jj;
            const float *src = c->K + (bh * S + j) * (long)D;
            for (int dv = 0; dv < Dp / 16; dv++) {
                __m512 x = j < S ? _mm512_maskz_loadu_ps(dmask(D, dv), src + 16 * dv) : _mm512_setzero_ps();
                __m256i h, m, l;
                split3(x, &h, &m, &l);
                _mm256_storeu_si256((__m256i *)(tmp[0] + jj * Dp + 16 * dv), h);
                _mm256_storeu_si256((__m256i *)(tmp[1] + jj * Dp + 16 * dv), m);
                _mm256_storeu_si256((__m256i *)(tmp[2] + jj * Dp + 16 * dv), l);
            }
        }
        const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                _mm512_set1_epi32(Dp / 2));
        for (int part = 0; part < 3; part++) {
            uint32_t *out = KBh + part * kps + (long)kb * (Dp / 2) * 16;
            for (int dp = 0; dp < Dp / 2; dp++) {
                __m512i w = _mm512_i32gather_epi32(_mm512_add_epi32(vidx, _mm512_set1_epi32(dp)), (const void *)tmp[part], 4);
                _mm512_storeu_si512((void *)(out + dp * 16), w);
            }
        }
    }
    for (int kp = 0; kp < 16; kp++) {
        int j0 = ch * 32 + 2 * kp, j1 = j0 + 1;
        const float *s0 = c->V + (bh * S + j0) * (long)D, *s1 = c->V + (bh * S + j1) * (long)D;
        for (int n = 0; n < Dp / 16; n++) {
            __mmask16 mk = dmask(D, n);
            __m512 x0 = j0 < S ? _mm512_maskz_loadu_ps(mk, s0 + 16 * n) : _mm512_setzero_ps();
            __m512 x1 = j1 < S ? _mm512_maskz_loadu_ps(mk, s1 + 16 * n) : _mm512_setzero_ps();
            __m256i p0[3], p1[3];
            split3(x0, &p0[0], &p0[1], &p0[2]);
            split3(x1, &p1[0], &p1[1], &p1[2]);
            for (int part = 0; part < 3; part++) {
                __m512i w = _mm512_or_si512(_mm512_cvtepu16_epi32(p0[part]),
                                            _mm512_slli_epi32(_mm512_cvtepu16_epi32(p1[part]), 16));
                uint32_t *out = VBh + part * vps + (((long)ch * (Dp / 16) + n) * 16 + kp) * 16;
                _mm512_storeu_si512((void *)out, w);
            }
        }
    }
    }
}

/* ---- step5: software-pipelined row pairs (units of 32 rows) ---- */
typedef struct {
    const float *P;
    long ldp;
    uint16_t *pa;      /* PA of the unit (part 0), parts pstr apart */
    long pstr, ldpa;
    float curmx;       /* max of the current row (valid when mxok) */
    int mxok;
    float *il;         /* 1/sum of the unit's rows */
    int r, j, nvalid, zl, n0, causal, S;
    __m512 sum;
} estate_t;

/* exp2 + split of up to `budget` vectors of the unit's rows, resumable */
static inline void e_run(estate_t *st, int budget)
{
    while (budget > 0 && st->r < 32) {
        const int r = st->r;
        uint16_t *a0 = st->pa + r * st->ldpa, *a1 = a0 + st->pstr, *a2 = a1 + st->pstr;
        if (r >= st->nvalid) {
            const __m256i z = _mm256_setzero_si256();
            for (int j = 0; j < st->zl; j += 16) {
                _mm256_storeu_si256((__m256i *)(a0 + j), z);
                _mm256_storeu_si256((__m256i *)(a1 + j), z);
                _mm256_storeu_si256((__m256i *)(a2 + j), z);
            }
            st->r++;
            budget--;
            continue;
        }
        const float *p = st->P + r * st->ldp;
        const int n = st->causal ? st->n0 + r + 1 : st->S;
        if (!st->mxok) { /* row max, done lazily so it also runs under the TDPs */
            __m512 mv = _mm512_set1_ps(-INFINITY);
            int q = 0;
            for (; q + 16 <= n; q += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(p + q));
            if (q < n) {
                __mmask16 m = (__mmask16)((1u << (n - q)) - 1u);
                mv = _mm512_mask_max_ps(mv, m, mv, _mm512_maskz_loadu_ps(m, p + q));
            }
            st->curmx = _mm512_reduce_max_ps(mv);
            st->mxok = 1;
            budget -= n / 64 + 1;
        }
        const __m512 mm = _mm512_set1_ps(st->curmx);
        int j = st->j;
        int jend = st->zl;
        if ((st->zl - j + 15) / 16 > budget) jend = j + 16 * budget;
        budget -= (jend - j + 15) / 16;
        __m512 s0 = st->sum;
        for (; j < jend; j += 16) {
            __mmask16 m = j + 16 <= n ? (__mmask16)0xFFFF : j < n ? (__mmask16)((1u << (n - j)) - 1u) : (__mmask16)0;
            __m512 e = _mm512_maskz_mov_ps(m, exp2v(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, p + j), mm)));
            s0 = _mm512_add_ps(s0, e);
            __m256i h, md, l;
            split3(e, &h, &md, &l);
            _mm256_storeu_si256((__m256i *)(a0 + j), h);
            _mm256_storeu_si256((__m256i *)(a1 + j), md);
            _mm256_storeu_si256((__m256i *)(a2 + j), l);
        }
        if (j >= st->zl) {
            st->il[r] = 1.0f / _mm512_reduce_add_ps(s0);
            st->sum = _mm512_setzero_ps();
            st->mxok = 0;
            st->r++;
            st->j = 0;
        } else {
            st->sum = s0;
            st->j = j;
        }
    }
}

/* P[32 x kend] = Q_unit K^T (bf16x3, 6 products) */
static void scores_unit(const uint16_t *QAu, long qas, int Dp, const uint32_t *KBh, long kps, int kend, float *P,
                        long ldp, estate_t *st, int quota)
{
    const long b2 = (long)(Dp / 2) * 16;
    for (int kt = 0; kt < kend; kt += 32) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int cc = 0; cc < Dp / 32; cc++) {
            const uint32_t *bb = KBh + ((long)(kt / 16) * (Dp / 2) + cc * 16) * 16;
            for (int a = 0; a < 3; a++) {
                const uint16_t *ap = QAu + a * qas + cc * 32;
                _tile_loadd(4, ap, Dp * 2);
                _tile_loadd(5, ap + 16 * Dp, Dp * 2);
                for (int b = 0; b < 3 - a; b++) {
                    const uint32_t *bp = bb + b * kps;
                    _tile_loadd(6, bp, 64);
                    _tile_loadd(7, bp + b2, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                if (st) e_run(st, quota);
            }
        }
        float *pc = P + kt;
        _tile_stored(0, pc, ldp * 4);
        _tile_stored(1, pc + 16, ldp * 4);
        _tile_stored(2, pc + 16 * ldp, ldp * 4);
        _tile_stored(3, pc + 16 * ldp + 16, ldp * 4);
    }
}

/* O_unit[32 x Dp] = P_unit V, with `quota` vectors of the next unit's softmax
   issued after every 24-TDP step so they execute under the TMUL work */
static void pv_unit(const uint16_t *PAu, long pstr, long ldpa, const uint32_t *VBh, long vps, int Dp, int kend,
                    float *Obu, long ldo, estate_t *st, int quota)
{
    /* 64-key blocks outer, d pairs inner: the P tiles of a block are reused
       from L1 by every d pair; the 2x2 C tiles are spilled to Ob (L1) */
    for (int kb = 0; kb < kend; kb += 64) {
        const int kbe = kb + 64 < kend ? kb + 64 : kend;
        for (int dpr = 0; dpr < Dp; dpr += 32) {
            float *oc = Obu + dpr;
            if (kb == 0) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
            } else {
                _tile_loadd(0, oc, ldo * 4);
                _tile_loadd(1, oc + 16, ldo * 4);
                _tile_loadd(2, oc + 16 * ldo, ldo * 4);
                _tile_loadd(3, oc + 16 * ldo + 16, ldo * 4);
            }
            for (int ch = kb / 32; ch < kbe / 32; ch++) {
                const uint32_t *bb = VBh + ((long)ch * (Dp / 16) + dpr / 16) * 256;
                for (int a = 0; a < 3; a++) {
                    const uint16_t *ap = PAu + a * pstr + ch * 32;
                    _tile_loadd(4, ap, ldpa * 2);
                    _tile_loadd(5, ap + 16 * ldpa, ldpa * 2);
                    for (int b = 0; b < 3 - a; b++) {
                        const uint32_t *bp = bb + b * vps;
                        _tile_loadd(6, bp, 64);
                        _tile_loadd(7, bp + 256, 64);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_dpbf16ps(1, 4, 7);
                        _tile_dpbf16ps(2, 5, 6);
                        _tile_dpbf16ps(3, 5, 7);
                    }
                    if (st) e_run(st, quota);
                }
            }
            _tile_stored(0, oc, ldo * 4);
            _tile_stored(1, oc + 16, ldo * 4);
            _tile_stored(2, oc + 16 * ldo, ldo * 4);
            _tile_stored(3, oc + 16 * ldo + 16, ldo * 4);
        }
    }
}

static void do_block_amx(ctx_t *c, const uint32_t *KBh, const uint32_t *VBh, uint16_t *QA, float *P, uint16_t *PA,
                         float *Ob, float *il, long bh, int qb)
{
    const int S = c->S, D = c->D, Dp = c->Dp;
    const long ldp = c->ldp, ldo = c->ldo, ldpa = c->ldpa;
    const int i0 = qb * BQ;
    const int nrows = (S - i0) < BQ ? (S - i0) : BQ;
    const int nrp = (nrows + 31) & ~31;
    const long qas = (long)(BQ + 32) * Dp; /* part stride in QA */
    const long pstr = 32 * ldpa;           /* part stride in a unit's PA */
    const float *q = c->Q + (bh * S + i0) * (long)D;
    const __m512 sc = _mm512_set1_ps(c->qscale);
    for (int r = 0; r < nrp; r++)
        for (int dv = 0; dv < Dp / 16; dv++) {
            __m512 x = r < nrows ? _mm512_mul_ps(_mm512_maskz_loadu_ps(dmask(D, dv), q + (long)r * D + 16 * dv), sc)
                                 : _mm512_setzero_ps();
            __m256i h, m, l;
            split3(x, &h, &m, &l);
            _mm256_storeu_si256((__m256i *)(QA + r * Dp + 16 * dv), h);
            _mm256_storeu_si256((__m256i *)(QA + qas + r * Dp + 16 * dv), m);
            _mm256_storeu_si256((__m256i *)(QA + 2 * qas + r * Dp + 16 * dv), l);
        }
    const int nk = c->causal ? i0 + nrows : S;
    const int nk32 = (nk + 31) & ~31;
    const long kps = (long)c->nkb * (Dp / 2) * 16;   /* part stride in KBh */
    const long vps = (long)c->nch * (Dp / 16) * 256; /* part stride in VBh */
    const int R = nrp / 32;
    estate_t st;
#define KEND(u) (c->causal ? ((i0 + 32 * (u) + 32) < nk32 ? (i0 + 32 * (u) + 32) : nk32) : nk32)
#define PBUF(u) (P + (long)((u) & 1) * 32 * ldp)
#define UNIT_INIT(u)                                                                                   \
    do {                                                                                               \
        st.P = PBUF(u);                                                                                \
        st.ldp = ldp;                                                                                  \
        st.pa = PA + (long)((u) & 1) * 3 * pstr;                                                       \
        st.pstr = pstr;                                                                                \
        st.ldpa = ldpa;                                                                                \
        st.mxok = 0;                                                                                   \
        st.il = il + 32 * (u);                                                                         \
        st.r = 0;                                                                                      \
        st.j = 0;                                                                                      \
        st.nvalid = nrows - 32 * (u) < 32 ? nrows - 32 * (u) : 32;                                     \
        st.zl = KEND(u);                                                                               \
        st.n0 = i0 + 32 * (u);                                                                         \
        st.causal = c->causal;                                                                         \
        st.S = S;                                                                                      \
        st.sum = _mm512_setzero_ps();                                                                  \
    } while (0)
    /* pipeline: S(u+1) || rest of E(u); max(u+1); PV(u) || first EFRAC% of E(u+1) */
    scores_unit(QA, qas, Dp, KBh, kps, KEND(0), PBUF(0), ldp, NULL, 0);
    UNIT_INIT(0);
    for (int u = 0; u < R; u++) {
        const int has_next = u + 1 < R;
        if (has_next) {
            const int rem = (32 - st.r) * (st.zl / 16) - st.j / 16;
            const int nst = 3 * (Dp / 32) * (KEND(u + 1) / 32);
            scores_unit(QA + 32 * (u + 1) * Dp, qas, Dp, KBh, kps, KEND(u + 1), PBUF(u + 1), ldp, &st,
                        rem > 0 ? (rem + nst - 1) / nst : 0);
        }
        e_run(&st, 1 << 30);
        int quota = 0;
        if (has_next) {
            UNIT_INIT(u + 1);
            const int part = (32 * (KEND(u + 1) / 16)) * EFRAC / 100;
            const int nsteps = 3 * (Dp / 32) * (KEND(u) / 32);
            quota = (part + nsteps - 1) / nsteps;
        }
        pv_unit(PA + (long)(u & 1) * 3 * pstr, pstr, ldpa, VBh, vps, Dp, KEND(u), Ob + 32 * u * ldo, ldo,
                has_next ? &st : NULL, quota);
    }
#undef KEND
#undef PBUF
#undef UNIT_INIT
    float *o = c->O + (bh * S + i0) * (long)D;
    for (int r = 0; r < nrows; r++) {
        __m512 s = _mm512_set1_ps(il[r]);
        for (int dv = 0; dv < (D + 15) / 16; dv++)
            _mm512_mask_storeu_ps(o + (long)r * D + 16 * dv, dmask(D, dv), _mm512_mul_ps(_mm512_loadu_ps(Ob + r * ldo + 16 * dv), s));
    }
}
#endif

static size_t al64(size_t x) { return (x + 63) & ~(size_t)63; }

/* per-thread scratch layout (bytes): QA | P | PA | Ob | il | packed K | packed V */
static size_t thread_bytes(const ctx_t *c)
{
    const size_t BQa = BQ + 32;
    size_t sz = al64((size_t)3 * BQa * c->Dp * 2) + al64((size_t)BQa * c->ldp * 4) + al64((size_t)BQa * c->ldo * 4) +
                al64((size_t)BQa * 4);
    if (c->amx)
        sz += al64((size_t)3 * BQa * c->ldpa * 2) + al64((size_t)3 * c->nkb * (c->Dp / 2) * 16 * 4) +
              al64((size_t)3 * c->nch * (c->Dp / 16) * 256 * 4);
    else
        sz += al64((size_t)c->npan * c->D * NR * 4);
    return sz;
}

/* items are split into one contiguous head-aligned range per thread; a thread
   drains its own range first (so it packs each of its heads once), then steals */
static long next_item(ctx_t *c, long tid)
{
    for (int k = 0; k < c->nranges; k++) {
        int r = (int)((tid + k) % c->nranges);
        long end = c->rbeg[r + 1];
        if (__atomic_load_n(&c->rctr[r].v, __ATOMIC_RELAXED) >= end) continue;
        long it = __atomic_fetch_add(&c->rctr[r].v, 1, __ATOMIC_RELAXED);
        if (it < end) return it;
    }
    return -1;
}

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    const size_t BQa = BQ + 32;
    long tid = __atomic_fetch_add(&c->tid_counter, 1, __ATOMIC_RELAXED);
    char *pm = c->mem + (size_t)tid * c->per_thread;
    void *QA = pm; pm += al64((size_t)3 * BQa * c->Dp * 2);
    float *P = (float *)pm; pm += al64((size_t)BQa * c->ldp * 4);
    float *Ob = (float *)pm; pm += al64((size_t)BQa * c->ldo * 4);
    float *il = (float *)pm; pm += al64((size_t)BQa * 4);
    long cur = -1;
#if HAVE_AMX
    uint16_t *PA = NULL;
    uint32_t *KBh = NULL, *VBh = NULL;
    if (c->amx) {
        PA = (uint16_t *)pm; pm += al64((size_t)3 * BQa * c->ldpa * 2);
        KBh = (uint32_t *)pm; pm += al64((size_t)3 * c->nkb * (c->Dp / 2) * 16 * 4);
        VBh = (uint32_t *)pm;
        tilecfg_t cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette_id = 1;
        for (int t = 0; t < 8; t++) {
            cfg.colsb[t] = 64;
            cfg.rows[t] = 16;
        }
        _tile_loadconfig(&cfg);
        for (;;) {
            long it = next_item(c, tid);
            if (it < 0) break;
            long bh = it / c->nqb;
            int qb = (int)(it % c->nqb);
            if (c->causal) qb = c->nqb - 1 - qb;
            if (bh != cur) {
                pack_head_amx(c, bh, KBh, VBh);
                cur = bh;
            }
            do_block_amx(c, KBh, VBh, (uint16_t *)QA, P, PA, Ob, il, bh, qb);
        }
        _tile_release();
        return NULL;
    }
#endif
    float *Kt = (float *)pm;
    for (;;) {
        long it = next_item(c, tid);
        if (it < 0) break;
        long bh = it / c->nqb;
        int qb = (int)(it % c->nqb);
        if (c->causal) qb = c->nqb - 1 - qb;
        if (bh != cur) {
            pack_head_avx(c, bh, Kt);
            cur = bh;
        }
        do_block_avx(c, Kt, (float *)QA, P, Ob, il, bh, qb);
    }
    return NULL;
}

static int amx_permit(void)
{
#if HAVE_AMX
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.B = B;
    c.H = H;
    c.S = S;
    c.D = D;
    c.causal = causal ? 1 : 0;
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    c.BH = (long)B * H;
    c.npan = (S + NR - 1) / NR;
    c.Sp = c.npan * NR;
    c.Dp = (D + 31) & ~31;
    c.nkb = c.Sp / 16;
    c.nch = c.Sp / 32;
    c.nqb = (S + BQ - 1) / BQ;
    c.ldp = (long)c.Sp + 16;
    c.ldpa = (long)c.Sp + 32;
    c.ldo = (D + 63) / 64 * 64;
    c.qscale = (float)(1.4426950408889634 / sqrt((double)D));
    c.amx = amx_permit();
    c.nitems = c.BH * c.nqb;
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if (nt > c.nitems) nt = c.nitems;
    if ((double)c.BH * S * (double)S * D < 4.0e6) nt = 1; /* tiny problem: no helper thread */
    c.nranges = (int)nt;
    for (int r = 0; r <= nt; r++) {
        long hb = c.BH * r / nt; /* head-aligned split when BH >= nt */
        c.rbeg[r] = c.BH >= nt ? hb * c.nqb : c.nitems * r / nt;
    }
    for (int r = 0; r < nt; r++) c.rctr[r].v = c.rbeg[r];
    c.per_thread = thread_bytes(&c);
    c.mem = aligned_alloc(64, c.per_thread * (size_t)nt);
    if (!c.mem) return 2;
    pthread_t th[MAXT];
    int created = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[created], NULL, worker, &c) != 0) break;
        created++;
    }
    worker(&c);
    for (int t = 0; t < created; t++) pthread_join(th[t], NULL);
    free(c.mem);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16x3-pipelined4", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
