/*
 * step8 (step7 + vectorised Q^T pack: row loads scattered with stride BQ; NQV=5, PMR=5)
 * step7 (step6 + query blocks up to 16*6 wide: live-vector dispatch for NQV 5 and 6)
 * step6 (step4 + the last PV tile of a block covers exactly the remaining query rows)
 * step4 (step3 + causal items head-major, largest block first inside a head: K/V stay in L2)
 * step3 (step2 + causal: query vectors wholly above the diagonal skipped in QK and exp)
 * step2 (step1 + exp clamp at -100 against underflow assists, no Ob memset): two-pass blocked attention, AVX-512, pthreads.
 * Per work item (b*h, block of BQ=16*NQV queries):
 *   QT  = (Q_blk * log2e/sqrt(D))^T           [D][BQ]   (L1 resident)
 *   Pt  = K Q_blk^T  (keys x queries)          [jn][BQ]  register tiles QMR keys x NQV vectors,
 *         causal mask -> -inf, running column max fused into the store
 *   per key chunk of KC: Pt <- exp2(Pt - max) (vector exp2, sums fused), then
 *         Ob[BQ][D] += P^T V with tiles of PMR queries x 4 vectors of D
 *   O = Ob / l
 * Work items are shared by an atomic counter over nthreads = online cpus;
 * causal items go largest first.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef NQV
#define NQV 5
#endif
#ifndef QMR
#define QMR 4
#endif
#ifndef PMR
#define PMR 5
#endif
#ifndef KC
#define KC 64
#endif
#if NQV > 6 || NQV < 1
#error "NQV must be 1..6"
#endif
#define BQ (16 * NQV)

#define AI __attribute__((always_inline)) static inline

AI __m512 exp2_ps(__m512 x)
{
    /* clamp at -100: 2^-100 is negligible next to l >= 1 and keeps every result normal
     * (an underflowing scalef takes a microcode assist; causal -inf scores hit it) */
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f));
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

/* scores for NR keys (rows kr, stride D) against the packed query block */
AI void qk_tile(const int NR, const int NVA, const float *QT, const float *kr, int D, float *P, __m512 *mx, int j0, int i0,
                int causal)
{
    __m512 acc[QMR][NQV];
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NVA; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 qv[NQV];
#pragma GCC unroll 8
        for (int v = 0; v < NVA; v++) qv[v] = _mm512_load_ps(QT + (long)d * BQ + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            __m512 b = _mm512_set1_ps(kr[(long)r * D + d]);
#pragma GCC unroll 8
            for (int v = 0; v < NVA; v++) acc[r][v] = _mm512_fmadd_ps(b, qv[v], acc[r][v]);
        }
    }
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 8
        for (int v = 0; v < NVA; v++) {
            __m512 s = acc[r][v];
            if (causal) {
                int t = j0 + r - (i0 + 16 * v); /* lanes with lane < t have i < j */
                if (t > 0) {
                    __mmask16 m = t >= 16 ? (__mmask16)0 : (__mmask16)(0xFFFFu << t);
                    s = _mm512_mask_mov_ps(ninf, m, s);
                }
            }
            _mm512_store_ps(P + (long)r * BQ + 16 * v, s);
            mx[v] = _mm512_max_ps(mx[v], s);
        }
}

/* Ot[r][c] += sum_j P[j][r] * V[j][c] for PMR query rows, NV vectors of columns */
AI void pv_tile_r(const int NR, const int NV, __mmask16 lm, const float *P, int nj, const float *Vr, int D, float *Ot, int Dp,
                int first)
{
    __m512 acc[PMR][4];
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(Ot + (long)r * Dp + 16 * v);
    for (int j = 0; j < nj; j++) {
        __m512 vv[4];
        const float *vr = Vr + (long)j * D;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            vv[v] = (v == NV - 1) ? _mm512_maskz_loadu_ps(lm, vr + 16 * v) : _mm512_loadu_ps(vr + 16 * v);
        const float *pr = P + (long)j * BQ;
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            __m512 b = _mm512_set1_ps(pr[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(b, vv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_store_ps(Ot + (long)r * Dp + 16 * v, acc[r][v]);
}

#define pv_tile(NV, lm, P, nj, Vr, D, Ot, Dp, first) pv_tile_r(PMR, NV, lm, P, nj, Vr, D, Ot, Dp, first)

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nqb;
    long nitems;
    atomic_long next;
    char *bufs;
    size_t bufstride;
} ctx_t;

typedef struct {
    ctx_t *c;
    int tid;
} targ_t;

static void do_block(ctx_t *c, long bh, int qb, float *QT, float *Pt, float *Ob)
{
    const int S = c->S, D = c->D, causal = c->causal;
    const int Dp = (D + 15) & ~15;
    const float *q = c->Q + bh * (long)S * D, *k = c->K + bh * (long)S * D, *vv = c->V + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D;
    const int i0 = qb * BQ;
    const int nq = S - i0 < BQ ? S - i0 : BQ;
    const int jn = causal ? (i0 + nq < S ? i0 + nq : S) : S;
    const float sc = 1.4426950408889634f / sqrtf((float)D);

    /* pack QT[d][i] */
    const __m512i sidx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(BQ));
    const __m512 scv = _mm512_set1_ps(sc);
    for (int i = 0; i < BQ; i++) {
        if (i < nq) {
            const float *qr = q + (long)(i0 + i) * D;
            for (int d0 = 0; d0 < D; d0 += 16) {
                const __mmask16 m = D - d0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (D - d0)) - 1);
                const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, qr + d0), scv);
                _mm512_mask_i32scatter_ps(QT + (long)d0 * BQ + i, m, sidx, x, 4);
            }
        } else {
            for (int d = 0; d < D; d++) QT[(long)d * BQ + i] = 0.0f;
        }
    }

    /* scores */
    __m512 mx[NQV];
    for (int v = 0; v < NQV; v++) mx[v] = _mm512_set1_ps(-INFINITY);
    int j = 0;
    const int jfull = causal ? (i0 < jn ? i0 : jn) : jn; /* keys below the diagonal block: all vectors live */
    for (; j + QMR <= jfull; j += QMR)
        qk_tile(QMR, NQV, QT, k + (long)j * D, D, Pt + (long)j * BQ, mx, j, i0, causal);
    for (; j < jn; j += QMR) {
        const int nr = jn - j < QMR ? jn - j : QMR;
        /* vectors whose last query i0+16v+15 < j are masked for every key of this tile */
        int v0 = causal && j > i0 ? (j - i0) / 16 : 0;
        if (v0 > NQV - 1) v0 = NQV - 1;
        const int nva = NQV - v0;
        float *P = Pt + (long)j * BQ;
        for (int r = 0; r < nr; r++)
            for (int v = 0; v < v0; v++) _mm512_store_ps(P + (long)r * BQ + 16 * v, _mm512_set1_ps(-INFINITY));
        const float *Qv = QT + 16 * v0;
        float *Pv = P + 16 * v0;
        __m512 *mv = mx + v0;
        const int iv = i0 + 16 * v0;
        const float *kr = k + (long)j * D;
        if (nr == QMR) {
            switch (nva) {
#if NQV >= 6
            case 6: qk_tile(QMR, 6, Qv, kr, D, Pv, mv, j, iv, causal); break;
#endif
#if NQV >= 5
            case 5: qk_tile(QMR, 5, Qv, kr, D, Pv, mv, j, iv, causal); break;
#endif
#if NQV >= 4
            case 4: qk_tile(QMR, 4, Qv, kr, D, Pv, mv, j, iv, causal); break;
#endif
#if NQV >= 3
            case 3: qk_tile(QMR, 3, Qv, kr, D, Pv, mv, j, iv, causal); break;
#endif
            case 2: qk_tile(QMR, 2, Qv, kr, D, Pv, mv, j, iv, causal); break;
            default: qk_tile(QMR, 1, Qv, kr, D, Pv, mv, j, iv, causal); break;
            }
        } else {
            for (int r = 0; r < nr; r++) {
                switch (nva) {
#if NQV >= 6
                case 6: qk_tile(1, 6, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
#endif
#if NQV >= 5
                case 5: qk_tile(1, 5, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
#endif
#if NQV >= 4
                case 4: qk_tile(1, 4, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
#endif
#if NQV >= 3
                case 3: qk_tile(1, 3, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
#endif
                case 2: qk_tile(1, 2, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
                default: qk_tile(1, 1, Qv, kr + (long)r * D, D, Pv + (long)r * BQ, mv, j + r, iv, causal); break;
                }
            }
        }
    }

    /* softmax numerators + P V, chunked over keys */
    __m512 l[NQV];
    for (int v = 0; v < NQV; v++) l[v] = _mm512_setzero_ps();
    for (int j0 = 0; j0 < jn; j0 += KC) {
        const int j1 = j0 + KC < jn ? j0 + KC : jn;
        for (int jj = j0; jj < j1; jj++) {
            float *pr = Pt + (long)jj * BQ;
            int v0 = causal && jj > i0 + 15 ? (jj - i0) / 16 : 0; /* vectors wholly masked at this key */
            if (v0 > NQV) v0 = NQV;
            for (int v = 0; v < v0; v++) _mm512_store_ps(pr + 16 * v, _mm512_setzero_ps());
            for (int v = v0; v < NQV; v++) {
                __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pr + 16 * v), mx[v]));
                l[v] = _mm512_add_ps(l[v], p);
                _mm512_store_ps(pr + 16 * v, p);
            }
        }
        for (int i = 0; i < nq; i += PMR) {
            int je = j1;
            if (causal) {
                int lim = i0 + i + PMR;
                if (lim < je) je = lim;
            }
            if (je <= j0) continue;
            for (int c0 = 0; c0 < D; c0 += 64) {
                int nvr = (Dp - c0) / 16;
                int nv = nvr < 4 ? nvr : 4;
                int rem = D - c0 - 16 * (nv - 1);
                __mmask16 lm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1);
                const float *P = Pt + (long)j0 * BQ + i;
                const float *Vr = vv + (long)j0 * D + c0;
                float *Ot = Ob + (long)i * Dp + c0;
                if (nq - i < PMR && nv == 4 && lm == (__mmask16)0xFFFF) {
                    /* tail tile: exactly the rows left */
                    switch (nq - i) {
                    case 1: pv_tile_r(1, 4, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); continue;
                    case 2: pv_tile_r(2, 4, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); continue;
                    case 3: pv_tile_r(3, 4, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); continue;
                    case 4: pv_tile_r(4, 4, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); continue;
                    default: break;
                    }
                }
                switch (nv) {
                case 4: pv_tile(4, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); break;
                case 3: pv_tile(3, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); break;
                case 2: pv_tile(2, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); break;
                default: pv_tile(1, lm, P, je - j0, Vr, D, Ot, Dp, j0 == 0); break;
                }
            }
        }
    }

    float ls[BQ] __attribute__((aligned(64)));
    for (int v = 0; v < NQV; v++) _mm512_store_ps(ls + 16 * v, l[v]);
    for (int i = 0; i < nq; i++) {
        const float inv = 1.0f / ls[i];
        const float *ob = Ob + (long)i * Dp;
        float *orow = o + (long)(i0 + i) * D;
        for (int d = 0; d < D; d++) orow[d] = ob[d] * inv;
    }
}

static void *worker(void *arg)
{
    targ_t *ta = arg;
    ctx_t *c = ta->c;
    char *base = c->bufs + (size_t)ta->tid * c->bufstride;
    const int D = c->D, S = c->S;
    const int Dp = (D + 15) & ~15;
    float *QT = (float *)base;
    size_t off = ((size_t)D * BQ * sizeof(float) + 63) & ~(size_t)63;
    float *Ob = (float *)(base + off);
    off += ((size_t)(BQ + PMR) * Dp * sizeof(float) + 63) & ~(size_t)63;
    float *Pt = (float *)(base + off);
    (void)S;
    for (;;) {
        long t = atomic_fetch_add_explicit(&c->next, 1, memory_order_relaxed);
        if (t >= c->nitems) break;
        long bh;
        int qb;
        if (c->causal) {
            /* head-major so both cores share one head's K/V (L2-resident), largest block first */
            bh = t / c->nqb;
            qb = c->nqb - 1 - (int)(t % c->nqb);
        } else {
            bh = t / c->nqb;
            qb = (int)(t % c->nqb);
        }
        do_block(c, bh, qb, QT, Pt, Ob);
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    c.B = B;
    c.H = H;
    c.S = S;
    c.D = D;
    c.causal = causal;
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    c.nqb = (S + BQ - 1) / BQ;
    c.nitems = (long)B * H * c.nqb;
    atomic_init(&c.next, 0);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > 64) ncpu = 64;
    int nt = (int)(ncpu < c.nitems ? ncpu : c.nitems);

    const int Dp = (D + 15) & ~15;
    size_t sz = (((size_t)D * BQ * sizeof(float) + 63) & ~(size_t)63) +
                (((size_t)(BQ + PMR) * Dp * sizeof(float) + 63) & ~(size_t)63) +
                (((size_t)S * BQ + BQ + PMR + 16) * sizeof(float) + 63) / 64 * 64;
    sz = (sz + 4095) & ~(size_t)4095;
    c.bufstride = sz + 256; /* stagger threads' buffers */
    c.bufs = aligned_alloc(64, c.bufstride * nt);
    if (!c.bufs) return 2;

    pthread_t th[64];
    targ_t ta[64];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        ta[t].c = &c;
        ta[t].tid = t;
        if (pthread_create(&th[t], NULL, worker, &ta[t]) != 0) break;
        started = t;
    }
    ta[0].c = &c;
    ta[0].tid = 0;
    worker(&ta[0]);
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    free(c.bufs);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step1-twopass-avx512", "fp32",
                                      "NQV QMR PMR KC"};
const spak_kernel_info *spak_info(void) { return &info; }
