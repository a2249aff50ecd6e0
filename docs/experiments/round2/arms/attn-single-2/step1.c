/*
 * step1.c - blocked, register-tiled, 2-thread AVX-512 attention forward.
 *
 * Work unit = (head bh, block of BQ = 16*QV queries). Per unit:
 *   1. Qt = Q_blk^T  ([D][BQ], zero-padded queries)            (tiny)
 *   2. Pt[j][i] = K_j . Q_i for keys j < nk (nk = S, or r0+m when causal,
 *      so key blocks the causal mask hides are never touched).
 *      Micro-tile: MRK keys x QV query-vectors, FMA over d, K broadcast.
 *   3. exact two-pass softmax along j, vectorised across the 16 queries of
 *      a vector (no horizontal reductions); causal mask per lane; exp is a
 *      Cephes-accuracy AVX-512 polynomial with scalef.
 *   4. O_blk = P V: micro-tile MRQ queries x (<=4) d-vectors, V chunked by
 *      JC keys so the chunk stays in L1 across query groups; causal groups
 *      stop at their last visible key.  Normalise by 1/l on the way out.
 * Units are handed out by an atomic counter (head-major, causal: largest
 * block of a head first).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef QV
#define QV 4 /* query vectors per block: BQ = 16*QV */
#endif
#ifndef MRK
#define MRK 6 /* keys per QK micro-tile (<= 12) */
#endif
#ifndef MRQ
#define MRQ 4 /* queries per PV micro-tile (<= 8) */
#endif
#ifndef JC
#define JC 128 /* key chunk of the PV product */
#endif
#define BQ (16 * QV)

#define AINL static inline __attribute__((always_inline))

typedef struct {
    int S, D, causal, nvd, Dp, nqb;
    long BH, nunits;
    const float *Q, *K, *V;
    float *O;
    float scale;
    atomic_long next;
    atomic_int err;
} ctx_t;

AINL __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
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

/* P[r][*] (row stride BQ) = K rows kr[r] . Qt, for mr keys */
AINL void qk_tile(const int mr, const float *kr, int D, const float *Qt, float *P)
{
    __m512 acc[12][QV];
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int x = 0; x < QV; x++) acc[r][x] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q[QV];
#pragma GCC unroll 4
        for (int x = 0; x < QV; x++) q[x] = _mm512_load_ps(Qt + (long)d * BQ + 16 * x);
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            __m512 kb = _mm512_set1_ps(kr[(long)r * D + d]);
#pragma GCC unroll 4
            for (int x = 0; x < QV; x++) acc[r][x] = _mm512_fmadd_ps(kb, q[x], acc[r][x]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int x = 0; x < QV; x++) _mm512_store_ps(P + (long)r * BQ + 16 * x, acc[r][x]);
}

static void qk_rem(int mr, const float *kr, int D, const float *Qt, float *P)
{
    switch (mr) {
#define QKC(n)                                                                                        \
    case n:                                                                                           \
        qk_tile(n, kr, D, Qt, P);                                                                     \
        break;
        QKC(1) QKC(2) QKC(3) QKC(4) QKC(5) QKC(6) QKC(7) QKC(8) QKC(9) QKC(10) QKC(11)
#undef QKC
    default: break;
    }
}

/* Ot[r][x] (+)= sum_{j<cnt} P[j][r] * V[j][x], mr queries, nv d-vectors */
AINL void pv_tile(const int mr, const int nv, int init, const float *P, const float *V, int D, int cnt,
                  float *Ot, int Dp, const __mmask16 *mk)
{
    __m512 acc[8][4];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int x = 0; x < nv; x++)
            acc[r][x] = init ? _mm512_setzero_ps() : _mm512_load_ps(Ot + (long)r * Dp + 16 * x);
    for (int j = 0; j < cnt; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int x = 0; x < nv; x++) vv[x] = _mm512_maskz_loadu_ps(mk[x], V + (long)j * D + 16 * x);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512 pb = _mm512_set1_ps(P[(long)j * BQ + r]);
#pragma GCC unroll 4
            for (int x = 0; x < nv; x++) acc[r][x] = _mm512_fmadd_ps(pb, vv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 4
        for (int x = 0; x < nv; x++) _mm512_store_ps(Ot + (long)r * Dp + 16 * x, acc[r][x]);
}

static void pv_disp(int mr, int nv, int init, const float *P, const float *V, int D, int cnt, float *Ot,
                    int Dp, const __mmask16 *mk)
{
#define PVN(m)                                                                                        \
    switch (nv) {                                                                                     \
    case 1: pv_tile(m, 1, init, P, V, D, cnt, Ot, Dp, mk); break;                                    \
    case 2: pv_tile(m, 2, init, P, V, D, cnt, Ot, Dp, mk); break;                                    \
    case 3: pv_tile(m, 3, init, P, V, D, cnt, Ot, Dp, mk); break;                                    \
    default: pv_tile(m, 4, init, P, V, D, cnt, Ot, Dp, mk); break;                                   \
    }
    switch (mr) {
    case 1: PVN(1) break;
    case 2: PVN(2) break;
    case 3: PVN(3) break;
    case 4: PVN(4) break;
    case 5: PVN(5) break;
    case 6: PVN(6) break;
    case 7: PVN(7) break;
    default: PVN(8) break;
    }
#undef PVN
}

static void do_unit(ctx_t *c, long u, float *Qt, float *Pt, float *Ot, float *linv)
{
    const int S = c->S, D = c->D, Dp = c->Dp, nvd = c->nvd, causal = c->causal;
    const long bh = u / c->nqb;
    int qb = (int)(u % c->nqb);
    if (causal) qb = c->nqb - 1 - qb;
    const int r0 = qb * BQ;
    const int m = (S - r0) < BQ ? (S - r0) : BQ;
    const long base = bh * (long)S * D;
    const float *q = c->Q + base + (long)r0 * D;
    const float *k = c->K + base;
    const float *v = c->V + base;
    float *o = c->O + base + (long)r0 * D;
    const int nk = causal ? r0 + m : S;
    const float scale = c->scale;

    /* 1. Qt[d][i] */
    for (int i = 0; i < m; i++)
        for (int d = 0; d < D; d++) Qt[(long)d * BQ + i] = q[(long)i * D + d];
    for (int i = m; i < BQ; i++)
        for (int d = 0; d < D; d++) Qt[(long)d * BQ + i] = 0.0f;

    /* 2. scores */
    {
        int j = 0;
        for (; j + MRK <= nk; j += MRK) qk_tile(MRK, k + (long)j * D, D, Qt, Pt + (long)j * BQ);
        if (j < nk) qk_rem(nk - j, k + (long)j * D, D, Qt, Pt + (long)j * BQ);
    }

    /* 3. softmax along j, per vector of 16 queries */
    for (int x = 0; x < QV; x++) {
        const int qi0 = r0 + 16 * x; /* query index of lane 0 */
        float *p = Pt + 16 * x;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int jfull = causal ? (qi0 + 1 < nk ? qi0 + 1 : nk) : nk; /* j < jfull: all lanes visible */
        int j = 0;
        for (; j < jfull; j++) vm = _mm512_max_ps(vm, _mm512_load_ps(p + (long)j * BQ));
        for (; j < nk; j++) {
            int t = j - qi0; /* lanes >= t visible */
            __mmask16 mk = t >= 16 ? (__mmask16)0 : (__mmask16)(0xFFFFu << t);
            vm = _mm512_mask_max_ps(vm, mk, vm, _mm512_load_ps(p + (long)j * BQ));
        }
        const __m512 vsc = _mm512_set1_ps(scale);
        const __m512 ms = _mm512_mul_ps(vm, vsc);
        __m512 sum = _mm512_setzero_ps();
        j = 0;
        for (; j < jfull; j++) {
            __m512 e = exp512(_mm512_fmsub_ps(_mm512_load_ps(p + (long)j * BQ), vsc, ms));
            sum = _mm512_add_ps(sum, e);
            _mm512_store_ps(p + (long)j * BQ, e);
        }
        for (; j < nk; j++) {
            int t = j - qi0;
            __mmask16 mk = t >= 16 ? (__mmask16)0 : (__mmask16)(0xFFFFu << t);
            __m512 e = exp512(_mm512_fmsub_ps(_mm512_load_ps(p + (long)j * BQ), vsc, ms));
            e = _mm512_maskz_mov_ps(mk, e);
            sum = _mm512_add_ps(sum, e);
            _mm512_store_ps(p + (long)j * BQ, e);
        }
        _mm512_store_ps(linv + 16 * x, _mm512_div_ps(_mm512_set1_ps(1.0f), sum));
    }

    /* 4. O = P V */
    __mmask16 tail = (D % 16) ? (__mmask16)((1u << (D % 16)) - 1u) : (__mmask16)0xFFFF;
    for (int jc = 0; jc < nk; jc += JC) {
        const int je = (jc + JC < nk) ? jc + JC : nk;
        for (int g = 0; g < m; g += MRQ) {
            const int mr = (m - g) < MRQ ? (m - g) : MRQ;
            int jmax = je;
            if (causal && r0 + g + mr < jmax) jmax = r0 + g + mr;
            if (jmax <= jc) continue; /* only when jc > 0: Ot already initialised */
            for (int dv0 = 0; dv0 < nvd; dv0 += 4) {
                const int nv = (nvd - dv0) < 4 ? (nvd - dv0) : 4;
                __mmask16 mk[4];
                for (int x = 0; x < 4; x++) mk[x] = (dv0 + x == nvd - 1) ? tail : (__mmask16)0xFFFF;
                pv_disp(mr, nv, jc == 0, Pt + (long)jc * BQ + g, v + (long)jc * D + 16 * dv0, D,
                        jmax - jc, Ot + (long)g * Dp + 16 * dv0, Dp, mk);
            }
        }
    }

    /* 5. normalise and write out */
    for (int i = 0; i < m; i++) {
        const __m512 li = _mm512_set1_ps(linv[i]);
        for (int dv = 0; dv < nvd; dv++) {
            __mmask16 mk = (dv == nvd - 1) ? tail : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(o + (long)i * D + 16 * dv, mk,
                                  _mm512_mul_ps(_mm512_load_ps(Ot + (long)i * Dp + 16 * dv), li));
        }
    }
}

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    float *Qt = NULL, *Pt = NULL, *Ot = NULL, *linv = NULL;
    size_t nq = (size_t)c->D * BQ, np = (size_t)c->S * BQ, no = (size_t)BQ * c->Dp;
    if (posix_memalign((void **)&Qt, 64, nq * sizeof(float)) ||
        posix_memalign((void **)&Pt, 64, np * sizeof(float)) ||
        posix_memalign((void **)&Ot, 64, no * sizeof(float)) ||
        posix_memalign((void **)&linv, 64, BQ * sizeof(float))) {
        atomic_store(&c->err, 1);
        /* leave the units to the other threads */
        free(Qt);
        free(Pt);
        free(Ot);
        free(linv);
        return NULL;
    }
    for (;;) {
        long u = atomic_fetch_add(&c->next, 1);
        if (u >= c->nunits) break;
        do_unit(c, u, Qt, Pt, Ot, linv);
    }
    free(Qt);
    free(Pt);
    free(Ot);
    free(linv);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    c.S = S;
    c.D = D;
    c.causal = causal ? 1 : 0;
    c.nvd = (D + 15) / 16;
    c.Dp = c.nvd * 16;
    c.nqb = (S + BQ - 1) / BQ;
    c.BH = (long)B * H;
    c.nunits = c.BH * c.nqb;
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    c.scale = 1.0f / sqrtf((float)D);
    atomic_init(&c.next, 0);
    atomic_init(&c.err, 0);

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > c.nunits) nt = c.nunits;
    pthread_t th[64];
    int started[64];
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, worker, &c) == 0;
    worker(&c);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    /* if some thread could not allocate, the others still drained the counter;
       if none could (main included), units were left undone */
    if (atomic_load(&c.next) < c.nunits) return 2;
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step1-tiled-avx512", "fp32",
                                      "QV MRK MRQ JC"};
const spak_kernel_info *spak_info(void) { return &info; }
