/* fp32 attention, "full-row" blocked variant: for a block of BQ query rows,
 * pass 1 computes all its scores (AVX-512 6x64 register tiles on packed,
 * pre-scaled K^T, chunk-outer so each 16 KB K^T chunk is reused from L1),
 * pass 2 does an exact row softmax (one max, one exp2 pass, no online
 * rescaling), pass 3 accumulates P V chunk-outer into an L1-resident O block.
 * Threads: NT pthreads on an atomic counter over (bh, q-block) tasks; K^T/V
 * packing is lazy per 64-key chunk, claimed with atomic flags. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <sched.h>
#include <immintrin.h>
#include "abi.h"

#ifndef BQ
#define BQ 48
#endif
#ifndef NT
#define NT 0 /* 0: all online cpus */
#endif
#define CK 64 /* keys per packed chunk */
#define RT 6  /* rows per register tile */
#define AI __attribute__((always_inline)) static inline

AI __m512 exp2v(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f)); /* masked (-inf) -> 2^-100, negligible */
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

/* s[r][0..64) = sum_d q[r][d] * kt[d][0..64) */
AI void qk_tile(int R, const float *q, int D, const float *kt, float *s, int lds)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kr = kt + (long)d * CK;
        __m512 k0 = _mm512_load_ps(kr), k1 = _mm512_load_ps(kr + 16), k2 = _mm512_load_ps(kr + 32),
               k3 = _mm512_load_ps(kr + 48);
        __asm__("" : "+v"(k0), "+v"(k1), "+v"(k2), "+v"(k3)); /* keep K^T in registers */
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(q[(long)r * D + d]);
            acc[r][0] = _mm512_fmadd_ps(b, k0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(b, k1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(b, k2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(b, k3, acc[r][3]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) _mm512_store_ps(s + (long)r * lds + 16 * c, acc[r][c]);
}

/* o[r][0..16*NV) += sum_{j<kn} p[r][j] v[j][..] */
AI void pv_tile(int R, int NV, const float *p, int ldp, const float *v, long ldv, int kn, float *o, int ldo)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_load_ps(o + r * ldo + 16 * c);
    for (int j = 0; j < kn; j++) {
        __m512 vv[4];
        for (int c = 0; c < NV; c++) vv[c] = _mm512_loadu_ps(v + (long)j * ldv + 16 * c);
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(p[(long)r * ldp + j]);
            for (int c = 0; c < NV; c++) acc[r][c] = _mm512_fmadd_ps(b, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < NV; c++) _mm512_store_ps(o + r * ldo + 16 * c, acc[r][c]);
}

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nqb, ntasks, nkc, Dp, W;
    float *Kt, *Vp; /* shared packed K^T (scaled) [bh][chunk][D][CK] and padded V */
    int *next, *flags; /* flags[bh*nkc+c]: 0 unpacked, 1 packing, 2 ready */
    int err;
} job_t;

static void pack_chunk(job_t *jb, long bh, int kc)
{
    const int S = jb->S, D = jb->D, Dp = jb->Dp, nkc = jb->nkc;
    const float sc = (float)(1.4426950408889634 / sqrt((double)D));
    const float *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *dst = jb->Kt + (bh * (long)nkc + kc) * CK * D;
    for (int jj = 0; jj < CK; jj++) {
        int j = kc * CK + jj;
        if (j < S)
            for (int d = 0; d < D; d++) dst[(long)d * CK + jj] = k[(long)j * D + d] * sc;
        else
            for (int d = 0; d < D; d++) dst[(long)d * CK + jj] = 0.0f;
    }
    if (jb->Vp) {
        float *Vp = jb->Vp + bh * (long)S * Dp;
        int jend = kc * CK + CK < S ? kc * CK + CK : S;
        for (int j = kc * CK; j < jend; j++) {
            memcpy(Vp + (long)j * Dp, v + (long)j * D, sizeof(float) * D);
            for (int d = D; d < Dp; d++) Vp[(long)j * Dp + d] = 0.0f;
        }
    }
}

static inline void need_chunk(job_t *jb, long bh, int kc)
{
    int *f = jb->flags + bh * jb->nkc + kc;
    int st = __atomic_load_n(f, __ATOMIC_ACQUIRE);
    if (st == 2) return;
    int zero = 0;
    if (st == 0 && __atomic_compare_exchange_n(f, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        pack_chunk(jb, bh, kc);
        __atomic_store_n(f, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(f, __ATOMIC_ACQUIRE) != 2) sched_yield();
}

#define SWITCH_R(R, CALL)          \
    switch (R) {                   \
    case 6: CALL(6); break;        \
    case 5: CALL(5); break;        \
    case 4: CALL(4); break;        \
    case 3: CALL(3); break;        \
    case 2: CALL(2); break;        \
    default: CALL(1); break;       \
    }

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, causal = jb->causal, Dp = jb->Dp, W = jb->W, nkc = jb->nkc;
    float *Sb = aligned_alloc(64, sizeof(float) * (size_t)BQ * W);
    float *Ob = aligned_alloc(64, sizeof(float) * (size_t)BQ * Dp);
    float linv[BQ];
    if (!Sb || !Ob) {
        jb->err = 1;
        free(Sb); free(Ob);
        return NULL;
    }
    for (;;) {
        int t = __atomic_fetch_add(jb->next, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
        long bh = t / jb->nqb;
        int qi = t % jb->nqb;
        int qb = causal ? jb->nqb - 1 - qi : qi;
        const float *q = jb->Q + bh * (long)S * D;
        float *o = jb->O + bh * (long)S * D;
        const float *Kt = jb->Kt + bh * (long)nkc * CK * D;
        const float *vb = jb->Vp ? jb->Vp + bh * (long)S * Dp : jb->V + bh * (long)S * D;
        const long ldv = jb->Vp ? Dp : D;
        const int i0 = qb * BQ;
        const int nq = S - i0 < BQ ? S - i0 : BQ;
        const int kend = causal ? i0 + nq : S; /* keys [0, kend) */
        const int nch = (kend + CK - 1) / CK;
        /* pass 1: scores, chunk-outer */
        for (int kc = 0; kc < nch; kc++) {
            need_chunk(jb, bh, kc);
            const float *ktc = Kt + (long)kc * CK * D;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                const float *qr = q + (long)(i0 + r0) * D;
                float *s = Sb + (long)r0 * W + kc * CK;
                if (causal && kc * CK > i0 + r0 + R - 1) continue; /* all masked for this tile */
#define QK(RR) qk_tile(RR, qr, D, ktc, s, W)
                SWITCH_R(R, QK)
#undef QK
            }
        }
        /* pass 2: exact row softmax; P is exactly zero beyond each row's valid keys */
        const int wend = nch * CK;
        for (int r = 0; r < nq; r++) {
            float *s = Sb + (long)r * W;
            int nv = causal ? i0 + r + 1 : S;
            int nv16 = nv & ~15, rem = nv - nv16;
            __mmask16 tm = (__mmask16)((1u << rem) - 1u);
            __m512 mx = _mm512_set1_ps(-INFINITY);
            for (int j = 0; j < nv16; j += 16) mx = _mm512_max_ps(mx, _mm512_load_ps(s + j));
            if (rem) mx = _mm512_mask_max_ps(mx, tm, mx, _mm512_load_ps(s + nv16));
            __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
            for (int j = 0; j < nv16; j += 16) {
                __m512 e = exp2v(_mm512_sub_ps(_mm512_load_ps(s + j), mv));
                _mm512_store_ps(s + j, e);
                sum = _mm512_add_ps(sum, e);
            }
            int z = nv16;
            if (rem) {
                __m512 e = _mm512_maskz_mov_ps(tm, exp2v(_mm512_sub_ps(_mm512_load_ps(s + nv16), mv)));
                _mm512_store_ps(s + nv16, e);
                sum = _mm512_add_ps(sum, e);
                z += 16;
            }
            for (int j = z; j < wend; j += 16) _mm512_store_ps(s + j, _mm512_setzero_ps());
            linv[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        /* pass 3: O = P V, chunk-outer (V chunk reused from L1) */
        memset(Ob, 0, sizeof(float) * (size_t)BQ * Dp);
        for (int kc = 0; kc < nch; kc++) {
            const int j0 = kc * CK;
            const int kn = kend - j0 < CK ? kend - j0 : CK;
            const float *vj = vb + (long)j0 * ldv;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                int kt = kn;
                if (causal) {
                    int lim = i0 + r0 + R - j0;
                    if (lim < kt) kt = lim;
                    if (kt <= 0) continue;
                }
                const float *p = Sb + (long)r0 * W + j0;
                float *ob = Ob + (long)r0 * Dp;
                int c0 = 0;
                for (; c0 + 64 <= Dp; c0 += 64) {
#define PV4(RR) pv_tile(RR, 4, p, W, vj + c0, ldv, kt, ob + c0, Dp)
                    SWITCH_R(R, PV4)
#undef PV4
                }
                for (; c0 < Dp; c0 += 16) {
#define PV1(RR) pv_tile(RR, 1, p, W, vj + c0, ldv, kt, ob + c0, Dp)
                    SWITCH_R(R, PV1)
#undef PV1
                }
            }
        }
        for (int r = 0; r < nq; r++) {
            float inv = linv[r];
            float *dst = o + (long)(i0 + r) * D;
            const float *src = Ob + (long)r * Dp;
            for (int d = 0; d < D; d++) dst[d] = src[d] * inv;
        }
    }
    free(Sb); free(Ob);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int next = 0;
    int nqb = (S + BQ - 1) / BQ;
    int nkc = (S + CK - 1) / CK;
    int Dp = (D + 15) & ~15;
    int W = nkc * CK;
    long nbh = (long)B * H;
    long ntl = nbh * nqb;
    if (ntl > 0x7fffffffL) return 3;
    float *Kt = aligned_alloc(64, sizeof(float) * (size_t)nbh * nkc * CK * D);
    float *Vp = (D % 16) ? aligned_alloc(64, sizeof(float) * (size_t)nbh * S * Dp) : NULL;
    int *flags = calloc((size_t)nbh * nkc, sizeof(int));
    if (!Kt || !flags || ((D % 16) && !Vp)) {
        free(Kt); free(Vp); free(flags);
        return 2;
    }
    int ncpu = NT > 0 ? NT : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > 64) ncpu = 64;
    if (ncpu > ntl) ncpu = (int)ntl;
    job_t jobs[64];
    pthread_t th[64];
    int started[64];
    for (int t = 0; t < ncpu; t++)
        jobs[t] = (job_t){B, H, S, D, causal, Q, K, V, O, nqb, (int)ntl, nkc, Dp, W, Kt, Vp, &next, flags, 0};
    for (int t = 1; t < ncpu; t++) started[t] = pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    worker(&jobs[0]);
    int err = jobs[0].err;
    for (int t = 1; t < ncpu; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        err |= jobs[t].err;
    }
    free(Kt); free(Vp); free(flags);
    if (err && next < (int)ntl) return 2; /* some tasks were left undone */
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/fullrow-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
