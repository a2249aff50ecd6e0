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
        long bh = u / J->nqb;
        int qb = J->nqb - 1 - (int)(u % J->nqb);
        (void)BH;
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

/* ======================= AMX path (fp32 accuracy via 3-way bf16 split) =======================
 * x = h + m + l (each a bf16 obtained by truncation), |x - h - m - l| < 2^-21 |x|.
 * x*y ~= hh + hm + mh + hl + lh + mm  (6 bf16 tile products, fp32 accumulation).
 * Transposed formulation so the softmax code above is reused unchanged:
 *   St[k][q] = sum_d K[k][d] Qs[q][d]      A = K rows (bf16),    B = Q pairs (VNNI)
 *   ObT[d][q] += sum_k Vt[d][k] P[k][q]    A = V^T rows (bf16),  B = P pairs (VNNI)
 */
#include <stdint.h>
#include <sys/syscall.h>
#include <cpuid.h>

#define TRUNC_MASK 0xFFFF0000u
/* GCC's tileloadd asm has no memory operand: fence the compiler so earlier stores are emitted first */
#define TLOAD(t, base, stride)                                                                                    \
    do {                                                                                                          \
        __asm__ volatile("" ::: "memory");                                                                         \
        _tile_loadd(t, base, stride);                                                                             \
    } while (0)

typedef struct {
    uint8_t palette_id, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static int amx_ok(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((d >> 24) & 1) || !((d >> 22) & 1)) return 0; /* AMX-TILE, AMX-BF16 */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) != 0) return 0;
    return 1;
}

/* split 16 floats into 3 truncated parts (as float bit patterns, low 16 bits zero) */
AI void split3(__m512 x, __m512i *h, __m512i *m, __m512i *l)
{
    const __m512i mk = _mm512_set1_epi32((int)TRUNC_MASK);
    __m512i xh = _mm512_and_si512(_mm512_castps_si512(x), mk);
    __m512 r = _mm512_sub_ps(x, _mm512_castsi512_ps(xh));
    __m512i xm = _mm512_and_si512(_mm512_castps_si512(r), mk);
    __m512 r2 = _mm512_sub_ps(r, _mm512_castsi512_ps(xm));
    __m512i xl = _mm512_and_si512(_mm512_castps_si512(r2), mk);
    *h = xh;
    *m = xm;
    *l = xl;
}

/* pair dwords: low 16 bits = bf16(a), high 16 bits = bf16(b) */
AI __m512i pairw(__m512i a, __m512i b) { return _mm512_or_si512(_mm512_srli_epi32(a, 16), b); }

AI __m256i tobf16(__m512i a) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(a, 16)); }

#define DPS6(s, partB, bptr)                                                                                      \
    do {                                                                                                          \
        TLOAD(6, (bptr) + 16 * (s), 192);                                                                   \
        _tile_dpbf16ps(s, 3, 6);                                                                                  \
        _tile_dpbf16ps(s, 4, 6);                                                                                  \
        _tile_dpbf16ps(s, 5, 6);                                                                                  \
        TLOAD(7, (bptr) + (partB) + 16 * (s), 192);                                                         \
        _tile_dpbf16ps(s, 3, 7);                                                                                  \
        _tile_dpbf16ps(s, 4, 7);                                                                                  \
        TLOAD(6, (bptr) + 2 * (partB) + 16 * (s), 192);                                                     \
        _tile_dpbf16ps(s, 3, 6);                                                                                  \
    } while (0)

static void *worker_amx(void *arg)
{
    job_t *J = (job_t *)arg;
    const int S = J->S, D = J->D, causal = J->causal;
    const int Dp32 = (D + 31) & ~31, Dp16 = (D + 15) & ~15, Spad = (S + 31) & ~31;
    const int npair = Dp32 / 2;
    const size_t partK = (size_t)Spad * Dp32, partV = (size_t)Dp16 * Spad;
    const size_t partQ = (size_t)npair * BQ, partP = (size_t)(BK / 2) * BQ;
    uint16_t *Kp = aligned_alloc(64, ((3 * partK * 2 + 63) / 64) * 64);
    uint16_t *Vt = aligned_alloc(64, ((3 * partV * 2 + 63) / 64) * 64);
    uint32_t *Qp = aligned_alloc(64, ((3 * partQ * 4 + 63) / 64) * 64);
    uint32_t *Pp = aligned_alloc(64, 3 * partP * 4);
    float *St = aligned_alloc(64, (size_t)BK * BQ * 4);
    float *ObT = aligned_alloc(64, (size_t)Dp16 * BQ * 4);
    if (!Kp || !Vt || !Qp || !Pp || !St || !ObT) {
        free(Kp);
        free(Vt);
        free(Qp);
        free(Pp);
        free(St);
        free(ObT);
        return worker(arg);
    }
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&cfg);

    float alpha[BQ] __attribute__((aligned(64)));
    float lv[BQ] __attribute__((aligned(64)));
    const long BH = (long)J->B * J->H;
    const float qs = J->qscale;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    long cur_bh = -1;

    for (;;) {
        long u = __atomic_fetch_add(&J->next, 1, __ATOMIC_RELAXED);
        if (u >= J->total) break;
        long bh = u / J->nqb;
        int qb = J->nqb - 1 - (int)(u % J->nqb);
        (void)BH;
        const long off = bh * (long)S * D;
        const float *q = J->Q + off, *k = J->K + off, *v = J->V + off;
        float *o = J->O + off;

        if (bh != cur_bh) { /* pack K (rows) and V^T of this head into 3 bf16 parts */
            cur_bh = bh;
            for (int kk = 0; kk < Spad; kk++) {
                for (int d0 = 0; d0 < Dp32; d0 += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (kk < S && d0 < D) {
                        int rem = D - d0;
                        __mmask16 mm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                        x = _mm512_maskz_loadu_ps(mm, k + (long)kk * D + d0);
                    }
                    __m512i h, m, l;
                    split3(x, &h, &m, &l);
                    uint16_t *dst = Kp + (size_t)kk * Dp32 + d0;
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partK), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partK), tobf16(l));
                }
            }
            const __m512i vidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            for (int d = 0; d < Dp16; d++) {
                for (int k0 = 0; k0 < Spad; k0 += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (d < D && k0 < S) {
                        int rem = S - k0;
                        __mmask16 mm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                        x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mm, vidx, v + (long)k0 * D + d, 4);
                    }
                    __m512i h, m, l;
                    split3(x, &h, &m, &l);
                    uint16_t *dst = Vt + (size_t)d * Spad + k0;
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partV), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partV), tobf16(l));
                }
            }
        }

        const int q0 = qb * BQ;
        const int nq = (S - q0) < BQ ? (S - q0) : BQ;

        /* Qp[part][p][q] = pair(Qs[q][2p], Qs[q][2p+1]) */
        {
            const __m512i qidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            const __m512 vqs = _mm512_set1_ps(qs);
            for (int s = 0; s < 3; s++) {
                int rem = nq - 16 * s;
                __mmask16 mq = rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
                const float *qbase = q + (long)(q0 + 16 * s) * D;
                for (int p = 0; p < npair; p++) {
                    __m512 xa = _mm512_setzero_ps(), xb = _mm512_setzero_ps();
                    if (mq && 2 * p < D) xa = _mm512_mask_i32gather_ps(xa, mq, qidx, qbase + 2 * p, 4);
                    if (mq && 2 * p + 1 < D) xb = _mm512_mask_i32gather_ps(xb, mq, qidx, qbase + 2 * p + 1, 4);
                    xa = _mm512_mul_ps(xa, vqs);
                    xb = _mm512_mul_ps(xb, vqs);
                    __m512i ah, am, al, bh_, bm, bl;
                    split3(xa, &ah, &am, &al);
                    split3(xb, &bh_, &bm, &bl);
                    uint32_t *dst = Qp + (size_t)p * BQ + 16 * s;
                    _mm512_store_si512((void *)dst, pairw(ah, bh_));
                    _mm512_store_si512((void *)(dst + partQ), pairw(am, bm));
                    _mm512_store_si512((void *)(dst + 2 * partQ), pairw(al, bl));
                }
            }
        }
        memset(ObT, 0, sizeof(float) * (size_t)Dp16 * BQ);

        __m512 m0 = ninf, m1 = ninf, m2 = ninf;
        __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
        const int kend = causal ? ((q0 + BQ) < S ? (q0 + BQ) : S) : S;

        for (int kc = 0; kc < kend; kc += BK) {
            const int nj = (kend - kc) < BK ? (kend - kc) : BK;
            const int ng = (nj + 15) / 16;
            const int njr = (nj + 31) & ~31;
            /* scores */
            for (int g = 0; g < ng; g++) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                for (int ds = 0; ds < Dp32 / 32; ds++) {
                    const uint16_t *a = Kp + (size_t)(kc + 16 * g) * Dp32 + 32 * ds;
                    TLOAD(3, a, Dp32 * 2);
                    TLOAD(4, a + partK, Dp32 * 2);
                    TLOAD(5, a + 2 * partK, Dp32 * 2);
                    const uint32_t *b = Qp + (size_t)(16 * ds) * BQ;
                    DPS6(0, partQ, b);
                    DPS6(1, partQ, b);
                    DPS6(2, partQ, b);
                }
                float *sg = St + (size_t)(16 * g) * BQ;
                _tile_stored(0, sg, 192);
                _tile_stored(1, sg + 16, 192);
                _tile_stored(2, sg + 32, 192);
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
            m0 = x0;
            m1 = x1;
            m2 = x2;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0;
            /* exp + split into P pairs */
            for (int jp = 0; jp < njr / 2; jp++) {
                const int ja_ = 2 * jp, jb_ = 2 * jp + 1;
                const float *sa = St + (long)ja_ * BQ, *sb = St + (long)jb_ * BQ;
                __m512 pa0 = _mm512_setzero_ps(), pa1 = pa0, pa2 = pa0, pb0 = pa0, pb1 = pa0, pb2 = pa0;
                if (ja_ < nj) {
                    pa0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa), x0));
                    pa1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa + 16), x1));
                    pa2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa + 32), x2));
                }
                if (jb_ < nj) {
                    pb0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb), x0));
                    pb1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb + 16), x1));
                    pb2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb + 32), x2));
                }
                s0 = _mm512_add_ps(s0, _mm512_add_ps(pa0, pb0));
                s1 = _mm512_add_ps(s1, _mm512_add_ps(pa1, pb1));
                s2 = _mm512_add_ps(s2, _mm512_add_ps(pa2, pb2));
                uint32_t *dst = Pp + (size_t)jp * BQ;
                __m512i ah, am, al, bh_, bm, bl;
#define PST(PA, PB, OFF)                                                                                          \
    split3(PA, &ah, &am, &al);                                                                                    \
    split3(PB, &bh_, &bm, &bl);                                                                                   \
    _mm512_store_si512((void *)(dst + OFF), pairw(ah, bh_));                                                      \
    _mm512_store_si512((void *)(dst + partP + OFF), pairw(am, bm));                                               \
    _mm512_store_si512((void *)(dst + 2 * partP + OFF), pairw(al, bl));
                PST(pa0, pb0, 0)
                PST(pa1, pb1, 16)
                PST(pa2, pb2, 32)
#undef PST
            }
            l0 = _mm512_fmadd_ps(l0, a0, s0);
            l1 = _mm512_fmadd_ps(l1, a1, s1);
            l2 = _mm512_fmadd_ps(l2, a2, s2);
            /* rescale the accumulator, then ObT += Vt P */
            for (int d = 0; d < Dp16; d++) {
                float *od = ObT + (size_t)d * BQ;
                _mm512_store_ps(od, _mm512_mul_ps(_mm512_load_ps(od), a0));
                _mm512_store_ps(od + 16, _mm512_mul_ps(_mm512_load_ps(od + 16), a1));
                _mm512_store_ps(od + 32, _mm512_mul_ps(_mm512_load_ps(od + 32), a2));
            }
            for (int dt = 0; dt < Dp16 / 16; dt++) {
                float *oc = ObT + (size_t)(16 * dt) * BQ;
                TLOAD(0, oc, 192);
                TLOAD(1, oc + 16, 192);
                TLOAD(2, oc + 32, 192);
                for (int ks = 0; ks < njr / 32; ks++) {
                    const uint16_t *a = Vt + (size_t)(16 * dt) * Spad + kc + 32 * ks;
                    TLOAD(3, a, Spad * 2);
                    TLOAD(4, a + partV, Spad * 2);
                    TLOAD(5, a + 2 * partV, Spad * 2);
                    const uint32_t *b = Pp + (size_t)(16 * ks) * BQ;
                    DPS6(0, partP, b);
                    DPS6(1, partP, b);
                    DPS6(2, partP, b);
                }
                _tile_stored(0, oc, 192);
                _tile_stored(1, oc + 16, 192);
                _tile_stored(2, oc + 32, 192);
            }
        }
        _mm512_store_ps(lv, l0);
        _mm512_store_ps(lv + 16, l1);
        _mm512_store_ps(lv + 32, l2);
        (void)alpha;
        for (int i = 0; i < nq; i++) {
            const float inv = 1.0f / lv[i];
            float *dst = o + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) dst[d] = ObT[(size_t)d * BQ + i] * inv;
        }
    }
    _tile_release();
    free(Kp);
    free(Vt);
    free(Qp);
    free(Pp);
    free(St);
    free(ObT);
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
    void *(*fn)(void *) = amx_ok() ? worker_amx : worker;
    pthread_t th[MAXT];
    int started[MAXT];
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, fn, &J) == 0;
    fn(&J);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-amx-bf16x6", "fp32", "BQ=48 3-way bf16 split"};
const spak_kernel_info *spak_info(void) { return &info; }
