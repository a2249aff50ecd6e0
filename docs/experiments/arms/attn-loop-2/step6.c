/* fp32 attention, transposed-score formulation (no shared packing between
 * threads). A task is BQ = 16*NVQ query rows of one (b,h). Q^T of the block is
 * packed privately (pre-scaled by log2(e)/sqrt(D)); scores are kept as S^T
 * [key][row] so the row max, exp2 and row sum are all vertical (elementwise)
 * AVX-512 ops, with no horizontal reductions and no K packing:
 *   pass 1: S^T tile = K rows (broadcast) x Q^T vectors, KJ keys x NVQ vectors,
 *           causal mask + running max fused;
 *   pass 2: per key chunk: P^T = exp2(S^T - m) in L1, then O^T += V^T-bcast x P^T
 *           (DD head dims x NVQ vectors register tile);
 *   end:    O[i][d] = O^T[d][i] / l[i].
 * NT pthreads take tasks from an atomic counter. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <immintrin.h>
#include "abi.h"

#ifndef NVQ
#define NVQ 3 /* row vectors per task: BQ = 16*NVQ rows */
#endif
#ifndef KJ
#define KJ 8 /* keys per QK register tile */
#endif
#ifndef DD
#define DD KJ /* head dims per PV register tile */
#endif
#ifndef KC
#define KC 64 /* keys per exp/PV chunk */
#endif
#define BQ (16 * NVQ)
#define AI __attribute__((always_inline)) static inline
#define MASKV (-1.0e30f) /* masked score: exp2 underflows to exactly 0 */

AI __m512 exp2v(__m512 x)
{
    /* x <= 0. For masked -1e30 roundscale gives -1e30, f = 0, scalef -> +0. */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-04f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* st[jj][..] = sum_d k[jj][d] * qt[d][..] for jj < NJ; keys j0+jj; causal mask
 * (row i valid for key j iff j <= i) when need_mask; running max into mv. */
AI void qk_tile(int NJ, const float *k, int D, const float *qt, float *st, int j0, int i0, int need_mask,
                float *mv)
{
    __m512 acc[8][NVQ]; /* NJ <= 8 */
    for (int jj = 0; jj < NJ; jj++)
        for (int c = 0; c < NVQ; c++) acc[jj][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 qv[NVQ];
        for (int c = 0; c < NVQ; c++) qv[c] = _mm512_load_ps(qt + (long)d * BQ + 16 * c);
        for (int jj = 0; jj < NJ; jj++) {
            __m512 b = _mm512_set1_ps(k[(long)jj * D + d]);
            for (int c = 0; c < NVQ; c++) acc[jj][c] = _mm512_fmadd_ps(b, qv[c], acc[jj][c]);
        }
    }
    if (need_mask) {
        const __m512 mk = _mm512_set1_ps(MASKV);
        for (int jj = 0; jj < NJ; jj++)
            for (int c = 0; c < NVQ; c++) {
                int lo = j0 + jj - (i0 + 16 * c); /* lanes l < lo are masked */
                if (lo <= 0) continue;
                __mmask16 keep = lo >= 16 ? (__mmask16)0 : (__mmask16)(0xFFFFu << lo);
                acc[jj][c] = _mm512_mask_mov_ps(mk, keep, acc[jj][c]);
            }
    }
    for (int c = 0; c < NVQ; c++) {
        __m512 m = _mm512_load_ps(mv + 16 * c);
        for (int jj = 0; jj < NJ; jj++) m = _mm512_max_ps(m, acc[jj][c]);
        _mm512_store_ps(mv + 16 * c, m);
    }
    for (int jj = 0; jj < NJ; jj++)
        for (int c = 0; c < NVQ; c++) _mm512_store_ps(st + (long)jj * BQ + 16 * c, acc[jj][c]);
}

/* ot[dd][..] += sum_{j<kn} v[j][dd] * pt[j][..] for dd < ND */
AI void pv_tile(int ND, const float *pt, const float *v, int D, int kn, float *ot)
{
    __m512 acc[8][NVQ]; /* ND <= 8 */
    for (int dd = 0; dd < ND; dd++)
        for (int c = 0; c < NVQ; c++) acc[dd][c] = _mm512_load_ps(ot + dd * BQ + 16 * c);
    for (int j = 0; j < kn; j++) {
        __m512 pv[NVQ];
        for (int c = 0; c < NVQ; c++) pv[c] = _mm512_load_ps(pt + (long)j * BQ + 16 * c);
        for (int dd = 0; dd < ND; dd++) {
            __m512 b = _mm512_set1_ps(v[(long)j * D + dd]);
            for (int c = 0; c < NVQ; c++) acc[dd][c] = _mm512_fmadd_ps(b, pv[c], acc[dd][c]);
        }
    }
    for (int dd = 0; dd < ND; dd++)
        for (int c = 0; c < NVQ; c++) _mm512_store_ps(ot + dd * BQ + 16 * c, acc[dd][c]);
}

/* P^T = exp2(S^T - m) in place for kn keys, sums += P^T. Out of line so the
 * exp constants are not kept live in registers across the PV tiles. */
static __attribute__((noinline)) void exp_chunk(float *pt, int kn, const float *mv, float *sums)
{
    for (int c = 0; c < NVQ; c++) {
        __m512 m = _mm512_load_ps(mv + 16 * c), sm = _mm512_load_ps(sums + 16 * c);
        for (int j = 0; j < kn; j++) {
            __m512 e = exp2v(_mm512_sub_ps(_mm512_load_ps(pt + (long)j * BQ + 16 * c), m));
            _mm512_store_ps(pt + (long)j * BQ + 16 * c, e);
            sm = _mm512_add_ps(sm, e);
        }
        _mm512_store_ps(sums + 16 * c, sm);
    }
}

/* Out-of-line full tiles: a fresh register allocation keeps all row/acc state
 * in registers (inlined into the worker loop nest, GCC spilled GPRs/zmm). */
static __attribute__((noinline)) void qk_full(const float *k, int D, const float *qt, float *st, int j0, int i0,
                                              int need_mask, float *mv)
{
    qk_tile(KJ, k, D, qt, st, j0, i0, need_mask, mv);
}
static __attribute__((noinline)) void pv_full(const float *pt, const float *v, int D, int kn, float *ot)
{
    pv_tile(DD, pt, v, D, kn, ot);
}

#define SWITCH8(N, CALL)     \
    switch (N) {             \
    case 8: CALL(8); break;  \
    case 7: CALL(7); break;  \
    case 6: CALL(6); break;  \
    case 5: CALL(5); break;  \
    case 4: CALL(4); break;  \
    case 3: CALL(3); break;  \
    case 2: CALL(2); break;  \
    default: CALL(1); break; \
    }

typedef struct {
    int S, D, causal, nqb, ntasks;
    const float *Q, *K, *V;
    float *O;
    int *next;
    int err;
} job_t;

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float sc = (float)(1.4426950408889634 / sqrt((double)D));
    float *Qt = aligned_alloc(64, sizeof(float) * (size_t)D * BQ);
    float *St = aligned_alloc(64, sizeof(float) * (size_t)S * BQ);
    float *Ot = aligned_alloc(64, sizeof(float) * (size_t)D * BQ);
    if (!Qt || !St || !Ot) {
        jb->err = 1;
        free(Qt); free(St); free(Ot);
        return NULL;
    }
    float mv[BQ] __attribute__((aligned(64)));
    for (;;) {
        int t = __atomic_fetch_add(jb->next, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
        long bh = t / jb->nqb;
        int qi = t % jb->nqb;
        int qb = causal ? jb->nqb - 1 - qi : qi;
        const float *q = jb->Q + bh * (long)S * D, *k = jb->K + bh * (long)S * D,
                    *v = jb->V + bh * (long)S * D;
        float *o = jb->O + bh * (long)S * D;
        const int i0 = qb * BQ;
        const int nq = S - i0 < BQ ? S - i0 : BQ;
        const int kend = causal ? i0 + nq : S;
        /* pack Q^T (scaled), zero rows beyond nq */
        for (int d = 0; d < D; d++) {
            float *dst = Qt + (long)d * BQ;
            for (int r = 0; r < nq; r++) dst[r] = q[(long)(i0 + r) * D + d] * sc;
            for (int r = nq; r < BQ; r++) dst[r] = 0.0f;
        }
        for (int c = 0; c < NVQ; c++) _mm512_store_ps(mv + 16 * c, _mm512_set1_ps(-INFINITY));
        /* pass 1: S^T */
        for (int j0 = 0; j0 < kend; j0 += KJ) {
            int nj = kend - j0 < KJ ? kend - j0 : KJ;
            int need_mask = causal && (j0 + nj - 1 > i0);
            const float *kr = k + (long)j0 * D;
            float *st = St + (long)j0 * BQ;
            if (nj == KJ)
                qk_full(kr, D, Qt, st, j0, i0, need_mask, mv);
            else {
#define QK(N) qk_tile(N, kr, D, Qt, st, j0, i0, need_mask, mv)
                SWITCH8(nj, QK)
#undef QK
            }
        }
        /* pass 2: exp + P V, key-chunk outer */
        float sums[BQ] __attribute__((aligned(64)));
        for (int c = 0; c < NVQ; c++) _mm512_store_ps(sums + 16 * c, _mm512_setzero_ps());
        memset(Ot, 0, sizeof(float) * (size_t)D * BQ);
        for (int jc = 0; jc < kend; jc += KC) {
            int kn = kend - jc < KC ? kend - jc : KC;
            float *pt = St + (long)jc * BQ;
            exp_chunk(pt, kn, mv, sums);
            const float *vj = v + (long)jc * D;
            for (int d0 = 0; d0 < D; d0 += DD) {
                int nd = D - d0 < DD ? D - d0 : DD;
                if (nd == DD)
                    pv_full(pt, vj + d0, D, kn, Ot + (long)d0 * BQ);
                else {
#define PV(N) pv_tile(N, pt, vj + d0, D, kn, Ot + (long)d0 * BQ)
                    SWITCH8(nd, PV)
#undef PV
                }
            }
        }
        float linv[BQ] __attribute__((aligned(64)));
        for (int c = 0; c < NVQ; c++)
            _mm512_store_ps(linv + 16 * c, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_load_ps(sums + 16 * c)));
        for (int r = 0; r < nq; r++) {
            float il = linv[r];
            float *dst = o + (long)(i0 + r) * D;
            for (int d = 0; d < D; d++) dst[d] = Ot[(long)d * BQ + r] * il;
        }
    }
    free(Qt); free(St); free(Ot);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int next = 0;
    int nqb = (S + BQ - 1) / BQ;
    long ntl = (long)B * H * nqb;
    if (ntl > 0x7fffffffL) return 3;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > 64) ncpu = 64;
    if (ncpu > ntl) ncpu = (int)ntl;
    job_t jobs[64];
    pthread_t th[64];
    int started[64];
    for (int t = 0; t < ncpu; t++) jobs[t] = (job_t){S, D, causal, nqb, (int)ntl, Q, K, V, O, &next, 0};
    for (int t = 1; t < ncpu; t++) started[t] = pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    worker(&jobs[0]);
    int err = jobs[0].err;
    for (int t = 1; t < ncpu; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        err |= jobs[t].err;
    }
    if (err && next < (int)ntl) return 2; /* some tasks were left undone */
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/transposed-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
