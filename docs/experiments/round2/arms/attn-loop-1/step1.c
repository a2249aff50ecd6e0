/*
 * step1: blocked two-pass attention with AVX-512 register-blocked microkernels.
 * Per work item (bh, block of 48 queries):
 *   - Qt = transpose(Q block) * (1/sqrt(D) * log2 e)   (D x 48)
 *   - Pt[j][i] = K_j . Qt[:, i]  (8 keys x 48 queries register tile), causal
 *     mask on the diagonal, running max per query
 *   - Pt = exp2(Pt - m), l = sum
 *   - O rows = (Pt^T V) / l  (6 queries x 64 columns register tile)
 * Causal: keys beyond the block's last query are never computed.
 * Threads: pthreads, items handed out by an atomic counter.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "abi.h"

#define BQ 48
#define AI __attribute__((always_inline)) static inline

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    long nblk, nitems;
    long counter;
    float sc;
    int fail;
} job_t;

AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381609e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* NK keys (rows of k, stride D) against 48 queries of qt (D x 48). */
AI void qk_tile(const float *k, int D, const float *qt, float *p, int NK, int maskit, int j0, int i0,
                __m512 *m)
{
    __m512 a[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < NK; r++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++) a[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q0 = _mm512_load_ps(qt + d * BQ);
        __m512 q1 = _mm512_load_ps(qt + d * BQ + 16);
        __m512 q2 = _mm512_load_ps(qt + d * BQ + 32);
#pragma GCC unroll 8
        for (int r = 0; r < NK; r++) {
            __m512 b = _mm512_set1_ps(k[(long)r * D + d]);
            a[r][0] = _mm512_fmadd_ps(b, q0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b, q1, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(b, q2, a[r][2]);
        }
    }
    if (maskit) {
        const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
        for (int r = 0; r < NK; r++) {
            __m512i jv = _mm512_set1_epi32(j0 + r);
#pragma GCC unroll 3
            for (int v = 0; v < 3; v++) {
                __m512i iv = _mm512_add_epi32(lane, _mm512_set1_epi32(i0 + v * 16));
                __mmask16 mk = _mm512_cmplt_epi32_mask(iv, jv);
                a[r][v] = _mm512_mask_mov_ps(a[r][v], mk, ninf);
            }
        }
    }
    __m512 m0 = m[0], m1 = m[1], m2 = m[2];
#pragma GCC unroll 8
    for (int r = 0; r < NK; r++) {
        _mm512_store_ps(p + r * BQ, a[r][0]);
        _mm512_store_ps(p + r * BQ + 16, a[r][1]);
        _mm512_store_ps(p + r * BQ + 32, a[r][2]);
        m0 = _mm512_max_ps(m0, a[r][0]);
        m1 = _mm512_max_ps(m1, a[r][1]);
        m2 = _mm512_max_ps(m2, a[r][2]);
    }
    m[0] = m0;
    m[1] = m1;
    m[2] = m2;
}

/* 6 query rows (p columns r0..r0+5 of Pt, stride BQ) x NV vectors of V columns. */
AI void pv_tile(const float *p, const float *v, int D, int nk, int NV, __mmask16 lastmask, const float *linv,
                float *o, int nrows)
{
    __m512 a[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) a[r][c] = _mm512_setzero_ps();
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int c = 0; c < NV; c++) mk[c] = (c == NV - 1) ? lastmask : (__mmask16)0xFFFF;
    for (int j = 0; j < nk; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) vv[c] = _mm512_maskz_loadu_ps(mk[c], v + (long)j * D + c * 16);
        const float *pj = p + (long)j * BQ;
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m512 b = _mm512_set1_ps(pj[r]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) a[r][c] = _mm512_fmadd_ps(b, vv[c], a[r][c]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        if (r < nrows) {
            __m512 s = _mm512_set1_ps(linv[r]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++)
                _mm512_mask_storeu_ps(o + (long)r * D + c * 16, mk[c], _mm512_mul_ps(a[r][c], s));
        }
    }
}

static void do_block(const job_t *J, long bh, long blk, float *qt, float *P)
{
    const int S = J->S, D = J->D, causal = J->causal;
    const float *q = J->Q + bh * (long)S * D, *k = J->K + bh * (long)S * D, *v = J->V + bh * (long)S * D;
    float *o = J->O + bh * (long)S * D;
    const int i0 = (int)(blk * BQ);
    const int nrows = S - i0 < BQ ? S - i0 : BQ;
    const int n = causal ? i0 + nrows : S;
    const float sc = J->sc;

    /* transpose + scale Q block */
    for (int i = 0; i < BQ; i++) {
        if (i < nrows) {
            const float *qi = q + (long)(i0 + i) * D;
            for (int d = 0; d < D; d++) qt[d * BQ + i] = qi[d] * sc;
        } else {
            for (int d = 0; d < D; d++) qt[d * BQ + i] = 0.0f;
        }
    }

    __m512 m[3];
    m[0] = m[1] = m[2] = _mm512_set1_ps(-INFINITY);
    int j0 = 0;
    for (; j0 + 8 <= n; j0 += 8) {
        int maskit = causal && (j0 + 7 > i0);
        qk_tile(k + (long)j0 * D, D, qt, P + (long)j0 * BQ, 8, maskit, j0, i0, m);
    }
    for (; j0 < n; j0++) qk_tile(k + (long)j0 * D, D, qt, P + (long)j0 * BQ, 1, causal && (j0 > i0), j0, i0, m);

    /* softmax numerators and row sums */
    __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
    for (int j = 0; j < n; j++) {
        float *pj = P + (long)j * BQ;
        __m512 e0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj), m[0]));
        __m512 e1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj + 16), m[1]));
        __m512 e2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj + 32), m[2]));
        _mm512_store_ps(pj, e0);
        _mm512_store_ps(pj + 16, e1);
        _mm512_store_ps(pj + 32, e2);
        l0 = _mm512_add_ps(l0, e0);
        l1 = _mm512_add_ps(l1, e1);
        l2 = _mm512_add_ps(l2, e2);
    }
    float linv[BQ] __attribute__((aligned(64)));
    const __m512 one = _mm512_set1_ps(1.0f);
    _mm512_store_ps(linv, _mm512_div_ps(one, l0));
    _mm512_store_ps(linv + 16, _mm512_div_ps(one, l1));
    _mm512_store_ps(linv + 32, _mm512_div_ps(one, l2));

    /* O = Pt^T V */
    for (int r0 = 0; r0 < nrows; r0 += 6) {
        int nk = causal ? (i0 + r0 + 6 < n ? i0 + r0 + 6 : n) : n;
        int nr = nrows - r0;
        float *orow = o + (long)(i0 + r0) * D;
        for (int c0 = 0; c0 < D; c0 += 64) {
            int rem = D - c0;
            int nv = rem >= 64 ? 4 : (rem + 15) / 16;
            int tail = rem >= 64 ? 16 : rem - (nv - 1) * 16;
            __mmask16 lm = (__mmask16)((1u << tail) - 1u);
            if (tail == 16) lm = 0xFFFF;
            const float *pp = P + r0;
            switch (nv) {
            case 4: pv_tile(pp, v + c0, D, nk, 4, lm, linv + r0, orow + c0, nr); break;
            case 3: pv_tile(pp, v + c0, D, nk, 3, lm, linv + r0, orow + c0, nr); break;
            case 2: pv_tile(pp, v + c0, D, nk, 2, lm, linv + r0, orow + c0, nr); break;
            default: pv_tile(pp, v + c0, D, nk, 1, lm, linv + r0, orow + c0, nr); break;
            }
        }
    }
}

static void *worker(void *arg)
{
    job_t *J = (job_t *)arg;
    float *qt = aligned_alloc(64, sizeof(float) * (size_t)J->D * BQ);
    float *P = aligned_alloc(64, sizeof(float) * (size_t)J->S * BQ);
    if (!qt || !P) {
        __atomic_store_n(&J->fail, 1, __ATOMIC_RELAXED);
        free(qt);
        free(P);
        return NULL;
    }
    for (;;) {
        long it = __atomic_fetch_add(&J->counter, 1, __ATOMIC_RELAXED);
        if (it >= J->nitems) break;
        long bh = it / J->nblk;
        long blk = J->nblk - 1 - it % J->nblk;
        do_block(J, bh, blk, qt, P);
    }
    free(qt);
    free(P);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t J;
    J.B = B;
    J.H = H;
    J.S = S;
    J.D = D;
    J.causal = causal;
    J.Q = Q;
    J.K = K;
    J.V = V;
    J.O = O;
    J.nblk = (S + BQ - 1) / BQ;
    J.nitems = (long)B * H * J.nblk;
    J.counter = 0;
    J.fail = 0;
    J.sc = (float)(1.4426950408889634 / sqrt((double)D));
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > J.nitems) nt = J.nitems;
    pthread_t th[64];
    int started[64] = {0};
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, worker, &J) == 0;
    worker(&J);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return J.counter < J.nitems ? 2 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash2pass-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
