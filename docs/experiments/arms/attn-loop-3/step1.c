/*
 * step1: blocked two-pass-per-row-block attention, AVX-512, 2 threads.
 * Per (bh, query block of BQ rows):
 *   scores  P = (Q*log2e/sqrt(D)) K^T  via a 6x64 register-tile GEMM against
 *           K packed into [panel][D][64] (packed once per call, in parallel)
 *   softmax exact per row (max, exp2, sum) — unnormalised P kept, 1/l applied last
 *   O = P V via the same 6x64 register-tile GEMM, key dimension chunked by KC
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
#ifndef KC
#define KC 256
#endif
#define MR 6
#define NR 64
#define MAXT 64

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    float *Kt;
    int npan, nqb;
    long ldp, ldo;
    float qscale;
    long nitems;
    long counter;
    int phase;
    int fail;
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
    x = _mm512_max_ps(x, _mm512_set1_ps(-150.0f));
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

static void do_block(ctx_t *c, float *Qs, float *P, float *Ob, float *il, long bh, int qb)
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
    const float *kt = c->Kt + bh * (long)c->npan * D * NR;
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

static void pack_panel(ctx_t *c, long item)
{
    const int S = c->S, D = c->D;
    long bh = item / c->npan;
    int p = (int)(item % c->npan);
    float *dst = c->Kt + (bh * c->npan + p) * (long)D * NR;
    const float *k = c->K + bh * (long)S * D;
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

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    if (c->phase == 0) {
        for (;;) {
            long it = __atomic_fetch_add(&c->counter, 1, __ATOMIC_RELAXED);
            if (it >= c->nitems) break;
            pack_panel(c, it);
        }
        return NULL;
    }
    size_t szq = ((size_t)BQ * c->D * sizeof(float) + 63) & ~(size_t)63;
    size_t szp = ((size_t)BQ * c->ldp * sizeof(float) + 63) & ~(size_t)63;
    size_t szo = ((size_t)BQ * c->ldo * sizeof(float) + 63) & ~(size_t)63;
    size_t szl = ((size_t)BQ * sizeof(float) + 63) & ~(size_t)63;
    char *mem = aligned_alloc(64, szq + szp + szo + szl);
    if (!mem) {
        __atomic_store_n(&c->fail, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    float *Qs = (float *)mem, *P = (float *)(mem + szq), *Ob = (float *)(mem + szq + szp),
          *il = (float *)(mem + szq + szp + szo);
    for (;;) {
        long it = __atomic_fetch_add(&c->counter, 1, __ATOMIC_RELAXED);
        if (it >= c->nitems) break;
        long bh = it / c->nqb;
        int qb = (int)(it % c->nqb);
        if (c->causal) qb = c->nqb - 1 - qb;
        do_block(c, Qs, P, Ob, il, bh, qb);
    }
    free(mem);
    return NULL;
}

static void run_phase(ctx_t *c, int nt)
{
    pthread_t th[MAXT];
    int created = 0;
    c->counter = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[created], NULL, worker, c) != 0) break;
        created++;
    }
    worker(c);
    for (int t = 0; t < created; t++) pthread_join(th[t], NULL);
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
    c.npan = (S + NR - 1) / NR;
    c.nqb = (S + BQ - 1) / BQ;
    c.ldp = (long)c.npan * NR + 16;
    c.ldo = (D + 63) / 64 * 64;
    c.qscale = (float)(1.4426950408889634 / sqrt((double)D));
    long BH = (long)B * H;
    size_t ktsz = ((size_t)BH * c.npan * D * NR * sizeof(float) + 63) & ~(size_t)63;
    c.Kt = aligned_alloc(64, ktsz);
    if (!c.Kt) return 2;
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;

    c.phase = 0;
    c.nitems = BH * c.npan;
    run_phase(&c, (int)(nt < c.nitems ? nt : c.nitems));

    c.phase = 1;
    c.nitems = BH * c.nqb;
    run_phase(&c, (int)(nt < c.nitems ? nt : c.nitems));

    free(c.Kt);
    return c.counter < c.nitems ? 3 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/blocked-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
