/*
 * step1: blocked attention, AVX-512, 2 threads.
 *  - K packed per head into panels [panel][d][64] (zero padded) by both threads.
 *  - work item = (bh, q-block of BQ = 6*NT rows), taken by atomic counter.
 *  - scores block (BQ x S) computed with a 6x64 register tile, exact row softmax
 *    (vector exp), then O = P V with a 6x64 register tile, normalised at the end.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef NT
#define NT 8
#endif
#ifndef JC
#define JC 256
#endif
#define MR 6
#define NR 64
#define BQ (MR * NT)

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    float *Kp;
    int npan, ldS, Dp, nq, nth;
    long BH, nitems, kpstride;
    float scale;
    long next, pnext, pdone;
} ctx_t;

typedef struct {
    ctx_t *c;
    int tid;
    int err;
} targ_t;

static inline __m512 exp512(__m512 x)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f);
    const __m512 c2 = _mm512_set1_ps(-2.12194440e-4f);
    x = _mm512_max_ps(x, _mm512_set1_ps(-88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, c1, x);
    r = _mm512_fnmadd_ps(n, c2, r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    p = _mm512_fmadd_ps(p, r2, r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tmask(int k)
{
    if (k >= 16) return (__mmask16)0xFFFF;
    if (k <= 0) return 0;
    return (__mmask16)((1u << k) - 1u);
}

/* scores for 6 rows x 64 keys: s[r][c] = q_r . k_c (unscaled) */
static inline void qk_tile(const float *Q, int D, int r0, int rmax, const float *kp, float *s, int ldS)
{
    const float *q[MR];
    for (int r = 0; r < MR; r++) {
        int rr = r0 + r;
        if (rr > rmax) rr = rmax;
        q[r] = Q + (long)rr * D;
    }
    __m512 a[MR][4];
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int d = 0; d < D; d++) {
        const float *kd = kp + (long)d * NR;
        __m512 k0 = _mm512_load_ps(kd), k1 = _mm512_load_ps(kd + 16), k2 = _mm512_load_ps(kd + 32),
               k3 = _mm512_load_ps(kd + 48);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m512 b = _mm512_set1_ps(q[r][d]);
            a[r][0] = _mm512_fmadd_ps(b, k0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b, k1, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(b, k2, a[r][2]);
            a[r][3] = _mm512_fmadd_ps(b, k3, a[r][3]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(s + (long)r * ldS + 16 * c, a[r][c]);
}

/* Ob[r][:] (+)= sum_{j in [jlo,jhi)} P[r][j] V[j][:] for 6 rows */
static inline void pv_tile(const float *P, int ldS, const float *V, int D, int jlo, int jhi, float *Ob, int Dp,
                           int first)
{
    for (int dc = 0; dc < D; dc += 64) {
        int rem = D - dc;
        __mmask16 m0 = tmask(rem), m1 = tmask(rem - 16), m2 = tmask(rem - 32), m3 = tmask(rem - 48);
        __m512 a[MR][4];
        if (first) {
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
                for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
        } else {
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                float *o = Ob + (long)r * Dp + dc;
                a[r][0] = _mm512_maskz_loadu_ps(m0, o);
                a[r][1] = _mm512_maskz_loadu_ps(m1, o + 16);
                a[r][2] = _mm512_maskz_loadu_ps(m2, o + 32);
                a[r][3] = _mm512_maskz_loadu_ps(m3, o + 48);
            }
        }
        const float *p0 = P;
#pragma GCC unroll 2
        for (int j = jlo; j < jhi; j++) {
            const float *v = V + (long)j * D + dc;
            __m512 v0 = _mm512_maskz_loadu_ps(m0, v), v1 = _mm512_maskz_loadu_ps(m1, v + 16),
                   v2 = _mm512_maskz_loadu_ps(m2, v + 32), v3 = _mm512_maskz_loadu_ps(m3, v + 48);
#pragma GCC unroll 6
            for (int r = 0; r < MR; r++) {
                __m512 b = _mm512_set1_ps(p0[(long)r * ldS + j]);
                a[r][0] = _mm512_fmadd_ps(b, v0, a[r][0]);
                a[r][1] = _mm512_fmadd_ps(b, v1, a[r][1]);
                a[r][2] = _mm512_fmadd_ps(b, v2, a[r][2]);
                a[r][3] = _mm512_fmadd_ps(b, v3, a[r][3]);
            }
        }
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            float *o = Ob + (long)r * Dp + dc;
            _mm512_mask_storeu_ps(o, m0, a[r][0]);
            _mm512_mask_storeu_ps(o + 16, m1, a[r][1]);
            _mm512_mask_storeu_ps(o + 32, m2, a[r][2]);
            _mm512_mask_storeu_ps(o + 48, m3, a[r][3]);
        }
    }
}

static void pack_head(const ctx_t *c, long bh)
{
    const float *k = c->K + bh * (long)c->S * c->D;
    float *kp = c->Kp + bh * c->kpstride;
    int S = c->S, D = c->D;
    for (int p = 0; p < c->npan; p++) {
        float *dst = kp + (long)p * NR * D;
        for (int jj = 0; jj < NR; jj++) {
            int j = p * NR + jj;
            if (j < S) {
                const float *src = k + (long)j * D;
                for (int d = 0; d < D; d++) dst[(long)d * NR + jj] = src[d];
            } else {
                for (int d = 0; d < D; d++) dst[(long)d * NR + jj] = 0.0f;
            }
        }
    }
}

static void do_item(const ctx_t *c, long bh, int qb, float *Sb, float *Ob, float *lsum)
{
    const int S = c->S, D = c->D, ldS = c->ldS, Dp = c->Dp, causal = c->causal;
    const float *q = c->Q + bh * (long)S * D;
    const float *v = c->V + bh * (long)S * D;
    const float *kp = c->Kp + bh * c->kpstride;
    float *o = c->O + bh * (long)S * D;
    const int i0 = qb * BQ;
    const int rows = (S - i0) < BQ ? (S - i0) : BQ;
    const int ntiles = (rows + MR - 1) / MR;
    const int kend = causal ? (i0 + rows) : S;
    const int npan = (kend + NR - 1) / NR;
    const float scale = c->scale;

    /* 1. scores */
    for (int p = 0; p < npan; p++) {
        int j0 = p * NR;
        for (int t = 0; t < ntiles; t++) {
            int r0 = t * MR;
            int last = i0 + ((r0 + MR) < rows ? (r0 + MR) : rows) - 1;
            if (causal && j0 > last) continue;
            qk_tile(q, D, i0 + r0, i0 + rows - 1, kp + (long)p * NR * D, Sb + (long)r0 * ldS + j0, ldS);
        }
    }
    /* 2. softmax (unnormalised exp, row sums kept) */
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int r = 0; r < ntiles * MR; r++) {
        int t = r / MR;
        int tend = (t + 1) * MR < rows ? (t + 1) * MR : rows;
        int jend = causal ? (i0 + tend) : S;
        float *s = Sb + (long)r * ldS;
        if (r >= rows) {
            memset(s, 0, sizeof(float) * (size_t)jend);
            continue;
        }
        int n = causal ? (i0 + r + 1) : S;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(s + j));
        if (j < n) {
            __mmask16 mk = tmask(n - j);
            vm = _mm512_mask_max_ps(vm, mk, vm, _mm512_maskz_loadu_ps(mk, s + j));
        }
        float m = _mm512_reduce_max_ps(vm);
        __m512 vms = _mm512_set1_ps(m * scale);
        __m512 acc = _mm512_setzero_ps();
        j = 0;
        for (; j + 16 <= n; j += 16) {
            __m512 e = exp512(_mm512_fmsub_ps(_mm512_loadu_ps(s + j), vscale, vms));
            _mm512_storeu_ps(s + j, e);
            acc = _mm512_add_ps(acc, e);
        }
        if (j < n) {
            __mmask16 mk = tmask(n - j);
            __m512 e = exp512(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(mk, s + j), vscale, vms));
            e = _mm512_maskz_mov_ps(mk, e);
            _mm512_storeu_ps(s + j, e);
            acc = _mm512_add_ps(acc, e);
            j += 16;
        }
        for (; j < jend; j++) s[j] = 0.0f;
        lsum[r] = _mm512_reduce_add_ps(acc);
    }
    /* 3. O = P V */
    for (int jc = 0; jc < kend; jc += JC) {
        for (int t = 0; t < ntiles; t++) {
            int r0 = t * MR;
            int tend = (r0 + MR) < rows ? (r0 + MR) : rows;
            int jend = causal ? (i0 + tend) : S;
            if (jc >= jend) continue;
            int jhi = (jc + JC) < jend ? (jc + JC) : jend;
            pv_tile(Sb + (long)r0 * ldS, ldS, v, D, jc, jhi, Ob + (long)r0 * Dp, Dp, jc == 0);
        }
    }
    /* 4. normalise and write */
    for (int r = 0; r < rows; r++) {
        float inv = 1.0f / lsum[r];
        __m512 vi = _mm512_set1_ps(inv);
        float *dst = o + (long)(i0 + r) * D;
        const float *src = Ob + (long)r * Dp;
        for (int d = 0; d < D; d += 16) {
            __mmask16 mk = tmask(D - d);
            _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, src + d), vi));
        }
    }
}

static void *worker(void *arg)
{
    targ_t *ta = (targ_t *)arg;
    ctx_t *c = ta->c;
    for (;;) {
        long bh = __atomic_fetch_add(&c->pnext, 1, __ATOMIC_RELAXED);
        if (bh >= c->BH) break;
        pack_head(c, bh);
        __atomic_fetch_add(&c->pdone, 1, __ATOMIC_RELEASE);
    }
    size_t sbytes = sizeof(float) * (size_t)BQ * (size_t)c->ldS;
    size_t obytes = sizeof(float) * (size_t)BQ * (size_t)c->Dp;
    float *Sb = aligned_alloc(64, (sbytes + 63) / 64 * 64);
    float *Ob = aligned_alloc(64, (obytes + 63) / 64 * 64);
    float lsum[BQ];
    while (__atomic_load_n(&c->pdone, __ATOMIC_ACQUIRE) < c->BH) _mm_pause();
    if (!Sb || !Ob) {
        ta->err = 1;
    } else {
        for (;;) {
            long k = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
            if (k >= c->nitems) break;
            long bh = k / c->nq;
            int qb = c->nq - 1 - (int)(k % c->nq);
            do_item(c, bh, qb, Sb, Ob, lsum);
        }
    }
    free(Sb);
    free(Ob);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.B = B; c.H = H; c.S = S; c.D = D; c.causal = causal;
    c.Q = Q; c.K = K; c.V = V; c.O = O;
    c.BH = (long)B * H;
    c.npan = (S + NR - 1) / NR;
    c.ldS = c.npan * NR + 16;
    c.Dp = (D + 15) / 16 * 16;
    c.nq = (S + BQ - 1) / BQ;
    c.nitems = c.BH * c.nq;
    c.kpstride = (long)c.npan * NR * D;
    c.scale = 1.0f / sqrtf((float)D);
    size_t kbytes = sizeof(float) * (size_t)c.BH * (size_t)c.kpstride;
    c.Kp = aligned_alloc(64, (kbytes + 63) / 64 * 64);
    if (!c.Kp) return 2;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nth = ncpu < 1 ? 1 : (ncpu > 64 ? 64 : (int)ncpu);
    if (nth > c.nitems) nth = (int)c.nitems;
    c.nth = nth;
    pthread_t th[64];
    targ_t ta[64];
    int started = 1;
    for (int t = 0; t < nth; t++) { ta[t].c = &c; ta[t].tid = t; ta[t].err = 0; }
    for (int t = 1; t < nth; t++) {
        if (pthread_create(&th[t], NULL, worker, &ta[t]) != 0) break;
        started++;
    }
    worker(&ta[0]);
    int err = ta[0].err;
    for (int t = 1; t < started; t++) {
        pthread_join(th[t], NULL);
        err |= ta[t].err;
    }
    free(c.Kp);
    return err ? 3 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
