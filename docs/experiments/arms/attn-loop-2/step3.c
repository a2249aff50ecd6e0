/* Flash-style fp32 attention: blocked QK^T (packed, pre-scaled K^T) with
 * AVX-512 register tiles, online softmax with vector exp2, PV register tiles,
 * pthreads over (bh, query-block) tasks with an atomic counter. */
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
#ifndef BK
#define BK 64
#endif
#define RT 6 /* rows per register tile */
#define AI __attribute__((always_inline)) static inline

AI __m512 exp2v(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f)); /* masked (-inf) -> 2^-100, negligible */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381606e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* s[r][0..64) = sum_d q[r][d] * kt[d][0..64) */
AI void qk_tile(int R, const float *q, int D, const float *kt, float *s)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kr = kt + (long)d * BK;
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
        for (int c = 0; c < 4; c++) _mm512_store_ps(s + r * BK + 16 * c, acc[r][c]);
}

/* o[r][0..16*NV) = o*alpha[r] + sum_j p[r][j] v[j][..] */
AI void pv_tile(int R, int NV, const float *p, const float *v, long ldv, int kn, float *o, int ldo,
                const float *alpha)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++) {
        __m512 a = _mm512_set1_ps(alpha[r]);
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_mul_ps(a, _mm512_load_ps(o + r * ldo + 16 * c));
    }
    for (int j = 0; j < kn; j++) {
        __m512 vv[4];
        for (int c = 0; c < NV; c++) vv[c] = _mm512_loadu_ps(v + (long)j * ldv + 16 * c);
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(p[r * BK + j]);
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
    int nqb, ntasks, nkb, Dp;
    float *Kt, *Vp; /* shared packed K^T (scaled) and padded V for all bh */
    int *next, *flags; /* flags[bh*nkb+kb]: 0 unpacked, 1 packing, 2 ready */
    int err;
} job_t;

static void pack_block(job_t *jb, long bh, int kb)
{
    const int S = jb->S, D = jb->D, Dp = jb->Dp, nkb = jb->nkb;
    const float sc = (float)(1.4426950408889634 / sqrt((double)D));
    const float *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *dst = jb->Kt + (bh * (long)nkb + kb) * BK * D;
    for (int jj = 0; jj < BK; jj++) {
        int j = kb * BK + jj;
        if (j < S)
            for (int d = 0; d < D; d++) dst[(long)d * BK + jj] = k[(long)j * D + d] * sc;
        else
            for (int d = 0; d < D; d++) dst[(long)d * BK + jj] = 0.0f;
    }
    if (jb->Vp) {
        float *Vp = jb->Vp + bh * (long)S * Dp;
        int jend = kb * BK + BK < S ? kb * BK + BK : S;
        for (int j = kb * BK; j < jend; j++) {
            memcpy(Vp + (long)j * Dp, v + (long)j * D, sizeof(float) * D);
            for (int d = D; d < Dp; d++) Vp[(long)j * Dp + d] = 0.0f;
        }
    }
}

/* make key block kb of head bh ready: pack it, or wait for the thread packing it */
static inline void need_block(job_t *jb, long bh, int kb)
{
    int *f = jb->flags + bh * jb->nkb + kb;
    int st = __atomic_load_n(f, __ATOMIC_ACQUIRE);
    if (st == 2) return;
    int zero = 0;
    if (st == 0 && __atomic_compare_exchange_n(f, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        pack_block(jb, bh, kb);
        __atomic_store_n(f, 2, __ATOMIC_RELEASE);
        return;
    }
    while (__atomic_load_n(f, __ATOMIC_ACQUIRE) != 2) sched_yield();
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = (D + 15) & ~15;
    const int nkb = (S + BK - 1) / BK;
    float *Sb = aligned_alloc(64, sizeof(float) * BQ * BK);
    float *Ob = aligned_alloc(64, sizeof(float) * BQ * Dp);
    float mrow[BQ], lrow[BQ], alpha[BQ];
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
        const float *q = jb->Q + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
        float *o = jb->O + bh * (long)S * D;
        const float *Kt = jb->Kt + bh * (long)nkb * BK * D;
        const float *Vp = jb->Vp ? jb->Vp + bh * (long)S * Dp : NULL;
        const float *vb = Vp ? Vp : v;
        const long ldv = Vp ? Dp : D;
        const int i0 = qb * BQ;
        const int nq = S - i0 < BQ ? S - i0 : BQ;
        for (int r = 0; r < nq; r++) {
            mrow[r] = -INFINITY;
            lrow[r] = 0.0f;
        }
        memset(Ob, 0, sizeof(float) * BQ * Dp);
        const int kend = causal ? i0 + nq : S;
        for (int j0 = 0; j0 < kend; j0 += BK) {
            const int kn = kend - j0 < BK ? kend - j0 : BK;
            const int wc = (kn + 63) & ~63;
            need_block(jb, bh, j0 / BK);
            const float *ktb = Kt + (long)(j0 / BK) * BK * D;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                const float *qr = q + (long)(i0 + r0) * D;
                for (int jc = 0; jc < wc; jc += 64) {
                    float *s = Sb + r0 * BK + jc;
                    switch (R) {
                    case 6: qk_tile(6, qr, D, ktb + jc, s); break;
                    case 5: qk_tile(5, qr, D, ktb + jc, s); break;
                    case 4: qk_tile(4, qr, D, ktb + jc, s); break;
                    case 3: qk_tile(3, qr, D, ktb + jc, s); break;
                    case 2: qk_tile(2, qr, D, ktb + jc, s); break;
                    default: qk_tile(1, qr, D, ktb + jc, s); break;
                    }
                }
            }
            /* mask + online softmax */
            for (int r = 0; r < nq; r++) {
                float *s = Sb + r * BK;
                int nv = kn;
                if (causal) {
                    int lim = i0 + r - j0 + 1;
                    if (lim < nv) nv = lim;
                    if (nv < 0) nv = 0;
                }
                for (int j = nv; j < wc; j++) s[j] = -INFINITY;
                __m512 mx = _mm512_set1_ps(-INFINITY);
                for (int j = 0; j < wc; j += 16) mx = _mm512_max_ps(mx, _mm512_load_ps(s + j));
                float mb = _mm512_reduce_max_ps(mx);
                float mnew = mrow[r] > mb ? mrow[r] : mb;
                if (mnew == -INFINITY) {
                    alpha[r] = 1.0f;
                    for (int j = 0; j < wc; j++) s[j] = 0.0f;
                    continue;
                }
                alpha[r] = exp2f(mrow[r] - mnew);
                mrow[r] = mnew;
                __m512 mv = _mm512_set1_ps(mnew), sum = _mm512_setzero_ps();
                for (int j = 0; j < wc; j += 16) {
                    __m512 e = exp2v(_mm512_sub_ps(_mm512_load_ps(s + j), mv));
                    _mm512_store_ps(s + j, e);
                    sum = _mm512_add_ps(sum, e);
                }
                lrow[r] = lrow[r] * alpha[r] + _mm512_reduce_add_ps(sum);
            }
            /* O += P V */
            const float *vj = vb + (long)j0 * ldv;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                int kt = kn;
                if (causal) {
                    int lim = i0 + r0 + R - j0;
                    if (lim < kt) kt = lim;
                    if (kt < 0) kt = 0;
                }
                const float *p = Sb + r0 * BK;
                float *ob = Ob + r0 * Dp;
                const float *al = alpha + r0;
                int c0 = 0;
                for (; c0 + 64 <= Dp; c0 += 64) {
                    switch (R) {
                    case 6: pv_tile(6, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 5: pv_tile(5, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 4: pv_tile(4, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 3: pv_tile(3, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 2: pv_tile(2, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    default: pv_tile(1, 4, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    }
                }
                for (; c0 < Dp; c0 += 16) {
                    switch (R) {
                    case 6: pv_tile(6, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 5: pv_tile(5, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 4: pv_tile(4, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 3: pv_tile(3, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    case 2: pv_tile(2, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    default: pv_tile(1, 1, p, vj + c0, ldv, kt, ob + c0, Dp, al); break;
                    }
                }
            }
        }
        for (int r = 0; r < nq; r++) {
            float inv = 1.0f / lrow[r];
            float *dst = o + (long)(i0 + r) * D;
            const float *src = Ob + r * Dp;
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
    int nkb = (S + BK - 1) / BK;
    int Dp = (D + 15) & ~15;
    long nbh = (long)B * H;
    long ntl = nbh * nqb;
    if (ntl > 0x7fffffffL) return 3;
    float *Kt = aligned_alloc(64, sizeof(float) * (size_t)nbh * nkb * BK * D);
    float *Vp = (D % 16) ? aligned_alloc(64, sizeof(float) * (size_t)nbh * S * Dp) : NULL;
    int *flags = calloc((size_t)nbh * nkb, sizeof(int));
    if (!Kt || !flags || ((D % 16) && !Vp)) {
        free(Kt); free(Vp); free(flags);
        return 2;
    }
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > 64) ncpu = 64;
    if (ncpu > ntl) ncpu = (int)ntl;
    job_t jobs[64];
    pthread_t th[64];
    int started[64];
    for (int t = 0; t < ncpu; t++)
        jobs[t] = (job_t){B, H, S, D, causal, Q, K, V, O, nqb, (int)ntl, nkb, Dp, Kt, Vp, &next, flags, 0};
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

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
