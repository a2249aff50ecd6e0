/*
 * step3: AMX bf16x3 path (D%32==0) + step2 AVX-512 fallback; blocked attention (K packed tile-major, padded score stride), AVX-512, 2 threads.
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
#define BQ 48
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
    /* tile-major: Kt[jt][d][0..KB), each 64-key tile contiguous (D*KB floats) */
    for (int j0 = 0; j0 < Sp; j0 += KB) {
        float *tile = kt + (size_t)j0 * D;
        int je = j0 + KB < S ? j0 + KB : S;
        for (int j = j0; j < je; j++) {
            const float *kr = k + (size_t)j * D;
            for (int d = 0; d < D; d++) tile[(size_t)d * KB + (j - j0)] = kr[d];
        }
        for (int d = 0; d < D; d++)
            for (int j = je; j < j0 + KB; j++) tile[(size_t)d * KB + (j - j0)] = 0.0f;
    }
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
    const int LDS = Sp + 16; /* score row stride: avoid 4 KiB aliasing */
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
            qk_dispatch(rr, q + (size_t)r * D, D, kt + (size_t)j0 * D, KB, sbuf + (size_t)r * LDS + j0, LDS);
        }

    /* softmax (unnormalised exp, 1/l kept) */
    const __m512 vc = _mm512_set1_ps(c->c);
    for (int r = 0; r < nr; r++) {
        int i = i0 + r;
        int n = causal ? i + 1 : S;
        float *s = sbuf + (size_t)r * LDS;
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
            pv_dispatch(rr, nv, sbuf + (size_t)rg * LDS, LDS, v + c0, ldv, jmax, o + (size_t)rg * D + c0, D,
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
    size_t sb = ((size_t)BQ * (c->Sp + 16) * sizeof(float) + 63) / 64 * 64;
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

static int avx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V, float *O)
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


/* ======================================================================
 * AMX path (D % 32 == 0): fp32 emulated with a 3-way bf16 split.
 *   x = x0 + x1 + x2 (each bf16, 24 significant bits together);
 *   a.b ~= sum over the 6 cross products with ia + ib <= 2
 *   (the dropped terms are below 2^-24 relative), accumulated in fp32
 *   tiles by TDPBF16PS.
 * Per thread: whole heads (dynamic). Per head: K packed to VNNI tiles
 * Kv[kt][s][dc][16 pairs][16 keys], V to Vv[kc][s][dt][16 key pairs][16 d].
 * Per block of BQA query rows: Q split, S = Q K^T (32x32 per 4 C tiles),
 * exact fp32 row softmax (exp2), P split into 3 bf16 planes, O = P V
 * (32 rows x 32 d per 4 C tiles), 1/l at the store.
 * ====================================================================== */
#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AVX512BF16__)
#define HAVE_AMX 1
#include <stdint.h>
#include <sys/syscall.h>

#ifndef BQA
#define BQA 64
#endif

#define TLOAD(t, base, stride) \
    __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"((const void *)(base)), "r"((long)(stride)) : "memory")
#define TSTORE(t, base, stride) \
    __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"((void *)(base)), "r"((long)(stride)) : "memory")
#define TZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define TDP(c, a, b) __asm__ volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

typedef struct {
    int B, H, S, D, causal, Sp, nthreads;
    const float *Q, *K, *V;
    float *O;
    long next;
} actx_t;

AI __m512 bf2f(__m256i b) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16)); }

AI void split3(__m512 x, __m256i *h0, __m256i *h1, __m256i *h2)
{
    __m256i b0 = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r1 = _mm512_sub_ps(x, bf2f(b0));
    __m256i b1 = (__m256i)_mm512_cvtneps_pbh(r1);
    __m512 r2 = _mm512_sub_ps(r1, bf2f(b1));
    __m256i b2 = (__m256i)_mm512_cvtneps_pbh(r2);
    *h0 = b0;
    *h1 = b1;
    *h2 = b2;
}

/* pack one head's K and V (rows >= S are zero) */
static void amx_pack_head(const actx_t *c, long bh, uint32_t *kv, uint32_t *vv, uint32_t *tmp)
{
    const int S = c->S, D = c->D, Sp = c->Sp, D2 = D / 2, ndc = D / 32, ndt = D / 16;
    const float *k = c->K + (size_t)bh * S * D;
    const float *v = c->V + (size_t)bh * S * D;
    /* K: 16 keys at a time into tmp[s][kk][D/2] (u32 pairs), then transpose into tiles */
    for (int kt = 0; kt < Sp / 16; kt++) {
        for (int kk = 0; kk < 16; kk++) {
            int j = kt * 16 + kk;
            for (int d0 = 0; d0 < D; d0 += 16) {
                __m512 x = j < S ? _mm512_loadu_ps(k + (size_t)j * D + d0) : _mm512_setzero_ps();
                __m256i h0, h1, h2;
                split3(x, &h0, &h1, &h2);
                _mm256_storeu_si256((__m256i *)(tmp + ((size_t)0 * 16 + kk) * D2 + d0 / 2), h0);
                _mm256_storeu_si256((__m256i *)(tmp + ((size_t)1 * 16 + kk) * D2 + d0 / 2), h1);
                _mm256_storeu_si256((__m256i *)(tmp + ((size_t)2 * 16 + kk) * D2 + d0 / 2), h2);
            }
        }
        for (int s = 0; s < 3; s++)
            for (int dc = 0; dc < ndc; dc++) {
                uint32_t *tile = kv + ((size_t)(kt * 3 + s) * ndc + dc) * 256;
                const uint32_t *src = tmp + (size_t)s * 16 * D2 + dc * 16;
                for (int pp = 0; pp < 16; pp++)
                    for (int kk = 0; kk < 16; kk++) tile[pp * 16 + kk] = src[(size_t)kk * D2 + pp];
            }
    }
    /* V: key pairs interleaved per d */
    const __m512i perm = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6,
                                          21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int kc = 0; kc < Sp / 32; kc++)
        for (int pp = 0; pp < 16; pp++) {
            int j = kc * 32 + 2 * pp;
            for (int d0 = 0; d0 < D; d0 += 16) {
                __m512 x0 = j < S ? _mm512_loadu_ps(v + (size_t)j * D + d0) : _mm512_setzero_ps();
                __m512 x1 = j + 1 < S ? _mm512_loadu_ps(v + (size_t)(j + 1) * D + d0) : _mm512_setzero_ps();
                __m256i a[3], b[3];
                split3(x0, &a[0], &a[1], &a[2]);
                split3(x1, &b[0], &b[1], &b[2]);
                for (int s = 0; s < 3; s++) {
                    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a[s]), b[s], 1);
                    z = _mm512_permutexvar_epi16(perm, z);
                    _mm512_storeu_si512((void *)(vv + ((size_t)(kc * 3 + s) * ndt + d0 / 16) * 256 + pp * 16), z);
                }
            }
        }
}

typedef struct {
    uint32_t *kv, *vv, *tmp;
    uint16_t *qb, *pb;
    float *sbuf, *obuf, *invl;
} abufs_t;

static void amx_block(const actx_t *c, long bh, int qblk, const abufs_t *bf)
{
    const int S = c->S, D = c->D, Sp = c->Sp, causal = c->causal;
    const int LDS = Sp + 16, LDP = Sp + 32, D3 = 3 * D, ndc = D / 32, ndt = D / 16;
    const int i0 = qblk * BQA, i1 = i0 + BQA < S ? i0 + BQA : S, nr = i1 - i0;
    const int npair = (nr + 31) / 32, rows = npair * 32;
    const float *q = c->Q + (size_t)bh * S * D;
    float *o = c->O + (size_t)bh * S * D;
    uint16_t *qb = bf->qb, *pb = bf->pb;
    float *sbuf = bf->sbuf, *obuf = bf->obuf, *invl = bf->invl;
    const uint32_t *kv = bf->kv, *vv = bf->vv;

    /* Q split: qb[r][s][D] */
    for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        for (int d0 = 0; d0 < D; d0 += 16) {
            __m512 x = i < S ? _mm512_loadu_ps(q + (size_t)i * D + d0) : _mm512_setzero_ps();
            __m256i h0, h1, h2;
            split3(x, &h0, &h1, &h2);
            _mm256_storeu_si256((__m256i *)(qb + (size_t)r * D3 + d0), h0);
            _mm256_storeu_si256((__m256i *)(qb + (size_t)r * D3 + D + d0), h1);
            _mm256_storeu_si256((__m256i *)(qb + (size_t)r * D3 + 2 * D + d0), h2);
        }
    }
    __asm__ volatile("" ::: "memory");

    /* scores */
    int W = Sp;
    if (causal) {
        W = i0 + rows;
        if (W > Sp) W = Sp;
    }
    const long qs = (long)D3 * 2;
    for (int j0 = 0; j0 < W; j0 += 32) {
        const int kt = j0 / 16;
        for (int p = 0; p < npair; p++) {
            const int r0 = p * 32;
            if (causal && j0 > i0 + r0 + 31) continue;
            TZERO(0);
            TZERO(1);
            TZERO(2);
            TZERO(3);
            for (int dc = 0; dc < ndc; dc++) {
                const uint16_t *qa = qb + (size_t)r0 * D3 + dc * 32;
#define KT(t, s) (kv + ((size_t)((t) * 3 + (s)) * ndc + dc) * 256)
#define QK_STEP(bs)                   \
    TLOAD(6, KT(kt, bs), 64);         \
    TLOAD(7, KT(kt + 1, bs), 64);     \
    TDP(0, 4, 6);                     \
    TDP(1, 4, 7);                     \
    TDP(2, 5, 6);                     \
    TDP(3, 5, 7);
                TLOAD(4, qa, qs);
                TLOAD(5, qa + (size_t)16 * D3, qs);
                QK_STEP(0) QK_STEP(1) QK_STEP(2)
                TLOAD(4, qa + D, qs);
                TLOAD(5, qa + (size_t)16 * D3 + D, qs);
                QK_STEP(0) QK_STEP(1)
                TLOAD(4, qa + 2 * D, qs);
                TLOAD(5, qa + (size_t)16 * D3 + 2 * D, qs);
                QK_STEP(0)
#undef QK_STEP
#undef KT
            }
            float *sp = sbuf + (size_t)r0 * LDS + j0;
            TSTORE(0, sp, LDS * 4);
            TSTORE(1, sp + 16, LDS * 4);
            TSTORE(2, sp + (size_t)16 * LDS, LDS * 4);
            TSTORE(3, sp + (size_t)16 * LDS + 16, LDS * 4);
        }
    }
    __asm__ volatile("" ::: "memory");

    /* softmax -> 3 bf16 planes of P */
    const __m512 vc = _mm512_set1_ps(1.4426950408889634f / sqrtf((float)D));
    const size_t plane = (size_t)BQA * LDP;
    for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        int ext = causal ? i0 + (r / 32) * 32 + 32 : Sp;
        if (ext > Sp) ext = Sp;
        uint16_t *p0 = pb + (size_t)r * LDP, *p1 = p0 + plane, *p2 = p1 + plane;
        int j0 = 0;
        if (r < nr) {
            int n = causal ? i + 1 : S;
            const float *s = sbuf + (size_t)r * LDS;
            __m512 vmax = _mm512_set1_ps(-INFINITY);
            for (; j0 + 16 <= n; j0 += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(s + j0));
            if (j0 < n) {
                __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
                vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, s + j0));
            }
            float mx = _mm512_reduce_max_ps(vmax);
            __m512 negm = _mm512_set1_ps(-mx * (1.4426950408889634f / sqrtf((float)D)));
            __m512 vsum = _mm512_setzero_ps();
            for (j0 = 0; j0 < n; j0 += 16) {
                __m512 e;
                if (j0 + 16 <= n) {
                    e = exp2_ps(_mm512_fmadd_ps(_mm512_loadu_ps(s + j0), vc, negm));
                } else {
                    __mmask16 m = (__mmask16)((1u << (n - j0)) - 1u);
                    e = _mm512_maskz_mov_ps(m, exp2_ps(_mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, s + j0), vc, negm)));
                }
                vsum = _mm512_add_ps(vsum, e);
                __m256i h0, h1, h2;
                split3(e, &h0, &h1, &h2);
                _mm256_storeu_si256((__m256i *)(p0 + j0), h0);
                _mm256_storeu_si256((__m256i *)(p1 + j0), h1);
                _mm256_storeu_si256((__m256i *)(p2 + j0), h2);
            }
            invl[r] = 1.0f / _mm512_reduce_add_ps(vsum);
        }
        const __m256i z = _mm256_setzero_si256();
        for (; j0 < ext; j0 += 16) {
            _mm256_storeu_si256((__m256i *)(p0 + j0), z);
            _mm256_storeu_si256((__m256i *)(p1 + j0), z);
            _mm256_storeu_si256((__m256i *)(p2 + j0), z);
        }
    }
    __asm__ volatile("" ::: "memory");

    /* O = P V */
    const long ps = (long)LDP * 2;
    for (int p = 0; p < npair; p++) {
        const int r0 = p * 32;
        int jend = causal ? i0 + r0 + 32 : Sp;
        if (jend > Sp) jend = Sp;
        for (int dh = 0; dh < ndc; dh++) {
            TZERO(0);
            TZERO(1);
            TZERO(2);
            TZERO(3);
            for (int k0 = 0; k0 < jend; k0 += 32) {
                const int kc = k0 / 32;
                const uint16_t *pa = pb + (size_t)r0 * LDP + k0;
#define VT(s, t) (vv + ((size_t)(kc * 3 + (s)) * ndt + (t)) * 256)
#define PV_STEP(bs)                   \
    TLOAD(6, VT(bs, 2 * dh), 64);     \
    TLOAD(7, VT(bs, 2 * dh + 1), 64); \
    TDP(0, 4, 6);                     \
    TDP(1, 4, 7);                     \
    TDP(2, 5, 6);                     \
    TDP(3, 5, 7);
                TLOAD(4, pa, ps);
                TLOAD(5, pa + (size_t)16 * LDP, ps);
                PV_STEP(0) PV_STEP(1) PV_STEP(2)
                TLOAD(4, pa + plane, ps);
                TLOAD(5, pa + plane + (size_t)16 * LDP, ps);
                PV_STEP(0) PV_STEP(1)
                TLOAD(4, pa + 2 * plane, ps);
                TLOAD(5, pa + 2 * plane + (size_t)16 * LDP, ps);
                PV_STEP(0)
#undef PV_STEP
#undef VT
            }
            float *op = obuf + (size_t)r0 * D + dh * 32;
            TSTORE(0, op, D * 4);
            TSTORE(1, op + 16, D * 4);
            TSTORE(2, op + (size_t)16 * D, D * 4);
            TSTORE(3, op + (size_t)16 * D + 16, D * 4);
        }
    }
    __asm__ volatile("" ::: "memory");

    for (int r = 0; r < nr; r++) {
        __m512 sc = _mm512_set1_ps(invl[r]);
        const float *src = obuf + (size_t)r * D;
        float *dst = o + (size_t)(i0 + r) * D;
        for (int d0 = 0; d0 < D; d0 += 16) _mm512_storeu_ps(dst + d0, _mm512_mul_ps(_mm512_loadu_ps(src + d0), sc));
    }
}

static void *amx_worker(void *arg)
{
    actx_t *c = (actx_t *)arg;
    const int S = c->S, D = c->D, Sp = c->Sp;
    const long BH = (long)c->B * c->H;
    const int nqb = (S + BQA - 1) / BQA;
    size_t nkv = (size_t)Sp * 3 * D / 2; /* u32 */
    size_t sz_kv = (nkv * 4 + 63) / 64 * 64;
    size_t sz_tmp = ((size_t)3 * 16 * D / 2 * 4 + 63) / 64 * 64;
    size_t sz_qb = ((size_t)BQA * 3 * D * 2 + 63) / 64 * 64;
    size_t sz_pb = ((size_t)3 * BQA * (Sp + 32) * 2 + 63) / 64 * 64;
    size_t sz_s = ((size_t)BQA * (Sp + 16) * 4 + 63) / 64 * 64;
    size_t sz_o = ((size_t)BQA * D * 4 + 63) / 64 * 64;
    size_t sz_l = ((size_t)BQA * 4 + 63) / 64 * 64;
    size_t total = 2 * sz_kv + sz_tmp + sz_qb + sz_pb + sz_s + sz_o + sz_l;
    char *mem = aligned_alloc(64, total);
    if (!mem) return (void *)1;
    abufs_t bf;
    char *m = mem;
    bf.kv = (uint32_t *)m; m += sz_kv;
    bf.vv = (uint32_t *)m; m += sz_kv;
    bf.tmp = (uint32_t *)m; m += sz_tmp;
    bf.qb = (uint16_t *)m; m += sz_qb;
    bf.pb = (uint16_t *)m; m += sz_pb;
    bf.sbuf = (float *)m; m += sz_s;
    bf.obuf = (float *)m; m += sz_o;
    bf.invl = (float *)m;

    unsigned char cfg[64];
    memset(cfg, 0, sizeof cfg);
    cfg[0] = 1; /* palette 1 */
    for (int t = 0; t < 8; t++) {
        cfg[16 + 2 * t] = 64; /* colsb (low byte) */
        cfg[16 + 2 * t + 1] = 0;
        cfg[48 + t] = 16; /* rows */
    }
    __asm__ volatile("ldtilecfg %0" ::"m"(*(const unsigned char(*)[64])cfg));

    for (;;) {
        long bh = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED);
        if (bh >= BH) break;
        amx_pack_head(c, bh, bf.kv, bf.vv, bf.tmp);
        __asm__ volatile("" ::: "memory");
        for (int qb = nqb - 1; qb >= 0; qb--) amx_block(c, bh, qb, &bf);
    }
    __asm__ volatile("tilerelease" ::);
    free(mem);
    return NULL;
}

static int amx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                         float *O)
{
    actx_t c;
    memset(&c, 0, sizeof c);
    c.B = B; c.H = H; c.S = S; c.D = D; c.causal = causal;
    c.Q = Q; c.K = K; c.V = V; c.O = O;
    c.Sp = (S + 63) / 64 * 64;
    long BH = (long)B * H;
    int nt = NT > 0 ? NT : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > BH) nt = (int)BH;
    c.nthreads = nt;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[t], NULL, amx_worker, &c) != 0) break;
        started++;
    }
    int rc = 0;
    if (amx_worker(&c)) rc = 3;
    for (int t = 1; t <= started; t++) {
        void *r2;
        pthread_join(th[t], &r2);
        if (r2) rc = 3;
    }
    return rc;
}

static int amx_ok(void)
{
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
#endif

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V, float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
#ifdef HAVE_AMX
    if (D % 32 == 0 && amx_ok()) {
        int rc = amx_attention(B, H, S, D, causal, Q, K, V, O);
        if (rc == 0) return 0;
    }
#endif
    return avx_attention(B, H, S, D, causal, Q, K, V, O);
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step3-amx-bf16x3", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
