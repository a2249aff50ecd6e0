/*
 * Flash-style fp32 attention, AVX-512, pthreads.
 * Task = (batch*head, block of BQ=48 queries). Q block is transposed into
 * Qt[d][48] (pre-scaled by log2(e)/sqrt(D)), scores are computed transposed
 * St[key][query] = K_j . Qt[:, i] (vectorised over queries), online softmax
 * over key blocks of BK keys (vectorised over queries, exp2 polynomial), and
 * O[i][:] += P[i][j] V[j][:] with a register-blocked micro-kernel.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BK
#define BK 64
#endif
#ifndef ORDER
#define ORDER 1 /* 0: heads interleaved across consecutive tasks; 1: head-major (K,V of a head stay hot) */
#endif
#define BQ 48
#define NQV 3
#define MAXT 64

#define AI __attribute__((always_inline)) static inline

AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.5403530393381606e-04f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* R keys (rows of K starting at key j) x 48 queries. */
AI void qk_tile(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, const int R, const int V0, int diag,
                int i0, int j)
{
    __m512 acc[8][NQV];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int v = V0; v < NQV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q0 = _mm512_load_ps(Qt + d * BQ);
        __m512 q1 = _mm512_load_ps(Qt + d * BQ + 16);
        __m512 q2 = _mm512_load_ps(Qt + d * BQ + 32);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(K[(long)r * D + d]);
            if (V0 <= 0) acc[r][0] = _mm512_fmadd_ps(b, q0, acc[r][0]);
            if (V0 <= 1) acc[r][1] = _mm512_fmadd_ps(b, q1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(b, q2, acc[r][2]);
        }
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int v = 0; v < NQV; v++) {
            if (v < V0) {
                _mm512_store_ps(Sb + r * BQ + 16 * v, ninf);
                continue;
            }
            __m512 s = acc[r][v];
            if (diag) {
                __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(i0 + 16 * v));
                __mmask16 keep = _mm512_cmp_epi32_mask(qi, _mm512_set1_epi32(j + r), _MM_CMPINT_NLT);
                s = _mm512_mask_mov_ps(ninf, keep, s);
            }
            _mm512_store_ps(Sb + r * BQ + 16 * v, s);
            mx[v] = _mm512_max_ps(mx[v], s);
        }
}

/* O[0..48)[dc..dc+16*NV) (+)= P^T V over nk keys; rows in groups of R. */
AI void pv_tile(const float *V, int D, int nk0, const float *Sb, float *Ob, int Dp, const float *alpha, int first,
                const int NV, const int R, const int masked, __mmask16 lastmask, int klim)
{
    for (int i = 0; i < BQ; i += R) {
        /* causal: keys at block offset >= klim + i + R are masked for all R rows of this group */
        int nk = klim + i + R;
        if (nk > nk0) nk = nk0;
        __m512 acc[24][4];
        if (first) {
#pragma GCC unroll 24
            for (int r = 0; r < R; r++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
        } else {
#pragma GCC unroll 24
            for (int r = 0; r < R; r++) {
                __m512 a = _mm512_set1_ps(alpha[i + r]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm512_mul_ps(_mm512_load_ps(Ob + (long)(i + r) * Dp + 16 * v), a);
            }
        }
        const float *vp = V;
        const float *sp = Sb + i;
        for (int jj = 0; jj < nk; jj++, vp += D, sp += BQ) {
            __m512 vv[4];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                vv[v] = (masked && v == NV - 1) ? _mm512_maskz_loadu_ps(lastmask, vp + 16 * v)
                                                : _mm512_loadu_ps(vp + 16 * v);
#pragma GCC unroll 24
            for (int r = 0; r < R; r++) {
                __m512 p = _mm512_set1_ps(sp[r]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
            }
        }
#pragma GCC unroll 24
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) _mm512_store_ps(Ob + (long)(i + r) * Dp + 16 * v, acc[r][v]);
    }
}

static __attribute__((noinline)) void pv_4(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 4, 6, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_3(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 3, 8, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_2(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 2, 12, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_1(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 1, 24, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_4m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 4, 6, 1, m, klim);
}
static __attribute__((noinline)) void pv_3m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 3, 8, 1, m, klim);
}
static __attribute__((noinline)) void pv_2m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 2, 12, 1, m, klim);
}
static __attribute__((noinline)) void pv_1m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 1, 24, 1, m, klim);
}

static __attribute__((noinline)) void qk_8(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 0, diag, i0, j);
}
static __attribute__((noinline)) void qk_8v1(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 1, diag, i0, j);
}
static __attribute__((noinline)) void qk_8v2(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 2, diag, i0, j);
}
static __attribute__((noinline)) void qk_1(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 1, 0, diag, i0, j);
}

typedef struct {
    int B, H, S, D, causal, nqb, ntasks, BHn;
    const float *Q, *K, *V;
    float *O;
    int counter;
    int fail;
} job_t;

typedef struct {
    float *Qt, *Sb, *Ob, *alpha;
} bufs_t;

static void run_task(const job_t *jb, const bufs_t *bf, long bh, int qb)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = (D + 15) & ~15;
    const int nvec = Dp / 16;
    const float *q = jb->Q + bh * (long)S * D, *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    float *Qt = bf->Qt, *Sb = bf->Sb, *Ob = bf->Ob, *alpha = bf->alpha;
    const int i0 = qb * BQ;
    const int nq = S - i0 < BQ ? S - i0 : BQ;
    const float c = 1.4426950408889634f / sqrtf((float)D);

    for (int d = 0; d < D; d++) {
        for (int i = 0; i < nq; i++) Qt[d * BQ + i] = q[(long)(i0 + i) * D + d] * c;
        for (int i = nq; i < BQ; i++) Qt[d * BQ + i] = 0.0f;
    }
    __m512 m[NQV], l[NQV];
    for (int t = 0; t < NQV; t++) {
        m[t] = _mm512_set1_ps(-INFINITY);
        l[t] = _mm512_setzero_ps();
    }
    int kend = S;
    if (causal && i0 + BQ < S) kend = i0 + BQ;
    const __mmask16 lastmask = (D & 15) ? (__mmask16)((1u << (D & 15)) - 1u) : (__mmask16)0xFFFF;
    int first = 1;
    for (int j0 = 0; j0 < kend; j0 += BK) {
        const int nk = kend - j0 < BK ? kend - j0 : BK;
        __m512 mx[NQV];
        for (int t = 0; t < NQV; t++) mx[t] = _mm512_set1_ps(-INFINITY);
        int jj = 0;
        for (; jj + 8 <= nk; jj += 8) {
            int j = j0 + jj;
            int vs = (causal && j > i0) ? (j - i0) / 16 : 0;
            if (vs == 0)
                qk_8(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, causal && j + 7 > i0, i0, j);
            else if (vs == 1)
                qk_8v1(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, 1, i0, j);
            else
                qk_8v2(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, 1, i0, j);
        }
        for (; jj < nk; jj++) {
            int j = j0 + jj;
            qk_1(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, causal && j > i0, i0, j);
        }
        /* online softmax, vectorised over the 48 queries */
        __m512 sum[NQV];
        for (int t = 0; t < NQV; t++) {
            __m512 mn = _mm512_max_ps(m[t], mx[t]);
            __m512 a = exp2_ps(_mm512_sub_ps(m[t], mn));
            _mm512_store_ps(alpha + 16 * t, a);
            l[t] = _mm512_mul_ps(l[t], a);
            m[t] = mn;
            sum[t] = _mm512_setzero_ps();
        }
        for (int r = 0; r < nk; r++) {
            float *sr = Sb + r * BQ;
            for (int t = 0; t < NQV; t++) {
                __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sr + 16 * t), m[t]));
                _mm512_store_ps(sr + 16 * t, p);
                sum[t] = _mm512_add_ps(sum[t], p);
            }
        }
        for (int t = 0; t < NQV; t++) l[t] = _mm512_add_ps(l[t], sum[t]);
        /* O += P V */
        const float *vb = v + (long)j0 * D;
        const int klim = causal ? i0 - j0 : (1 << 30);
        for (int cv = 0; cv < nvec; cv += 4) {
            int nv = nvec - cv < 4 ? nvec - cv : 4;
            int last = (cv + nv == nvec) && (D & 15);
            const float *vc = vb + 16 * cv;
            float *oc = Ob + 16 * cv;
            if (!last) {
                switch (nv) {
                case 4: pv_4(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                case 3: pv_3(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                case 2: pv_2(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                default: pv_1(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                }
            } else {
                switch (nv) {
                case 4: pv_4m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                case 3: pv_3m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                case 2: pv_2m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                default: pv_1m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                }
            }
        }
        first = 0;
    }
    float lf[BQ] __attribute__((aligned(64)));
    for (int t = 0; t < NQV; t++) _mm512_store_ps(lf + 16 * t, l[t]);
    for (int i = 0; i < nq; i++) {
        const float inv = 1.0f / lf[i];
        const float *src = Ob + (long)i * Dp;
        float *dst = o + (long)(i0 + i) * D;
        for (int d = 0; d < D; d++) dst[d] = src[d] * inv;
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int Dp = (jb->D + 15) & ~15;
    bufs_t bf;
    size_t szQ = sizeof(float) * (size_t)jb->D * BQ, szS = sizeof(float) * (size_t)BK * BQ,
           szO = sizeof(float) * (size_t)BQ * Dp, szA = sizeof(float) * BQ;
    size_t tot = ((szQ + 63) & ~(size_t)63) + ((szS + 63) & ~(size_t)63) + ((szO + 63) & ~(size_t)63) +
                 ((szA + 63) & ~(size_t)63);
    char *mem = aligned_alloc(64, tot);
    if (!mem) {
        __atomic_store_n(&jb->fail, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    char *p = mem;
    bf.Qt = (float *)p;
    p += (szQ + 63) & ~(size_t)63;
    bf.Sb = (float *)p;
    p += (szS + 63) & ~(size_t)63;
    bf.Ob = (float *)p;
    p += (szO + 63) & ~(size_t)63;
    bf.alpha = (float *)p;
    for (;;) {
        int t = __atomic_fetch_add(&jb->counter, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
#if ORDER == 0
        long bh = t % jb->BHn;
        int qb = jb->nqb - 1 - t / jb->BHn;
#else
        long bh = t / jb->nqb;
        int qb = jb->nqb - 1 - t % jb->nqb;
#endif
        run_task(jb, &bf, bh, qb);
    }
    free(mem);
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
    jb.causal = causal ? 1 : 0;
    jb.BHn = B * H;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.ntasks = jb.BHn * jb.nqb;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.counter = 0;
    jb.fail = 0;
    long nc = 0;
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof(cs), &cs) == 0) nc = CPU_COUNT(&cs);
    if (nc < 1) nc = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = nc < 1 ? 1 : (nc > MAXT ? MAXT : (int)nc);
    if (nt > jb.ntasks) nt = jb.ntasks;
    pthread_t th[MAXT];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, worker, &jb) != 0) break;
        started++;
    }
    worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return jb.fail ? 2 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash48-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
