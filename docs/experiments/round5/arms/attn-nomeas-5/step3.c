/*
 * Attention forward, fp32 semantics on AMX: every fp32 operand is split into ns bf16 parts
 * (x = x0 + x1 [+ x2]) and the products x_i*y_j with i+j < ns are accumulated in fp32 tiles
 * (ns=2: 3 products; ns=3: 6 products, ~fp32). Scores use ns=3 (exp amplifies their error), PV uses NSP. Per (b,h): K and V packed to
 * VNNI B-tiles; per Q block of ABQ rows:
 *   1. scores (log2 domain) via 32x32 tile blocks (2x2 tiles, 8 tmm registers)
 *   2. exact row softmax (AVX-512 exp2) written as bf16 parts; causal key blocks skipped
 *   3. O = P V via the same tile blocks over key chunks of KC, scaled by 1/l at the end
 * Fallback (no AMX): the AVX-512 fp32 6x64 register-blocked kernel.
 * Heads split over pthreads.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "abi.h"

#ifndef NSP
#define NSP 2 /* bf16 parts of P and V (PV product): 2 -> 3 products */
#endif
#define NSQ 3 /* bf16 parts of Q and K (scores feed exp2: need ~fp32) -> 6 products */
#ifndef ABQ
#define ABQ 64
#endif
#ifndef KC
#define KC 64
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#define FBQ 24
#define FBK 256
#if (ABQ % 32) != 0 || (KC % 32) != 0
#error "ABQ and KC must be multiples of 32"
#endif
#if NSP < 2 || NSP > 3
#error "NSP must be 2 or 3"
#endif

#define MR 6
#define KB 64


typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int T, tid, rc;
} job_t;

/* 2^x for finite x <= 0 (scalef flushes very negative exponents to 0); Taylor degree 6 */
static inline __m512 exp2_ps(__m512 x)
{
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-04f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 6 rows x 64 keys: p[r][0..64) = sum_d qb[r][d] * kp[d][0..64) */
static inline void qk_micro(const float *restrict qb, int D, const float *restrict kp, float *restrict p,
                            long sp)
{
#define QKDECL(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0;
    QKDECL(0) QKDECL(1) QKDECL(2) QKDECL(3) QKDECL(4) QKDECL(5)
    const float *q0 = qb, *q1 = qb + D, *q2 = qb + 2 * D, *q3 = qb + 3 * D, *q4 = qb + 4 * D, *q5 = qb + 5 * D;
    for (int d = 0; d < D; d++) {
        const float *k = kp + (long)d * KB;
        __m512 k0 = _mm512_load_ps(k), k1 = _mm512_load_ps(k + 16), k2 = _mm512_load_ps(k + 32),
               k3 = _mm512_load_ps(k + 48);
#define QKROW(r)                                                                                               \
    {                                                                                                          \
        __m512 b = _mm512_set1_ps(q##r[d]);                                                                    \
        a##r##0 = _mm512_fmadd_ps(b, k0, a##r##0);                                                             \
        a##r##1 = _mm512_fmadd_ps(b, k1, a##r##1);                                                             \
        a##r##2 = _mm512_fmadd_ps(b, k2, a##r##2);                                                             \
        a##r##3 = _mm512_fmadd_ps(b, k3, a##r##3);                                                             \
    }
        QKROW(0) QKROW(1) QKROW(2) QKROW(3) QKROW(4) QKROW(5)
    }
#define QKST(r)                                                                                                \
    _mm512_storeu_ps(p + r * sp, a##r##0);                                                                     \
    _mm512_storeu_ps(p + r * sp + 16, a##r##1);                                                                \
    _mm512_storeu_ps(p + r * sp + 32, a##r##2);                                                                \
    _mm512_storeu_ps(p + r * sp + 48, a##r##3);
    QKST(0) QKST(1) QKST(2) QKST(3) QKST(4) QKST(5)
}

/* 6 rows x 64 cols: ob[r][0..64) += sum_{j in [j0,j1)} p[r][j] * v[j][0..64) */
static inline void pv_micro(const float *restrict p, long sp, const float *restrict v, int D, int j0, int j1,
                            float *restrict ob, long so, __mmask16 m0, __mmask16 m1, __mmask16 m2,
                            __mmask16 m3)
{
#define PVDECL(r)                                                                                              \
    __m512 c##r##0 = _mm512_load_ps(ob + r * so), c##r##1 = _mm512_load_ps(ob + r * so + 16),                  \
           c##r##2 = _mm512_load_ps(ob + r * so + 32), c##r##3 = _mm512_load_ps(ob + r * so + 48);
    PVDECL(0) PVDECL(1) PVDECL(2) PVDECL(3) PVDECL(4) PVDECL(5)
    const float *p0 = p, *p1 = p + sp, *p2 = p + 2 * sp, *p3 = p + 3 * sp, *p4 = p + 4 * sp, *p5 = p + 5 * sp;
    for (int j = j0; j < j1; j++) {
        const float *vr = v + (long)j * D;
        __m512 v0 = _mm512_maskz_loadu_ps(m0, vr), v1 = _mm512_maskz_loadu_ps(m1, vr + 16),
               v2 = _mm512_maskz_loadu_ps(m2, vr + 32), v3 = _mm512_maskz_loadu_ps(m3, vr + 48);
#define PVROW(r)                                                                                               \
    {                                                                                                          \
        __m512 b = _mm512_set1_ps(p##r[j]);                                                                    \
        c##r##0 = _mm512_fmadd_ps(b, v0, c##r##0);                                                             \
        c##r##1 = _mm512_fmadd_ps(b, v1, c##r##1);                                                             \
        c##r##2 = _mm512_fmadd_ps(b, v2, c##r##2);                                                             \
        c##r##3 = _mm512_fmadd_ps(b, v3, c##r##3);                                                             \
    }
        PVROW(0) PVROW(1) PVROW(2) PVROW(3) PVROW(4) PVROW(5)
    }
#define PVST(r)                                                                                                \
    _mm512_store_ps(ob + r * so, c##r##0);                                                                     \
    _mm512_store_ps(ob + r * so + 16, c##r##1);                                                                \
    _mm512_store_ps(ob + r * so + 32, c##r##2);                                                                \
    _mm512_store_ps(ob + r * so + 48, c##r##3);
    PVST(0) PVST(1) PVST(2) PVST(3) PVST(4) PVST(5)
}

static inline __mmask16 chunk_mask(int rem, int v)
{
    int n = rem - v * 16;
    if (n >= 16) return (__mmask16)0xFFFF;
    if (n <= 0) return 0;
    return (__mmask16)((1u << n) - 1u);
}

static void pack_k(const float *k, int S, int D, float *kp)
{
    int nkb = (S + KB - 1) / KB;
    for (int kb = 0; kb < nkb; kb++) {
        float *dst = kp + (long)kb * D * KB;
        int jn = S - kb * KB;
        if (jn > KB) jn = KB;
        if (jn < KB) memset(dst, 0, sizeof(float) * (size_t)D * KB);
        for (int jj = 0; jj < jn; jj++) {
            const float *src = k + (long)(kb * KB + jj) * D;
            for (int d = 0; d < D; d++) dst[(long)d * KB + jj] = src[d];
        }
    }
}

typedef struct {
    float *Kp, *P, *Qb, *Ob, *linv;
    long sp, so;
} bufs_t;

static void do_block(const job_t *jb, bufs_t *bf, long bh, int i0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float *q = jb->Q + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long sp = bf->sp, so = bf->so;
    float *P = bf->P, *Qb = bf->Qb, *Ob = bf->Ob, *linv = bf->linv;
    const float *Kp = bf->Kp;
    int nr = S - i0;
    if (nr > FBQ) nr = FBQ;
    int nmicro = (nr + MR - 1) / MR;
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    for (int r = 0; r < nmicro * MR; r++) {
        float *dst = Qb + (long)r * D;
        if (r < nr) {
            const float *src = q + (long)(i0 + r) * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] * qs;
        } else
            memset(dst, 0, sizeof(float) * (size_t)D);
    }
    int klim = causal ? (i0 + nr) : S;
    int mlim[FBQ / MR];
    for (int m = 0; m < nmicro; m++) {
        int e = i0 + m * MR + MR;
        if (e > i0 + nr) e = i0 + nr;
        mlim[m] = causal ? e : S;
    }
    /* pass 1: scores */
    for (int kt = 0; kt < klim; kt += FBK) {
        int kte = kt + FBK < klim ? kt + FBK : klim;
        for (int m = 0; m < nmicro; m++) {
            int je = kte < mlim[m] ? kte : mlim[m];
            for (int j0 = kt; j0 < je; j0 += KB)
                qk_micro(Qb + (long)m * MR * D, D, Kp + (long)(j0 / KB) * D * KB, P + (long)m * MR * sp + j0, sp);
        }
    }
    /* pass 2: softmax (unnormalized; 1/l kept) */
    for (int r = 0; r < nr; r++) {
        int n = causal ? i0 + r + 1 : S;
        int lim = mlim[r / MR];
        float *row = P + (long)r * sp;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
        }
        __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sm = _mm512_setzero_ps();
        j = 0;
        for (; j + 16 <= n; j += 16) {
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), mv));
            sm = _mm512_add_ps(sm, e);
            _mm512_storeu_ps(row + j, e);
        }
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + j), mv));
            e = _mm512_maskz_mov_ps(mk, e);
            sm = _mm512_add_ps(sm, e);
            _mm512_storeu_ps(row + j, e); /* zeros j >= n within this vector */
            j += 16;
        }
        for (; j < lim; j++) row[j] = 0.0f;
        linv[r] = 1.0f / _mm512_reduce_add_ps(sm);
    }
    /* pass 3: O = P V */
    int nch = (D + 63) / 64;
    memset(Ob, 0, sizeof(float) * (size_t)nmicro * MR * so);
    for (int kt = 0; kt < klim; kt += FBK) {
        int kte = kt + FBK < klim ? kt + FBK : klim;
        for (int m = 0; m < nmicro; m++) {
            int je = kte < mlim[m] ? kte : mlim[m];
            if (je <= kt) continue;
            for (int c = 0; c < nch; c++) {
                int rem = D - c * 64;
                pv_micro(P + (long)m * MR * sp, sp, v + c * 64, D, kt, je, Ob + (long)m * MR * so + c * 64, so,
                         chunk_mask(rem, 0), chunk_mask(rem, 1), chunk_mask(rem, 2), chunk_mask(rem, 3));
            }
        }
    }
    for (int r = 0; r < nr; r++) {
        float *dst = o + (long)(i0 + r) * D;
        const float *src = Ob + (long)r * so;
        __m512 li = _mm512_set1_ps(linv[r]);
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(dst + d, _mm512_mul_ps(_mm512_load_ps(src + d), li));
        if (d < D) {
            __mmask16 mk = (__mmask16)((1u << (D - d)) - 1u);
            _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_load_ps(src + d), li));
        }
    }
}

static void *fworker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, T = jb->T, tid = jb->tid;
    long nbh = (long)jb->B * jb->H;
    int nkb = (S + KB - 1) / KB;
    long spad = (long)nkb * KB + FBK;
    bufs_t bf;
    bf.sp = spad + 16;
    bf.so = (long)((D + 63) / 64) * 64;
    void *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    int ok = posix_memalign(&a, 64, sizeof(float) * (size_t)nkb * KB * D + 64) == 0;
    ok &= posix_memalign(&b, 64, sizeof(float) * (size_t)FBQ * bf.sp + 64) == 0;
    ok &= posix_memalign(&c, 64, sizeof(float) * (size_t)FBQ * D + 64) == 0;
    ok &= posix_memalign(&d, 64, sizeof(float) * (size_t)FBQ * bf.so + 64) == 0;
    float linv[FBQ];
    if (!ok) {
        free(a), free(b), free(c), free(d);
        jb->rc = 3;
        return NULL;
    }
    bf.Kp = a, bf.P = b, bf.Qb = c, bf.Ob = d, bf.linv = linv;
    int nqb = (S + FBQ - 1) / FBQ;
    if (nbh % T == 0) {
        long per = nbh / T;
        for (long bh = tid * per; bh < (tid + 1) * per; bh++) {
            pack_k(jb->K + bh * (long)S * D, S, D, bf.Kp);
            for (int qb = 0; qb < nqb; qb++) do_block(jb, &bf, bh, qb * FBQ);
        }
    } else {
        for (long bh = 0; bh < nbh; bh++) {
            int any = 0;
            for (int qb = 0; qb < nqb; qb++) {
                if ((qb + bh) % T != tid) continue;
                if (!any) pack_k(jb->K + bh * (long)S * D, S, D, bf.Kp), any = 1;
                do_block(jb, &bf, bh, qb * FBQ);
            }
        }
    }
    free(a), free(b), free(c), free(d);
    jb->rc = 0;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* AMX path: bf16 tiles with an n-way fp32 split (error-compensated products), fp32 accumulate */

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-bf16,avx512bf16,avx512bw,avx512vl,avx512f")

typedef struct {
    uint8_t palette_id, start_row;
    uint8_t rsv[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) tilecfg_t;

typedef uint16_t bf16_t;

static inline __m256i cvt_bf16(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }
static inline __m512 bf16_f32(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* x = p0 + p1 (+ p2 when ns == 3) with each part bf16 */
static inline __attribute__((always_inline)) void split_parts(__m512 x, __m256i *p0, __m256i *p1, __m256i *p2,
                                                              const int ns)
{
    __m256i h = cvt_bf16(x);
    __m512 r = _mm512_sub_ps(x, bf16_f32(h));
    __m256i l = cvt_bf16(r);
    *p0 = h;
    *p1 = l;
    if (ns >= 3) *p2 = cvt_bf16(_mm512_sub_ps(r, bf16_f32(l)));
}

/* C[32][32] (fp32, ldc floats) (+)= sum_{i+j<ns} A_i[32][32*nks] B_j[32*nks][32] */
static inline __attribute__((always_inline)) void amx_2x2(float *c, long ldc, int acc, const bf16_t *a, long lda,
                                                          long astride, const bf16_t *b, long bnb, long bstride,
                                                          int nks, const int ns)
{
    __asm__ volatile("" ::: "memory"); /* tile loads read memory the compiler cannot see */
    if (acc) {
        _tile_loadd(0, c, ldc * 4);
        _tile_loadd(1, c + 16, ldc * 4);
        _tile_loadd(2, c + 16 * ldc, ldc * 4);
        _tile_loadd(3, c + 16 * ldc + 16, ldc * 4);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (int ks = 0; ks < nks; ks++) {
        for (int i = 0; i < ns; i++) {
            const bf16_t *ai = a + i * astride + ks * 32;
            _tile_loadd(4, ai, lda * 2);
            _tile_loadd(5, ai + 16 * lda, lda * 2);
            for (int j = 0; j < ns - i; j++) {
                const bf16_t *bj = b + j * bstride + (long)ks * 512;
                _tile_loadd(6, bj, 64);
                _tile_loadd(7, bj + bnb, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
        }
    }
    _tile_stored(0, c, ldc * 4);
    _tile_stored(1, c + 16, ldc * 4);
    _tile_stored(2, c + 16 * ldc, ldc * 4);
    _tile_stored(3, c + 16 * ldc + 16, ldc * 4);
}

typedef struct {
    int Sp, Dp, nksd;
    long kps, vps, bnbK, bnbV; /* part strides and next-n-block offsets (bf16 elements) */
    long spf, spb;             /* row strides: fp32 scores, bf16 probabilities */
    bf16_t *Kp, *Vp, *Qa, *Pa, *tmp;
    float *Pf, *Of, *linv;
} abufs_t;

static inline __mmask16 tail_mask(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u); }

/* K -> parts, B-tile layout [nb=Sp/16][ks=Dp/32][16 pairs][16 keys][2] */
static void amx_pack_k(const float *k, int S, int D, abufs_t *ab)
{
    const int Sp = ab->Sp, Dp = ab->Dp, nksd = ab->nksd;
    bf16_t *t0 = ab->tmp, *t1 = ab->tmp + Dp, *t2 = ab->tmp + 2 * Dp;
    for (int j = 0; j < Sp; j++) {
        for (int d = 0; d < Dp; d += 16) {
            __m512 x = _mm512_setzero_ps();
            if (j < S) x = _mm512_maskz_loadu_ps(tail_mask(D - d), k + (long)j * D + d);
            __m256i p0, p1, p2;
            split_parts(x, &p0, &p1, &p2, NSQ);
            _mm256_storeu_si256((__m256i *)(t0 + d), p0);
            _mm256_storeu_si256((__m256i *)(t1 + d), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(t2 + d), p2);
        }
        int nb = j >> 4, cc = j & 15;
        for (int i = 0; i < NSQ; i++) {
            const uint32_t *src = (const uint32_t *)(ab->tmp + i * Dp);
            uint32_t *dst = (uint32_t *)(ab->Kp + i * ab->kps) + (long)nb * nksd * 256 + cc;
            for (int pr = 0; pr < Dp / 2; pr++) dst[(long)pr * 16] = src[pr];
        }
    }
}

/* V -> parts, B-tile layout [nb=Dp/16][ks=Sp/32][16 key pairs][16 cols][2] */
static void amx_pack_v(const float *v, int S, int D, abufs_t *ab)
{
    const int Sp = ab->Sp, Dp = ab->Dp;
    const int nksv = Sp / 32;
    for (int k0 = 0; k0 < Sp; k0 += 2) {
        int ks = k0 >> 5, r = (k0 & 31) >> 1;
        for (int nb = 0; nb < Dp / 16; nb++) {
            int d = nb * 16;
            __mmask16 mk = tail_mask(D - d);
            __m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
            if (k0 < S) x0 = _mm512_maskz_loadu_ps(mk, v + (long)k0 * D + d);
            if (k0 + 1 < S) x1 = _mm512_maskz_loadu_ps(mk, v + (long)(k0 + 1) * D + d);
            __m256i a0, a1, a2, b0, b1, b2;
            split_parts(x0, &a0, &a1, &a2, NSP);
            split_parts(x1, &b0, &b1, &b2, NSP);
            long off = (((long)nb * nksv + ks) * 16 + r) * 32;
#define VIL(a, b) _mm512_or_si512(_mm512_cvtepu16_epi32(a), _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16))
            _mm512_store_si512((void *)(ab->Vp + off), VIL(a0, b0));
            _mm512_store_si512((void *)(ab->Vp + ab->vps + off), VIL(a1, b1));
            if (NSP >= 3) _mm512_store_si512((void *)(ab->Vp + 2 * ab->vps + off), VIL(a2, b2));
        }
    }
}

static void amx_block(const job_t *jb, abufs_t *ab, long bh, int i0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = ab->Dp;
    const float *q = jb->Q + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    const long spf = ab->spf, spb = ab->spb;
    const long qstride = (long)ABQ * Dp, pstride = (long)ABQ * spb;
    int nr = S - i0;
    if (nr > ABQ) nr = ABQ;
    int nm = (nr + 31) / 32;
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    const __m512 vqs = _mm512_set1_ps(qs);
    /* Q block -> scaled bf16 parts, rows [ABQ][Dp] */
    for (int r = 0; r < nm * 32; r++) {
        for (int d = 0; d < Dp; d += 16) {
            __m512 x = _mm512_setzero_ps();
            if (r < nr) x = _mm512_mul_ps(vqs, _mm512_maskz_loadu_ps(tail_mask(D - d), q + (long)(i0 + r) * D + d));
            __m256i p0, p1, p2;
            split_parts(x, &p0, &p1, &p2, NSQ);
            bf16_t *dst = ab->Qa + (long)r * Dp + d;
            _mm256_storeu_si256((__m256i *)dst, p0);
            _mm256_storeu_si256((__m256i *)(dst + qstride), p1);
            if (NSQ >= 3) _mm256_storeu_si256((__m256i *)(dst + 2 * qstride), p2);
        }
    }
    int klim[ABQ / 32] = {0};
    for (int g = 0; g < nm; g++) {
        int e = S;
        if (causal) {
            e = i0 + g * 32 + 32;
            if (e > i0 + nr) e = i0 + nr;
        }
        klim[g] = (e + 31) & ~31;
    }
    int kmax = klim[nm - 1];
    /* pass 1: scores (log2 domain) */
    for (int n0 = 0; n0 < kmax; n0 += 32)
        for (int g = 0; g < nm; g++) {
            if (n0 >= klim[g]) continue;
            amx_2x2(ab->Pf + (long)g * 32 * spf + n0, spf, 0, ab->Qa + (long)g * 32 * Dp, Dp, qstride,
                    ab->Kp + (long)(n0 / 16) * ab->bnbK, ab->bnbK, ab->kps, ab->nksd, NSQ);
        }
    /* pass 2: softmax -> bf16 parts (unnormalized), 1/l kept */
    for (int r = 0; r < nr; r++) {
        int n = causal ? i0 + r + 1 : S;
        int lim = klim[r / 32];
        const float *row = ab->Pf + (long)r * spf;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) mx = _mm512_max_ps(mx, _mm512_loadu_ps(row + j));
        if (j < n) {
            __mmask16 mk = tail_mask(n - j);
            mx = _mm512_mask_max_ps(mx, mk, mx, _mm512_maskz_loadu_ps(mk, row + j));
        }
        __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sm = _mm512_setzero_ps();
        bf16_t *d0 = ab->Pa + (long)r * spb;
        for (j = 0; j < lim; j += 16) {
            __m512 e;
            if (j + 16 <= n) {
                e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(row + j), mv));
            } else if (j < n) {
                __mmask16 mk = tail_mask(n - j);
                e = _mm512_maskz_mov_ps(mk, exp2_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, row + j), mv)));
            } else {
                e = _mm512_setzero_ps();
            }
            sm = _mm512_add_ps(sm, e);
            __m256i p0, p1, p2;
            split_parts(e, &p0, &p1, &p2, NSP);
            _mm256_storeu_si256((__m256i *)(d0 + j), p0);
            _mm256_storeu_si256((__m256i *)(d0 + pstride + j), p1);
            if (NSP >= 3) _mm256_storeu_si256((__m256i *)(d0 + 2 * pstride + j), p2);
        }
        ab->linv[r] = 1.0f / _mm512_reduce_add_ps(sm);
    }
    /* pass 3: O = P V, key chunks of KC */
    for (int kc = 0; kc < kmax; kc += KC)
        for (int g = 0; g < nm; g++) {
            int ke = kc + KC < klim[g] ? kc + KC : klim[g];
            if (ke <= kc) continue;
            for (int n0 = 0; n0 < Dp; n0 += 32)
                amx_2x2(ab->Of + (long)g * 32 * Dp + n0, Dp, kc > 0, ab->Pa + (long)g * 32 * spb + kc, spb,
                        pstride, ab->Vp + (long)(n0 / 16) * ab->bnbV + (long)(kc / 32) * 512, ab->bnbV, ab->vps,
                        (ke - kc) / 32, NSP);
        }
    for (int r = 0; r < nr; r++) {
        float *dst = o + (long)(i0 + r) * D;
        const float *src = ab->Of + (long)r * Dp;
        __m512 li = _mm512_set1_ps(ab->linv[r]);
        for (int d = 0; d < D; d += 16)
            _mm512_mask_storeu_ps(dst + d, tail_mask(D - d), _mm512_mul_ps(_mm512_load_ps(src + d), li));
    }
}

static void *aworker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, T = jb->T, tid = jb->tid;
    long nbh = (long)jb->B * jb->H;
    abufs_t ab;
    ab.Sp = (S + 31) & ~31;
    ab.Dp = (D + 31) & ~31;
    ab.nksd = ab.Dp / 32;
    ab.kps = (long)ab.Sp * ab.Dp;
    ab.vps = (long)ab.Sp * ab.Dp;
    ab.bnbK = (long)ab.nksd * 512;
    ab.bnbV = (long)(ab.Sp / 32) * 512;
    ab.spf = ab.Sp + 16;
    ab.spb = ab.Sp + 32;
    size_t nK = (size_t)NSQ * ab.kps, nV = (size_t)NSP * ab.vps, nQ = (size_t)NSQ * ABQ * ab.Dp,
           nPa = (size_t)NSP * ABQ * ab.spb, nT = (size_t)3 * ab.Dp;
    size_t nPf = (size_t)ABQ * ab.spf, nOf = (size_t)ABQ * ab.Dp;
    size_t bytes = 2 * (nK + nV + nQ + nPa + nT) + 4 * (nPf + nOf + ABQ) + 8 * 64;
    void *mem = NULL;
    if (posix_memalign(&mem, 64, bytes) != 0) {
        jb->rc = 3;
        return NULL;
    }
    char *p = (char *)mem;
#define TAKE(ptr, type, n)                                                                                     \
    ptr = (type *)p;                                                                                           \
    p += ((sizeof(type) * (n) + 63) & ~(size_t)63);
    TAKE(ab.Kp, bf16_t, nK)
    TAKE(ab.Vp, bf16_t, nV)
    TAKE(ab.Qa, bf16_t, nQ)
    TAKE(ab.Pa, bf16_t, nPa)
    TAKE(ab.tmp, bf16_t, nT)
    TAKE(ab.Pf, float, nPf)
    TAKE(ab.Of, float, nOf)
    TAKE(ab.linv, float, ABQ)
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
    int nqb = (S + ABQ - 1) / ABQ;
    if (nbh % T == 0) {
        long per = nbh / T;
        for (long bh = tid * per; bh < (tid + 1) * per; bh++) {
            amx_pack_k(jb->K + bh * (long)S * D, S, D, &ab);
            amx_pack_v(jb->V + bh * (long)S * D, S, D, &ab);
            for (int qb = 0; qb < nqb; qb++) amx_block(jb, &ab, bh, qb * ABQ);
        }
    } else {
        for (long bh = 0; bh < nbh; bh++) {
            int any = 0;
            for (int qb = 0; qb < nqb; qb++) {
                if ((qb + bh) % T != tid) continue;
                if (!any) {
                    amx_pack_k(jb->K + bh * (long)S * D, S, D, &ab);
                    amx_pack_v(jb->V + bh * (long)S * D, S, D, &ab);
                    any = 1;
                }
                amx_block(jb, &ab, bh, qb * ABQ);
            }
        }
    }
    _tile_release();
    free(mem);
    jb->rc = 0;
    return NULL;
}

#pragma GCC pop_options

static int amx_ready(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 24)) || !(d & (1u << 22))) return 0; /* AMX-TILE, AMX-BF16 */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    if (!(a & (1u << 5))) return 0; /* AVX512_BF16 */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0) return 0;
    return 1;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int use_amx = amx_ready();
    int T = NTHREADS;
    if (T <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        T = n > 0 ? (int)n : 1;
    }
    if (T > 64) T = 64;
    long nqb = (long)B * H * ((S + (use_amx ? ABQ : FBQ) - 1) / (use_amx ? ABQ : FBQ));
    if (T > nqb) T = (int)nqb;
    if (T < 1) T = 1;
    void *(*fn)(void *) = use_amx ? aworker : fworker;
    job_t jobs[64];
    pthread_t th[64];
    int started[64] = {0};
    for (int t = 0; t < T; t++) jobs[t] = (job_t){B, H, S, D, causal, Q, K, V, O, T, t, 0};
    for (int t = 1; t < T; t++) started[t] = pthread_create(&th[t], NULL, fn, &jobs[t]) == 0;
    fn(&jobs[0]);
    int rc = jobs[0].rc;
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            fn(&jobs[t]);
        if (jobs[t].rc) rc = jobs[t].rc;
    }
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16-split", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
