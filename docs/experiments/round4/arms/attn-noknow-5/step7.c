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
#include <stdint.h>
#include "abi.h"

#ifndef BK
#define BK 128
#endif
#ifndef NTHREADS
#define NTHREADS 0 /* 0: one per online CPU */
#endif
#define BQ 48
#define MAXT 64

#define AI static inline __attribute__((always_inline))

typedef struct {
    uint16_t *Kp, *Vt;
    uint32_t *Qp, *Pp;
    float *St, *ObT;
} amxbuf_t;

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nqb;
    long total;
    long next;
    int tid;
    amxbuf_t *bufs;
    float qscale;
} job_t;

/* 2^x for x <= 0 (x may be -inf). Inputs below -126 give 2^-126 (never a denormal); Taylor degree 6 on
 * f in [-0.5, 0.5] (relative error ~1e-7). */
AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
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

    long u = 0;
    int sub = 1;
    for (;;) {
        if (sub >= 1) {
            u = __atomic_fetch_add(&J->next, 1, __ATOMIC_RELAXED);
            if (u >= J->total) break;
            sub = 0;
        }
        const int cur = sub++;
        long bh = u / J->nqb;
        int qb = J->nqb - 1 - (int)(u % J->nqb);
        (void)cur;
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

#ifndef BQA
#define BQA 32 /* queries per AMX block: 32 (2x2 tile blocking) or 64 (1x4 tile blocking) */
#endif
#define NQV (BQA / 16)

/* 6 split products as one GEMM over segments: A part amap[seg] times B part bmap[seg] */
static const int amap[6] = {0, 1, 2, 0, 1, 0};
static const int bmap[6] = {0, 0, 0, 1, 1, 2};

/* C tiles 0..3 += [A0;A1] x [B0 B1] over 6 segments x nst steps.
 * A tiles: 16 rows x 32 bf16 (row stride ast bytes, astep elements per step, apart elements per part).
 * B tiles: 16 pair-rows x 16 dwords (row stride 128 bytes, bstep dwords per step, bpart dwords per part). */
AI void mm2x2(const uint16_t *A0, long agrp, long ast, long astep, size_t apart, const uint32_t *B0, long bstep,
              size_t bpart, int nst)
{
    for (int sg = 0; sg < 6; sg++) {
        const uint16_t *a = A0 + amap[sg] * apart;
        const uint32_t *b = B0 + bmap[sg] * bpart;
        for (int t = 0; t < nst; t++) {
            const uint16_t *at = a + (long)t * astep;
            const uint32_t *bt = b + (long)t * bstep;
            TLOAD(4, at, ast);
            TLOAD(6, bt, 128);
            _tile_dpbf16ps(0, 4, 6);
            TLOAD(7, bt + 16, 128);
            _tile_dpbf16ps(1, 4, 7);
            TLOAD(5, at + agrp, ast);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
    }
}

/* C tiles 0..3 (4 query sub-blocks of one 16-row group) += A x [B0 B1 B2 B3] over 6 segments x nst steps.
 * A tiles contiguous (stride 64 B); B rows of 64 dwords (stride 256 B). A alternates tmm4/tmm5 by segment. */
#define ONE_SEG(AT, sg)                                                                                           \
    do {                                                                                                          \
        const uint16_t *a_ = A0 + amap[sg] * apart + (long)t * 512;                                               \
        const uint32_t *b_ = B0 + bmap[sg] * bpart + (long)t * bstep;                                             \
        TLOAD(AT, a_, 64);                                                                                        \
        TLOAD(6, b_, 256);                                                                                        \
        _tile_dpbf16ps(0, AT, 6);                                                                                 \
        TLOAD(7, b_ + 16, 256);                                                                                   \
        _tile_dpbf16ps(1, AT, 7);                                                                                 \
        TLOAD(6, b_ + 32, 256);                                                                                   \
        _tile_dpbf16ps(2, AT, 6);                                                                                 \
        TLOAD(7, b_ + 48, 256);                                                                                   \
        _tile_dpbf16ps(3, AT, 7);                                                                                 \
    } while (0)
AI void mm1x4(const uint16_t *A0, size_t apart, const uint32_t *B0, long bstep, size_t bpart, int nst)
{
    for (int t = 0; t < nst; t++) {
        ONE_SEG(4, 0);
        ONE_SEG(5, 1);
        ONE_SEG(4, 2);
        ONE_SEG(5, 3);
        ONE_SEG(4, 4);
        ONE_SEG(5, 5);
    }
}

static void *worker_amx(void *arg)
{
    job_t *J = (job_t *)arg;
    const int tid = __atomic_fetch_add(&J->tid, 1, __ATOMIC_RELAXED);
    amxbuf_t *bf = &J->bufs[tid];
    const int S = J->S, D = J->D, causal = J->causal;
    const int Dp32 = (D + 31) & ~31, Spad = (S + 31) & ~31;
    const int npair = Dp32 / 2;
    /* K and V^T are stored tile-contiguous: [row group of 16][part][step of 32][16 rows][32 bf16] */
    const int nds = Dp32 / 32, nks = Spad / 32;
    const size_t partK = (size_t)nds * 512, partV = (size_t)nks * 512;
    const size_t partQ = (size_t)npair * BQA, partP = (size_t)(BK / 2) * BQA;
    uint16_t *Kp = bf->Kp, *Vt = bf->Vt;
    uint32_t *Qp = bf->Qp, *Pp = bf->Pp;
    float *St = bf->St, *ObT = bf->ObT;

    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&cfg);

    float lv[BQA] __attribute__((aligned(64)));
    const float qs = J->qscale;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    long cur_bh = -1;

    long u = 0;
    int sub = 1;
    for (;;) {
        if (sub >= 1) {
            u = __atomic_fetch_add(&J->next, 1, __ATOMIC_RELAXED);
            if (u >= J->total) break;
            sub = 0;
        }
        const int cur = sub++;
        long bh = u / J->nqb;
        int qb = J->nqb - 1 - (int)(u % J->nqb);
        (void)cur;
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
                    uint16_t *dst = Kp + ((size_t)(kk >> 4) * 3 * nds + (d0 >> 5)) * 512 + (kk & 15) * 32 + (d0 & 31);
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partK), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partK), tobf16(l));
                }
            }
            const __m512i vidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            for (int d = 0; d < Dp32; d++) {
                for (int k0 = 0; k0 < Spad; k0 += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (d < D && k0 < S) {
                        int rem = S - k0;
                        __mmask16 mm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                        x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mm, vidx, v + (long)k0 * D + d, 4);
                    }
                    __m512i h, m, l;
                    split3(x, &h, &m, &l);
                    uint16_t *dst = Vt + ((size_t)(d >> 4) * 3 * nks + (k0 >> 5)) * 512 + (d & 15) * 32 + (k0 & 31);
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partV), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partV), tobf16(l));
                }
            }
        }

        const int q0 = qb * BQA;
        const int nq = (S - q0) < BQA ? (S - q0) : BQA;

        /* Qp[part][p][q] = pair(Qs[q][2p], Qs[q][2p+1]) */
        {
            const __m512i qidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            const __m512 vqs = _mm512_set1_ps(qs);
            for (int s = 0; s < NQV; s++) {
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
                    uint32_t *dst = Qp + (size_t)p * BQA + 16 * s;
                    _mm512_store_si512((void *)dst, pairw(ah, bh_));
                    _mm512_store_si512((void *)(dst + partQ), pairw(am, bm));
                    _mm512_store_si512((void *)(dst + 2 * partQ), pairw(al, bl));
                }
            }
        }
        memset(ObT, 0, sizeof(float) * (size_t)Dp32 * BQA);

        __m512 mv[NQV], lsum[NQV];
#pragma GCC unroll 4
        for (int s = 0; s < NQV; s++) {
            mv[s] = ninf;
            lsum[s] = _mm512_setzero_ps();
        }
        const int kend = causal ? ((q0 + BQA) < S ? (q0 + BQA) : S) : S;

        for (int kc = 0; kc < kend; kc += BK) {
            const int nj = (kend - kc) < BK ? (kend - kc) : BK;
            const int njr = (nj + 31) & ~31;
#if BQA == 32
            /* scores St[k][q], 32 keys x 32 queries per 2x2 tile block */
            for (int g = 0; g < njr / 32; g++) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                mm2x2(Kp + (size_t)((kc + 32 * g) >> 4) * 3 * partK, (long)(3 * partK), 64, 512, partK, Qp, 16 * BQA, partQ,
                      nds);
                float *sg = St + (size_t)(32 * g) * BQA;
                _tile_stored(0, sg, 128);
                _tile_stored(1, sg + 16, 128);
                _tile_stored(2, sg + 16 * BQA, 128);
                _tile_stored(3, sg + 16 * BQA + 16, 128);
            }
#else
            /* scores St[k][q], 16 keys x 64 queries per 1x4 tile block */
            for (int g = 0; g < (nj + 15) / 16; g++) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                _tile_zero(3);
                mm1x4(Kp + (size_t)((kc + 16 * g) >> 4) * 3 * partK, partK, Qp, 16 * BQA, partQ, nds);
                float *sg = St + (size_t)(16 * g) * BQA;
                _tile_stored(0, sg, 256);
                _tile_stored(1, sg + 16, 256);
                _tile_stored(2, sg + 32, 256);
                _tile_stored(3, sg + 48, 256);
            }
#endif
            if (causal && kc + nj - 1 > q0) {
                int js = q0 + 1 - kc;
                if (js < 0) js = 0;
                for (int j = js; j < nj; j++) {
                    __m512i ja = _mm512_set1_epi32(kc + j);
                    float *sj = St + (long)j * BQA;
                    for (int a = 0; a < NQV; a++) {
                        __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * a));
                        __mmask16 mk = _mm512_cmplt_epi32_mask(qi, ja);
                        _mm512_store_ps(sj + 16 * a, _mm512_mask_mov_ps(_mm512_load_ps(sj + 16 * a), mk, ninf));
                    }
                }
            }
            /* online softmax, base 2 */
            __m512 xm[NQV], al[NQV], ss[NQV];
#pragma GCC unroll 4
            for (int s = 0; s < NQV; s++) xm[s] = ninf;
            for (int j = 0; j < nj; j++) {
                const float *sj = St + (long)j * BQA;
#pragma GCC unroll 4
                for (int s = 0; s < NQV; s++) xm[s] = _mm512_max_ps(xm[s], _mm512_load_ps(sj + 16 * s));
            }
#pragma GCC unroll 4
            for (int s = 0; s < NQV; s++) {
                xm[s] = _mm512_max_ps(xm[s], mv[s]);
                al[s] = exp2_ps(_mm512_sub_ps(mv[s], xm[s]));
                mv[s] = xm[s];
                ss[s] = _mm512_setzero_ps();
            }
            /* exp + split into P pairs */
            for (int jp = 0; jp < njr / 2; jp++) {
                const int ja_ = 2 * jp, jb_ = 2 * jp + 1;
                const float *sa = St + (long)ja_ * BQA, *sb = St + (long)jb_ * BQA;
                uint32_t *dst = Pp + (size_t)jp * BQA;
#pragma GCC unroll 4
                for (int s = 0; s < NQV; s++) {
                    __m512 pa = _mm512_setzero_ps(), pb = pa;
                    if (ja_ < nj) pa = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa + 16 * s), xm[s]));
                    if (jb_ < nj) pb = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb + 16 * s), xm[s]));
                    ss[s] = _mm512_add_ps(ss[s], _mm512_add_ps(pa, pb));
                    __m512i ah, am, alo, bh_, bm, bl;
                    split3(pa, &ah, &am, &alo);
                    split3(pb, &bh_, &bm, &bl);
                    _mm512_store_si512((void *)(dst + 16 * s), pairw(ah, bh_));
                    _mm512_store_si512((void *)(dst + partP + 16 * s), pairw(am, bm));
                    _mm512_store_si512((void *)(dst + 2 * partP + 16 * s), pairw(alo, bl));
                }
            }
#pragma GCC unroll 4
            for (int s = 0; s < NQV; s++) lsum[s] = _mm512_fmadd_ps(lsum[s], al[s], ss[s]);
            /* rescale the accumulator, then ObT += Vt P */
            for (int d = 0; d < Dp32; d++) {
                float *od = ObT + (size_t)d * BQA;
#pragma GCC unroll 4
                for (int s = 0; s < NQV; s++)
                    _mm512_store_ps(od + 16 * s, _mm512_mul_ps(_mm512_load_ps(od + 16 * s), al[s]));
            }
#if BQA == 32
            for (int dp = 0; dp < Dp32 / 32; dp++) {
                float *oc = ObT + (size_t)(32 * dp) * BQA;
                TLOAD(0, oc, 128);
                TLOAD(1, oc + 16, 128);
                TLOAD(2, oc + 16 * BQA, 128);
                TLOAD(3, oc + 16 * BQA + 16, 128);
                mm2x2(Vt + (size_t)(2 * dp) * 3 * partV + (size_t)(kc >> 5) * 512, (long)(3 * partV), 64, 512, partV, Pp,
                      16 * BQA, partP, njr / 32);
                _tile_stored(0, oc, 128);
                _tile_stored(1, oc + 16, 128);
                _tile_stored(2, oc + 16 * BQA, 128);
                _tile_stored(3, oc + 16 * BQA + 16, 128);
            }
#else
            for (int dg = 0; dg < Dp32 / 16; dg++) {
                float *oc = ObT + (size_t)(16 * dg) * BQA;
                TLOAD(0, oc, 256);
                TLOAD(1, oc + 16, 256);
                TLOAD(2, oc + 32, 256);
                TLOAD(3, oc + 48, 256);
                mm1x4(Vt + (size_t)dg * 3 * partV + (size_t)(kc >> 5) * 512, partV, Pp, 16 * BQA, partP, njr / 32);
                _tile_stored(0, oc, 256);
                _tile_stored(1, oc + 16, 256);
                _tile_stored(2, oc + 32, 256);
                _tile_stored(3, oc + 48, 256);
            }
#endif
        }
#pragma GCC unroll 4
        for (int s = 0; s < NQV; s++) _mm512_store_ps(lv + 16 * s, lsum[s]);
        for (int i = 0; i < nq; i++) {
            const float inv = 1.0f / lv[i];
            float *dst = o + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) dst[d] = ObT[(size_t)d * BQA + i] * inv;
        }
    }
    _tile_release();
    return NULL;
}

static void free_bufs(amxbuf_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        free(b[i].Kp);
        free(b[i].Vt);
        free(b[i].Qp);
        free(b[i].Pp);
        free(b[i].St);
        free(b[i].ObT);
    }
}

static int alloc_bufs(amxbuf_t *b, int n, int S, int D)
{
    const size_t Dp32 = (size_t)((D + 31) & ~31), Spad = (size_t)((S + 31) & ~31);
    memset(b, 0, sizeof(*b) * (size_t)n);
    for (int i = 0; i < n; i++) {
        b[i].Kp = aligned_alloc(64, ((3 * Spad * Dp32 * 2 + 63) / 64) * 64);
        b[i].Vt = aligned_alloc(64, ((3 * Spad * Dp32 * 2 + 63) / 64) * 64);
        b[i].Qp = aligned_alloc(64, 3 * (Dp32 / 2) * BQA * 4);
        b[i].Pp = aligned_alloc(64, 3 * (BK / 2) * BQA * 4);
        b[i].St = aligned_alloc(64, (size_t)BK * BQA * 4);
        b[i].ObT = aligned_alloc(64, Dp32 * BQA * 4);
        if (!b[i].Kp || !b[i].Vt || !b[i].Qp || !b[i].Pp || !b[i].St || !b[i].ObT) {
            free_bufs(b, i + 1);
            return 0;
        }
    }
    return 1;
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
    J.next = 0;
    J.tid = 0;
    J.bufs = NULL;
    J.qscale = (float)(1.4426950408889634 / sqrt((double)D));

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (NTHREADS > 0 && nt > NTHREADS) nt = NTHREADS;
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    amxbuf_t bufs[MAXT];
    int use_amx = amx_ok();
    const int namx = (int)nt;
    if (use_amx && !alloc_bufs(bufs, namx, S, D)) use_amx = 0;
    if (use_amx) J.bufs = bufs;
    J.nqb = use_amx ? (S + BQA - 1) / BQA : (S + BQ - 1) / BQ;
    J.total = (long)B * H * J.nqb;
    if (nt > J.total) nt = J.total;
    void *(*fmain)(void *) = use_amx ? worker_amx : worker;
    void *(*fother)(void *) = fmain;
    pthread_t th[MAXT];
    int started[MAXT];
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, fother, &J) == 0;
    fmain(&J);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    if (use_amx) free_bufs(bufs, namx);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-amx-bf16x6-2x2", "fp32", "AMX bf16x6 flash attention, BQA-query blocks"};
const spak_kernel_info *spak_info(void) { return &info; }
