/*
 * Flash-style attention forward, fp32, AVX-512, pthreads.
 * Work unit = (batch*head, block of BQ=48 queries). Per unit:
 *   Qt = transpose(Q block) * log2(e)/sqrt(D)    [D][48]   (queries in lanes)
 *   for key chunks of BK keys:
 *     St[j][i] = K_j . Qt[:, i]   (3 query vectors x 8 keys register tile)
 *     causal mask, online softmax in base 2 (vector over queries)
 *     Ob[i][:] = Ob[i][:]*alpha_i + sum_j P[j][i] V_j  (6 rows x 4 d-vectors tile)
 *   O = Ob / l
 * Units are handed out dynamically (largest first for causal).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <immintrin.h>
#include "abi.h"

#ifndef BK
#define BK 64
#endif
#define BQ 48
#define MAXT 64

#define AI static inline __attribute__((always_inline))

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nqb;
    long total;
    long next;
    float qscale;
} job_t;

/* 2^x for x <= 0 (x may be -inf); results below 2^-120 flushed to 0. */
AI __m512 exp2_ps(__m512 x)
{
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-120.0f), _CMP_GE_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-120.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 t = _mm512_mul_ps(_mm512_sub_ps(x, n), _mm512_set1_ps(0.69314718055994531f));
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(5.0000001201E-1f));
    __m512 t2 = _mm512_mul_ps(t, t);
    __m512 y = _mm512_fmadd_ps(p, t2, _mm512_add_ps(t, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_scalef_ps(ok, y, n);
}

/* St[b][0..47] = sum_d K_b[d] * Qt[d][0..47], b = 0..7 */
static __attribute__((noinline)) void qk8(const float *restrict Qt, const float *k0, const float *k1, const float *k2, const float *k3,
            const float *k4, const float *k5, const float *k6, const float *k7, int D, float *restrict st)
{
    __m512 c00 = _mm512_setzero_ps(), c10 = c00, c20 = c00, c01 = c00, c11 = c00, c21 = c00, c02 = c00, c12 = c00,
           c22 = c00, c03 = c00, c13 = c00, c23 = c00, c04 = c00, c14 = c00, c24 = c00, c05 = c00, c15 = c00,
           c25 = c00, c06 = c00, c16 = c00, c26 = c00, c07 = c00, c17 = c00, c27 = c00;
    for (int d = 0; d < D; d++) {
        const float *qp = Qt + (long)d * BQ;
        __m512 q0 = _mm512_load_ps(qp), q1 = _mm512_load_ps(qp + 16), q2 = _mm512_load_ps(qp + 32);
        __m512 b;
#define STEP(J)                                                                                                   \
    b = _mm512_set1_ps(k##J[d]);                                                                                  \
    c0##J = _mm512_fmadd_ps(q0, b, c0##J);                                                                        \
    c1##J = _mm512_fmadd_ps(q1, b, c1##J);                                                                        \
    c2##J = _mm512_fmadd_ps(q2, b, c2##J);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7)
#undef STEP
    }
#define ST(J)                                                                                                     \
    _mm512_store_ps(st + J * BQ, c0##J);                                                                          \
    _mm512_store_ps(st + J * BQ + 16, c1##J);                                                                     \
    _mm512_store_ps(st + J * BQ + 32, c2##J);
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7)
#undef ST
}

/* Ob[r][dc..] = Ob[r][dc..]*al[r] + sum_j st[j][r] * v[j][dc..], r = 0..5, NV vectors of d */
AI void pv6(float *restrict ob, int DP, const float *restrict al, const float *restrict st,
            const float *restrict v, int D, int nj, const int NV, const int TAIL, __mmask16 lm)
{
    __m512 acc[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        __m512 a = _mm512_set1_ps(al[r]);
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) acc[r][x] = _mm512_mul_ps(_mm512_load_ps(ob + (long)r * DP + 16 * x), a);
    }
    for (int j = 0; j < nj; j++) {
        const float *vj = v + (long)j * D;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) {
            if (TAIL && x == NV - 1)
                vv[x] = _mm512_maskz_loadu_ps(lm, vj + 16 * x);
            else
                vv[x] = _mm512_loadu_ps(vj + 16 * x);
        }
        const float *sj = st + (long)j * BQ;
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m512 p = _mm512_set1_ps(sj[r]);
#pragma GCC unroll 4
            for (int x = 0; x < NV; x++) acc[r][x] = _mm512_fmadd_ps(p, vv[x], acc[r][x]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++)
#pragma GCC unroll 4
        for (int x = 0; x < NV; x++) _mm512_store_ps(ob + (long)r * DP + 16 * x, acc[r][x]);
}

static __attribute__((noinline)) void pv_all(float *ob, int DP, const float *al, const float *st, const float *v, int D, int nj, int ND,
                   __mmask16 lm)
{
    int tail = (D % 16) != 0;
    for (int r0 = 0; r0 < BQ; r0 += 6) {
        float *obr = ob + (long)r0 * DP;
        int x0 = 0;
        for (; x0 + 4 < ND || (x0 + 4 == ND && !tail); x0 += 4)
            pv6(obr + 16 * x0, DP, al + r0, st + r0, v + 16 * x0, D, nj, 4, 0, lm);
        int rem = ND - x0;
        if (rem <= 0) continue;
        const float *vx = v + 16 * x0;
        float *ox = obr + 16 * x0;
        if (tail) {
            switch (rem) {
            case 1: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 1, 1, lm); break;
            case 2: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 2, 1, lm); break;
            case 3: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 3, 1, lm); break;
            default: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 4, 1, lm); break;
            }
        } else {
            switch (rem) {
            case 1: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 1, 0, lm); break;
            case 2: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 2, 0, lm); break;
            case 3: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 3, 0, lm); break;
            default: pv6(ox, DP, al + r0, st + r0, vx, D, nj, 4, 0, lm); break;
            }
        }
    }
}

static void *worker(void *arg)
{
    job_t *J = (job_t *)arg;
    float Qt[SPAK_ATTN_MAX_D * BQ] __attribute__((aligned(64)));
    float St[((BK + 7) / 8) * 8 * BQ] __attribute__((aligned(64)));
    float Ob[BQ * SPAK_ATTN_MAX_D] __attribute__((aligned(64)));
    float alpha[BQ] __attribute__((aligned(64)));
    float lv[BQ] __attribute__((aligned(64)));
    const int S = J->S, D = J->D, causal = J->causal;
    const int ND = (D + 15) / 16, DP = ND * 16;
    const __mmask16 lm = (D % 16) ? (__mmask16)((1u << (D % 16)) - 1u) : (__mmask16)0xFFFF;
    const long BH = (long)J->B * J->H;
    const float qs = J->qscale;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);

    for (;;) {
        long u = __atomic_fetch_add(&J->next, 1, __ATOMIC_RELAXED);
        if (u >= J->total) break;
        int qb = J->nqb - 1 - (int)(u / BH);
        long bh = u % BH;
        const long off = bh * (long)S * D;
        const float *q = J->Q + off, *k = J->K + off, *v = J->V + off;
        float *o = J->O + off;
        const int q0 = qb * BQ;
        const int nq = (S - q0) < BQ ? (S - q0) : BQ;

        /* Qt */
        for (int i = 0; i < nq; i++) {
            const float *qi = q + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) Qt[d * BQ + i] = qi[d] * qs;
        }
        for (int i = nq; i < BQ; i++)
            for (int d = 0; d < D; d++) Qt[d * BQ + i] = 0.0f;
        memset(Ob, 0, sizeof(float) * BQ * DP);

        __m512 m0 = ninf, m1 = ninf, m2 = ninf;
        __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
        const int kend = causal ? ((q0 + BQ) < S ? (q0 + BQ) : S) : S;

        for (int kc = 0; kc < kend; kc += BK) {
            const int nj = (kend - kc) < BK ? (kend - kc) : BK;
            for (int j0 = 0; j0 < nj; j0 += 8) {
                const float *kp[8];
                for (int b = 0; b < 8; b++) {
                    int kj = kc + j0 + b;
                    if (kj > kend - 1) kj = kend - 1;
                    kp[b] = k + (long)kj * D;
                }
                qk8(Qt, kp[0], kp[1], kp[2], kp[3], kp[4], kp[5], kp[6], kp[7], D, St + (long)j0 * BQ);
            }
            if (causal && kc + nj - 1 > q0) {
                int js = q0 + 1 - kc;
                if (js < 0) js = 0;
                for (int j = js; j < nj; j++) {
                    __m512i ja = _mm512_set1_epi32(kc + j);
                    float *sj = St + (long)j * BQ;
                    for (int a = 0; a < 3; a++) {
                        __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * a));
                        __mmask16 mk = _mm512_cmplt_epi32_mask(qi, ja);
                        _mm512_store_ps(sj + 16 * a, _mm512_mask_mov_ps(_mm512_load_ps(sj + 16 * a), mk, ninf));
                    }
                }
            }
            /* online softmax, base 2 */
            __m512 x0 = ninf, x1 = ninf, x2 = ninf;
            for (int j = 0; j < nj; j++) {
                const float *sj = St + (long)j * BQ;
                x0 = _mm512_max_ps(x0, _mm512_load_ps(sj));
                x1 = _mm512_max_ps(x1, _mm512_load_ps(sj + 16));
                x2 = _mm512_max_ps(x2, _mm512_load_ps(sj + 32));
            }
            x0 = _mm512_max_ps(x0, m0);
            x1 = _mm512_max_ps(x1, m1);
            x2 = _mm512_max_ps(x2, m2);
            __m512 a0 = exp2_ps(_mm512_sub_ps(m0, x0));
            __m512 a1 = exp2_ps(_mm512_sub_ps(m1, x1));
            __m512 a2 = exp2_ps(_mm512_sub_ps(m2, x2));
            _mm512_store_ps(alpha, a0);
            _mm512_store_ps(alpha + 16, a1);
            _mm512_store_ps(alpha + 32, a2);
            m0 = x0;
            m1 = x1;
            m2 = x2;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0;
            for (int j = 0; j < nj; j++) {
                float *sj = St + (long)j * BQ;
                __m512 p0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sj), x0));
                __m512 p1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sj + 16), x1));
                __m512 p2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sj + 32), x2));
                _mm512_store_ps(sj, p0);
                _mm512_store_ps(sj + 16, p1);
                _mm512_store_ps(sj + 32, p2);
                s0 = _mm512_add_ps(s0, p0);
                s1 = _mm512_add_ps(s1, p1);
                s2 = _mm512_add_ps(s2, p2);
            }
            l0 = _mm512_fmadd_ps(l0, a0, s0);
            l1 = _mm512_fmadd_ps(l1, a1, s1);
            l2 = _mm512_fmadd_ps(l2, a2, s2);
            pv_all(Ob, DP, alpha, St, v + (long)kc * D, D, nj, ND, lm);
        }
        _mm512_store_ps(lv, l0);
        _mm512_store_ps(lv + 16, l1);
        _mm512_store_ps(lv + 32, l2);
        for (int i = 0; i < nq; i++) {
            __m512 inv = _mm512_set1_ps(1.0f / lv[i]);
            const float *src = Ob + (long)i * DP;
            float *dst = o + (long)(q0 + i) * D;
            int x = 0;
            for (; x + 1 < ND; x++) _mm512_storeu_ps(dst + 16 * x, _mm512_mul_ps(_mm512_load_ps(src + 16 * x), inv));
            _mm512_mask_storeu_ps(dst + 16 * x, lm, _mm512_mul_ps(_mm512_load_ps(src + 16 * x), inv));
        }
    }
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
    J.causal = causal ? 1 : 0;
    J.Q = Q;
    J.K = K;
    J.V = V;
    J.O = O;
    J.nqb = (S + BQ - 1) / BQ;
    J.total = (long)B * H * J.nqb;
    J.next = 0;
    J.qscale = (float)(1.4426950408889634 / sqrt((double)D));

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if (nt > J.total) nt = J.total;
    pthread_t th[MAXT];
    int started[MAXT];
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, worker, &J) == 0;
    worker(&J);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32", "BQ=48"};
const spak_kernel_info *spak_info(void) { return &info; }
