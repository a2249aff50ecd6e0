/*
 * step1: blocked attention, AVX-512, 2 threads.
 *  - K transposed per head into Kt[D][Sp] (Sp = S rounded up to 64).
 *  - per work item (head, block of BQ query rows): full score rows for the
 *    block (BQ x W) via a 6x64 register-tiled microkernel, exact row softmax
 *    with a vector exp2, then O = P V via a 6x64 register-tiled microkernel,
 *    normalised at the store.
 *  - causal: key tiles past the diagonal are skipped.
 *  - dynamic scheduling over (head, block) items, heaviest blocks first.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BQ
#define BQ 96
#endif
#ifndef NT
#define NT 0
#endif
#define RQ 6
#define KB 64

#define AI static inline __attribute__((always_inline))

typedef struct {
    int B, H, S, D, causal, Sp, Dp, ldv, nqb, nthreads, items;
    const float *Q, *K, *V;
    float *O, *Kt, *Vp;
    float c;
    long next, pack_next;
} ctx_t;

AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381609e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* S[r][0..64) = sum_d q[r][d] * kt[d][0..64) for r < R */
AI void qk_tile(const int R, const float *q, int D, const float *kt, int ldk, float *s, int lds)
{
    __m512 acc[RQ][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kr = kt + (size_t)d * ldk;
        __m512 k0 = _mm512_loadu_ps(kr), k1 = _mm512_loadu_ps(kr + 16), k2 = _mm512_loadu_ps(kr + 32),
               k3 = _mm512_loadu_ps(kr + 48);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m512 qb = _mm512_set1_ps(q[(size_t)r * D + d]);
            acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(qb, k2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(qb, k3, acc[r][3]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(s + (size_t)r * lds + 16 * v, acc[r][v]);
}

/* o[r][0..16*NV) = invl[r] * sum_{j<n} p[r][j] * v[j][0..16*NV) */
AI void pv_tile(const int R, const int NV, const float *p, int ldp, const float *v, int ldv, int n, float *o,
                int ldo, const float *invl, int rem)
{
    __m512 acc[RQ][4];
#pragma GCC unroll 6
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) acc[r][x] = _mm512_setzero_ps();
    for (int j = 0; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) vv[x] = _mm512_loadu_ps(vr + 16 * x);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m512 pb = _mm512_set1_ps(p[(size_t)r * ldp + j]);
#pragma GCC unroll 4
            for (int x = 0; x < NV; x++) acc[r][x] = _mm512_fmadd_ps(pb, vv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        __m512 sc = _mm512_set1_ps(invl[r]);
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) {
            __m512 val = _mm512_mul_ps(acc[r][x], sc);
            int left = rem - 16 * x;
            float *dst = o + (size_t)r * ldo + 16 * x;
            if (left >= 16)
                _mm512_storeu_ps(dst, val);
            else if (left > 0)
                _mm512_mask_storeu_ps(dst, (__mmask16)((1u << left) - 1u), val);
        }
    }
}

static void qk_dispatch(int rr, const float *q, int D, const float *kt, int ldk, float *s, int lds)
{
    switch (rr) {
    case 6: qk_tile(6, q, D, kt, ldk, s, lds); break;
    case 5: qk_tile(5, q, D, kt, ldk, s, lds); break;
    case 4: qk_tile(4, q, D, kt, ldk, s, lds); break;
    case 3: qk_tile(3, q, D, kt, ldk, s, lds); break;
    case 2: qk_tile(2, q, D, kt, ldk, s, lds); break;
    default: qk_tile(1, q, D, kt, ldk, s, lds); break;
    }
}

#define PVR(R)                                                                                  \
    switch (nv) {                                                                               \
    case 4: pv_tile(R, 4, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    case 3: pv_tile(R, 3, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    case 2: pv_tile(R, 2, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                         \
    default: pv_tile(R, 1, p, ldp, v, ldv, n, o, ldo, invl, rem); break;                        \
    }

static void pv_dispatch(int rr, int nv, const float *p, int ldp, const float *v, int ldv, int n, float *o, int ldo,
                        const float *invl, int rem)
{
    switch (rr) {
    case 6: PVR(6); break;
    case 5: PVR(5); break;
    case 4: PVR(4); break;
    case 3: PVR(3); break;
    case 2: PVR(2); break;
    default: PVR(1); break;
    }
}

static void pack_head(ctx_t *c, long bh)
{
    int S = c->S, D = c->D, Sp = c->Sp;
    const float *k = c->K + (size_t)bh * S * D;
    float *kt = c->Kt + (size_t)bh * D * Sp;
    for (int j0 = 0; j0 < S; j0 += 16) {
        int je = j0 + 16 < S ? j0 + 16 : S;
        for (int d = 0; d < D; d++)
            for (int j = j0; j < je; j++) kt[(size_t)d * Sp + j] = k[(size_t)j * D + d];
    }
    for (int d = 0; d < D; d++)
        for (int j = S; j < Sp; j++) kt[(size_t)d * Sp + j] = 0.0f;
    if (c->Vp) {
        const float *v = c->V + (size_t)bh * S * D;
        float *vp = c->Vp + (size_t)bh * S * c->Dp;
        for (int j = 0; j < S; j++) {
            memcpy(vp + (size_t)j * c->Dp, v + (size_t)j * D, sizeof(float) * D);
            for (int d = D; d < c->Dp; d++) vp[(size_t)j * c->Dp + d] = 0.0f;
        }
    }
}

static void do_item(ctx_t *c, long bh, int qb, float *sbuf, float *invl)
{
    const int S = c->S, D = c->D, Sp = c->Sp, causal = c->causal;
    const int i0 = qb * BQ, i1 = i0 + BQ < S ? i0 + BQ : S, nr = i1 - i0;
    int W = Sp;
    if (causal) {
        W = (i1 + KB - 1) / KB * KB;
        if (W > Sp) W = Sp;
    }
    const float *q = c->Q + (size_t)bh * S * D + (size_t)i0 * D;
    const float *kt = c->Kt + (size_t)bh * D * Sp;
    const float *v = c->Vp ? c->Vp + (size_t)bh * S * c->Dp : c->V + (size_t)bh * S * D;
    const int ldv = c->ldv;
    float *o = c->O + (size_t)bh * S * D + (size_t)i0 * D;

    /* scores */
    for (int j0 = 0; j0 < W; j0 += KB)
        for (int r = 0; r < nr; r += RQ) {
            int rr = nr - r < RQ ? nr - r : RQ;
            if (causal && j0 > i0 + r + rr - 1) continue;
            qk_dispatch(rr, q + (size_t)r * D, D, kt + j0, Sp, sbuf + (size_t)r * Sp + j0, Sp);
        }

    /* softmax (unnormalised exp, 1/l kept) */
    const __m512 vc = _mm512_set1_ps(c->c);
    for (int r = 0; r < nr; r++) {
        int i = i0 + r;
        int n = causal ? i + 1 : S;
        float *s = sbuf + (size_t)r * Sp;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        int j0 = 0;
        for (; j0 + 16 <= n; j0 += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j0));
        if (j0 < n) {
            __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
            vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, s + j0));
        }
        float mx = _mm512_reduce_max_ps(vmax);
        __m512 negm = _mm512_set1_ps(-mx * c->c);
        __m512 vsum = _mm512_setzero_ps();
        for (j0 = 0; j0 + 16 <= n; j0 += 16) {
            __m512 e = exp2_ps(_mm512_fmadd_ps(_mm512_loadu_ps(s + j0), vc, negm));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_storeu_ps(s + j0, e);
        }
        if (j0 < n) {
            __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
            __m512 e = _mm512_maskz_mov_ps(m, exp2_ps(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, s + j0), vc, negm)));
            vsum = _mm512_add_ps(vsum, e);
            _mm512_storeu_ps(s + j0, e);
            j0 += 16;
        }
        for (; j0 < W; j0 += 16) _mm512_storeu_ps(s + j0, _mm512_setzero_ps());
        invl[r] = 1.0f / _mm512_reduce_add_ps(vsum);
    }

    /* O = P V */
    for (int rg = 0; rg < nr; rg += RQ) {
        int rr = nr - rg < RQ ? nr - rg : RQ;
        int jmax = causal ? (i0 + rg + rr < S ? i0 + rg + rr : S) : S;
        for (int c0 = 0; c0 < c->Dp; c0 += 64) {
            int nv = (c->Dp - c0) / 16;
            if (nv > 4) nv = 4;
            pv_dispatch(rr, nv, sbuf + (size_t)rg * Sp, Sp, v + c0, ldv, jmax, o + (size_t)rg * D + c0, D,
                        invl + rg, D - c0);
        }
    }
}

static void *packer(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    long BH = (long)c->B * c->H;
    for (;;) {
        long bh = __atomic_fetch_add(&c->pack_next, 1, __ATOMIC_RELAXED);
        if (bh >= BH) break;
        pack_head(c, bh);
    }
    return NULL;
}

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    long BH = (long)c->B * c->H;
    size_t sb = ((size_t)BQ * c->Sp * sizeof(float) + 63) / 64 * 64;
    float *sbuf = aligned_alloc(64, sb);
    float invl[BQ];
    if (!sbuf) return (void *)1;
    for (;;) {
        long t = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
        if (t >= c->items) break;
        int qb = c->nqb - 1 - (int)(t / BH);
        long bh = t % BH;
        do_item(c, bh, qb, sbuf, invl);
    }
    free(sbuf);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V, float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.B = B; c.H = H; c.S = S; c.D = D; c.causal = causal;
    c.Q = Q; c.K = K; c.V = V; c.O = O;
    c.Sp = (S + KB - 1) / KB * KB;
    c.Dp = (D + 15) / 16 * 16;
    c.nqb = (S + BQ - 1) / BQ;
    long BH = (long)B * H;
    c.items = (int)(BH * c.nqb);
    c.c = 1.4426950408889634f / sqrtf((float)D);
    size_t ktn = (size_t)BH * D * c.Sp;
    c.Kt = aligned_alloc(64, (ktn * sizeof(float) + 63) / 64 * 64);
    if (!c.Kt) return 2;
    if (D % 16) {
        size_t vn = (size_t)BH * S * c.Dp;
        c.Vp = aligned_alloc(64, (vn * sizeof(float) + 63) / 64 * 64);
        if (!c.Vp) { free(c.Kt); return 2; }
        c.ldv = c.Dp;
    } else {
        c.Vp = NULL;
        c.ldv = D;
    }
    int nt = NT > 0 ? NT : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > c.items) nt = c.items;
    c.nthreads = nt;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt && t < (int)BH; t++) {
        if (pthread_create(&th[t], NULL, packer, &c) != 0) break;
        started++;
    }
    packer(&c);
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, worker, &c) != 0) break;
        started++;
    }
    int rc = 0;
    if (worker(&c)) rc = 3;
    for (int t = 1; t <= started; t++) {
        void *r2;
        pthread_join(th[t], &r2);
        if (r2) rc = 3;
    }
    free(c.Kt);
    free(c.Vp);
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step1-blocked-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
