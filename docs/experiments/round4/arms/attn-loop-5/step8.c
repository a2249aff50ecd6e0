/*
 * Flash-style attention, AVX-512, pthreads.
 * Per work item (bh, query block of BQ rows):
 *   QT = (Q_blk * log2e/sqrt(D))^T  [D][BQ]   (queries along vector lanes)
 *   for key blocks of BK: Pt[j][i] = K_j . QT[:,i]  (broadcast K, load QT)
 *     running max in the tile, causal mask on diagonal tiles
 *     online softmax in base 2 (vectorized over queries, no horizontal ops)
 *     Ot[d][i] = alpha_i*Ot[d][i] + sum_j V[j][d] Pt[j][i]  (broadcast V, load P; O kept transposed)
 *   O = Ot^T / l
 */
#include <immintrin.h>
#include <sched.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"

#ifndef BQ
#define BQ 64
#endif
#ifndef BK
#define BK 128
#endif
#ifndef PIN
#define PIN 2
#endif
#ifndef THREADS
#define THREADS 2
#endif

#define NV (BQ / 16)
#define NJ (24 / NV)

#define AI static inline __attribute__((always_inline))

AI __m512 exp2_ps(__m512 x)
{
    /* x <= 0. Clamped at -60: such weights (< 1e-18 of the row max's weight) are negligible
       and stay normal numbers (no denormal assists); -inf (masked) maps to 2^-60. */
    x = _mm512_max_ps(x, _mm512_set1_ps(-60.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5252733804059840e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381606e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* scores for nj keys starting at row Kj, all BQ queries */
AI void qk_tile(const int nj, const float *QT, int D, const float *Kj, float *Pt, float *bmax, int diag,
                int q0, int j0)
{
    __m512 acc[NJ][NV];
#pragma GCC unroll 32
    for (int jj = 0; jj < nj; jj++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) acc[jj][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 qv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) qv[v] = _mm512_load_ps(QT + (long)d * BQ + 16 * v);
#pragma GCC unroll 32
        for (int jj = 0; jj < nj; jj++) {
            __m512 kb = _mm512_set1_ps(Kj[(long)jj * D + d]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[jj][v] = _mm512_fmadd_ps(kb, qv[v], acc[jj][v]);
        }
    }
    if (diag) {
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) {
            __m512i iq = _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * v));
#pragma GCC unroll 32
            for (int jj = 0; jj < nj; jj++) {
                __mmask16 m = _mm512_cmplt_epi32_mask(iq, _mm512_set1_epi32(j0 + jj));
                acc[jj][v] = _mm512_mask_mov_ps(acc[jj][v], m, ninf);
            }
        }
    }
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) {
        __m512 mx = _mm512_load_ps(bmax + 16 * v);
#pragma GCC unroll 32
        for (int jj = 0; jj < nj; jj++) {
            mx = _mm512_max_ps(mx, acc[jj][v]);
            _mm512_store_ps(Pt + (long)jj * BQ + 16 * v, acc[jj][v]);
        }
        _mm512_store_ps(bmax + 16 * v, mx);
    }
}

/* Ot[d0+dd][i] = alpha_i*Ot + sum_j V[j][d0+dd] Pt[j][i]  for td d-rows x all BQ queries */
AI void pvt_tile(const int td, const float *Pt, int nk, const float *Vb, int D, float *Ot, const float *alpha,
                 int first)
{
    __m512 acc[NJ][NV];
    if (first) {
#pragma GCC unroll 32
        for (int dd = 0; dd < td; dd++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[dd][v] = _mm512_setzero_ps();
    } else {
        __m512 a[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) a[v] = _mm512_load_ps(alpha + 16 * v);
#pragma GCC unroll 32
        for (int dd = 0; dd < td; dd++)
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[dd][v] = _mm512_mul_ps(_mm512_load_ps(Ot + (long)dd * BQ + 16 * v), a[v]);
    }
    for (int j = 0; j < nk; j++) {
        __m512 pv[NV];
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) pv[v] = _mm512_load_ps(Pt + (long)j * BQ + 16 * v);
        const float *vr = Vb + (long)j * D;
#pragma GCC unroll 32
        for (int dd = 0; dd < td; dd++) {
            __m512 vb = _mm512_set1_ps(vr[dd]);
#pragma GCC unroll 16
            for (int v = 0; v < NV; v++) acc[dd][v] = _mm512_fmadd_ps(vb, pv[v], acc[dd][v]);
        }
    }
#pragma GCC unroll 32
    for (int dd = 0; dd < td; dd++)
#pragma GCC unroll 16
        for (int v = 0; v < NV; v++) _mm512_store_ps(Ot + (long)dd * BQ + 16 * v, acc[dd][v]);
}

typedef struct {
    int B, H, S, D, causal, nqb, Dp;
    long nitems;
    long next;
    const float *Q, *K, *V;
    float *O;
} job_t;

typedef struct {
    float *QT, *Pt, *Ob;
    float *m, *l, *alpha, *bmax;
} scratch_t;

static void qk_dispatch(int nj, const float *QT, int D, const float *Kj, float *Pt, float *bmax, int diag, int q0,
                        int j0)
{
    switch (nj) {
#define QC(n)                                                                                                          \
    case n: qk_tile(n < NJ ? n : NJ, QT, D, Kj, Pt, bmax, diag, q0, j0); break;
        QC(1) QC(2) QC(3) QC(4) QC(5) QC(6) QC(7) QC(8) QC(9) QC(10) QC(11) QC(12)
        QC(13) QC(14) QC(15) QC(16) QC(17) QC(18) QC(19) QC(20) QC(21) QC(22) QC(23) QC(24)
#undef QC
    default: break;
    }
}

static void pvt_dispatch(int td, const float *Pt, int nk, const float *Vb, int D, float *Ot, const float *alpha,
                         int first)
{
    switch (td) {
#define PCS(n)                                                                                                         \
    case n: pvt_tile(n < NJ ? n : NJ, Pt, nk, Vb, D, Ot, alpha, first); break;
        PCS(1) PCS(2) PCS(3) PCS(4) PCS(5) PCS(6) PCS(7) PCS(8) PCS(9) PCS(10) PCS(11) PCS(12)
#undef PCS
    default: break;
    }
}

static void do_item(const job_t *jb, scratch_t *sc, long bh, int qb)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float *q = jb->Q + bh * (long)S * D, *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const int q0 = qb * BQ;
    const int nq = S - q0 < BQ ? S - q0 : BQ;
    const float sc2 = 1.4426950408889634f / sqrtf((float)D);
    float *QT = sc->QT, *Pt = sc->Pt, *Ob = sc->Ob;

    {
        /* QT[d][i] = Q[q0+i][d]*sc2 by gathers (16 query rows a vector); rows >= nq are zero */
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512i rowoff = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
        const __m512 vs = _mm512_set1_ps(sc2);
        for (int v2 = 0; v2 < NV; v2++) {
            int rem = nq - 16 * v2;
            __mmask16 mk = rem >= 16 ? (__mmask16)0xFFFF : (rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u));
            const float *base = q + (long)(q0 + 16 * v2) * D;
            for (int d = 0; d < D; d++) {
                __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, rowoff, base + d, 4);
                _mm512_store_ps(QT + (long)d * BQ + 16 * v2, _mm512_mul_ps(g, vs));
            }
        }
    }
    for (int v2 = 0; v2 < NV; v2++) {
        _mm512_store_ps(sc->m + 16 * v2, _mm512_set1_ps(-INFINITY));
        _mm512_store_ps(sc->l + 16 * v2, _mm512_setzero_ps());
    }
    const int kend = causal ? (q0 + nq < S ? q0 + nq : S) : S;
    for (int k0 = 0; k0 < kend; k0 += BK) {
        const int nk = kend - k0 < BK ? kend - k0 : BK;
        for (int v2 = 0; v2 < NV; v2++) _mm512_store_ps(sc->bmax + 16 * v2, _mm512_set1_ps(-INFINITY));
        for (int j0 = k0; j0 < k0 + nk; j0 += NJ) {
            int nj = k0 + nk - j0 < NJ ? k0 + nk - j0 : NJ;
            int diag = causal && (j0 + nj - 1 > q0);
            qk_dispatch(nj, QT, D, k + (long)j0 * D, Pt + (long)(j0 - k0) * BQ, sc->bmax, diag, q0, j0);
        }
        /* online softmax, base 2 */
        for (int v2 = 0; v2 < NV; v2++) {
            __m512 mold = _mm512_load_ps(sc->m + 16 * v2);
            __m512 mnew = _mm512_max_ps(mold, _mm512_load_ps(sc->bmax + 16 * v2));
            __m512 a = exp2_ps(_mm512_sub_ps(mold, mnew));
            _mm512_store_ps(sc->alpha + 16 * v2, a);
            _mm512_store_ps(sc->m + 16 * v2, mnew);
            __m512 lv = _mm512_mul_ps(_mm512_load_ps(sc->l + 16 * v2), a);
            float *pp = Pt + 16 * v2;
            for (int j = 0; j < nk; j++) {
                __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pp + (long)j * BQ), mnew));
                _mm512_store_ps(pp + (long)j * BQ, p);
                lv = _mm512_add_ps(lv, p);
            }
            _mm512_store_ps(sc->l + 16 * v2, lv);
        }
        const int first = (k0 == 0);
        for (int d0 = 0; d0 < D; d0 += NJ) {
            int td = D - d0 < NJ ? D - d0 : NJ;
            pvt_dispatch(td, Pt, nk, v + (long)k0 * D + d0, D, Ob + (long)d0 * BQ, sc->alpha, first);
        }
    }
    {
        /* O[q0+i][d] = Ot[d][i] / l_i: gather 16 d's of column i, store the row contiguously */
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512i coloff = _mm512_mullo_epi32(iota, _mm512_set1_epi32(BQ));
        for (int i = 0; i < nq; i++) {
            float *dst = o + (long)(q0 + i) * D;
            const __m512 iv = _mm512_set1_ps(1.0f / sc->l[i]);
            for (int d0 = 0; d0 < D; d0 += 16) {
                int rem = D - d0;
                __mmask16 mk = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, coloff, Ob + (long)d0 * BQ + i, 4);
                _mm512_mask_storeu_ps(dst + d0, mk, _mm512_mul_ps(g, iv));
            }
        }
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    scratch_t sc;
    size_t nQT = (size_t)jb->D * BQ, nPt = (size_t)BK * BQ, nOb = (size_t)BQ * jb->D;
    size_t total = nQT + nPt + nOb + 4 * BQ;
    float *buf = aligned_alloc(64, total * sizeof(float));
    if (!buf) return (void *)1;
    sc.QT = buf;
    sc.Pt = sc.QT + nQT;
    sc.Ob = sc.Pt + nPt;
    sc.m = sc.Ob + nOb;
    sc.l = sc.m + BQ;
    sc.alpha = sc.l + BQ;
    sc.bmax = sc.alpha + BQ;
    const long BH = (long)jb->B * jb->H;
    (void)BH;
    for (;;) {
        long it = __atomic_fetch_add(&jb->next, 1, __ATOMIC_RELAXED);
        if (it >= jb->nitems) break;
        long bh = it / jb->nqb;
        int qb = jb->nqb - 1 - (int)(it % jb->nqb);
        do_item(jb, &sc, bh, qb);
    }
    free(buf);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t jb;
    jb.B = B;
    jb.H = H;
    jb.S = S;
    jb.D = D;
    jb.causal = causal;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.Dp = (D + 63) / 64 * 64;
    jb.nitems = (long)B * H * jb.nqb;
    jb.next = 0;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    int nt = THREADS;
    if (nt > jb.nitems) nt = (int)jb.nitems;
    if (nt < 1) nt = 1;
    pthread_t th[64];
    int started = 0;
    /* PIN=1: the caller works and helper t runs pinned on an allowed CPU other than the
       caller's. PIN=2: every worker is a pinned thread (the first on the caller's CPU, the
       others elsewhere) and the caller only waits, so no worker can be migrated onto a
       CPU another worker already uses. The caller's own affinity is never changed. */
    int cpus[256], ncpu = 0, self = -1;
#if PIN
    {
        cpu_set_t allowed;
        if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
            self = sched_getcpu();
#if PIN == 2
            if (self >= 0 && self < CPU_SETSIZE && CPU_ISSET(self, &allowed)) cpus[ncpu++] = self;
#endif
            for (int c = 0; c < 256 && c < CPU_SETSIZE; c++)
                if (CPU_ISSET(c, &allowed) && c != self) cpus[ncpu++] = c;
        }
    }
#endif
#if PIN == 2
    const int t0 = ncpu >= 2 ? 0 : 1; /* fall back to PIN=1 behaviour without two CPUs */
#else
    const int t0 = 1;
#endif
    for (int t = t0; t < nt && started < 64; t++) {
        pthread_attr_t attr;
        int use_attr = 0;
        if (ncpu > 0 && pthread_attr_init(&attr) == 0) {
            cpu_set_t cs;
            CPU_ZERO(&cs);
            CPU_SET(cpus[(t - t0) % ncpu], &cs);
            use_attr = pthread_attr_setaffinity_np(&attr, sizeof cs, &cs) == 0;
            if (!use_attr) pthread_attr_destroy(&attr);
        }
        int rc = pthread_create(&th[started], use_attr ? &attr : NULL, worker, &jb);
        if (rc != 0 && use_attr) rc = pthread_create(&th[started], NULL, worker, &jb);
        if (rc == 0) started++;
        if (use_attr) pthread_attr_destroy(&attr);
    }
    (void)self;
    int fail = 0;
    if (t0 == 1 || started < nt) {
        void *r0 = worker(&jb);
        fail = r0 != NULL;
    }
    for (int t = 0; t < started; t++) {
        void *r;
        pthread_join(th[t], &r);
        if (r != NULL) fail = 1;
    }
    if (jb.next < jb.nitems) { /* helpers could not allocate: finish here */
        void *r0 = worker(&jb);
        fail = r0 != NULL;
    }
    /* a worker that failed to allocate took no items; if all failed, report */
    if (fail && jb.next < jb.nitems) return 2;
    return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32",
                                      "BQ=" STR(BQ) " BK=" STR(BK) " THREADS=" STR(THREADS) " PIN=" STR(PIN)};
const spak_kernel_info *spak_info(void) { return &info; }
