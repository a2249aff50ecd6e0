/*
 * step2: blocked attention, AVX-512, 2 threads. K packed chunk-major
 * KT[bh][S/64][D][64] (no 4 KiB-stride aliasing), score buffer stride padded;
 * FLASH=1: online softmax per 64-key chunk (everything L1-resident).
 * step3: EXPDEG (near-minimax 2^f polynomial degree, 7 = Taylor), no clamp;
 * KCV = keys per PV microkernel call.
 *  - K pre-transposed per (b,h) into KT[D][Sp] (Sp = S rounded to 64), in parallel.
 *  - work item = (b,h, query block of BQ = RT*MT rows), dynamic scheduling, heavy
 *    (causal late) blocks first.
 *  - per block: scores for all rows (RT x 64 register tiles, KT chunk reused
 *    across micro-tiles from L1), exact row softmax with a vector exp2,
 *    then O = P V with RT x 64 register tiles accumulated per 64-key chunk.
 *  - causal: key chunks past the micro-tile's last row skipped.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef RT
#define RT 6
#endif
#ifndef MT
#define MT 4
#endif
#ifndef FLASH
#define FLASH 0
#endif
#define KC 64
#ifndef KCV
#define KCV 64
#endif
#ifndef EXPDEG
#define EXPDEG 5
#endif
#define BQ (RT * MT)

typedef struct {
    int B, H, S, D, causal, Sp, Dp, nqb;
    long BH, nitems, ntitems;
    const float *Q, *K, *V;
    float *O, *KT;
    float scale;
    long next_t, done_t, next_w;
} ctx_t;

static inline long rup(long x, long a) { return (x + a - 1) / a * a; }

static inline __m512 exp2v(__m512 x)
{
    /* x finite (<= 0 for kept lanes); scalef flushes very negative n to 0 */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
#if EXPDEG == 4
    __m512 p = _mm512_set1_ps(9.5700862054e-03f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5917859102e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4024745216e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9312181496e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.9999926133e-01f));
#elif EXPDEG == 5
    __m512 p = _mm512_set1_ps(1.3276456488e-03f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6755412112e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5507133215e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022119727e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314696704e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0000000717e+00f));
#else
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381609e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
#endif
    return _mm512_scalef_ps(p, n);
}

/* C[RT][64] = A[RT][kd] * B[kd][64]  (B rows full width) */
static inline void mk_qk(int kd, const float *A, long lda, const float *B, long ldb, float *C, long ldc)
{
    __m512 acc[RT][4];
#pragma GCC unroll 8
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) acc[r][v] = _mm512_setzero_ps();
    for (int k = 0; k < kd; k++) {
        const float *b = B + (long)k * ldb;
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32),
               b3 = _mm512_loadu_ps(b + 48);
#pragma GCC unroll 8
        for (int r = 0; r < RT; r++) {
            __m512 a = _mm512_set1_ps(A[(long)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(C + (long)r * ldc + 16 * v, acc[r][v]);
}

/* C[RT][64] += A[RT][kd] * B[kd][64 masked] */
static inline void mk_pv(int kd, const float *A, long lda, const float *B, long ldb, float *C, long ldc,
                         __mmask16 m0, __mmask16 m1, __mmask16 m2, __mmask16 m3, const float *alpha)
{
    __m512 acc[RT][4];
    if (alpha) {
#pragma GCC unroll 8
        for (int r = 0; r < RT; r++) {
            __m512 al = _mm512_set1_ps(alpha[r]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_mul_ps(al, _mm512_loadu_ps(C + (long)r * ldc + 16 * v));
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < RT; r++)
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++) acc[r][v] = _mm512_loadu_ps(C + (long)r * ldc + 16 * v);
    }
    for (int k = 0; k < kd; k++) {
        const float *b = B + (long)k * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, b), b1 = _mm512_maskz_loadu_ps(m1, b + 16),
               b2 = _mm512_maskz_loadu_ps(m2, b + 32), b3 = _mm512_maskz_loadu_ps(m3, b + 48);
#pragma GCC unroll 8
        for (int r = 0; r < RT; r++) {
            __m512 a = _mm512_set1_ps(A[(long)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(a, b3, acc[r][3]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) _mm512_storeu_ps(C + (long)r * ldc + 16 * v, acc[r][v]);
}

static inline __mmask16 lanes(int n)
{
    if (n <= 0) return 0;
    if (n >= 16) return 0xFFFF;
    return (__mmask16)((1u << n) - 1u);
}

static void transpose_item(ctx_t *c, long it)
{
    int njb = c->Sp / 64;
    long bh = it / njb;
    int cb = (int)(it % njb), j0 = cb * 64;
    int S = c->S, D = c->D, Sp = c->Sp;
    const float *k = c->K + bh * (long)S * D;
    float *kt = c->KT + bh * (long)D * Sp + (long)cb * D * 64;
    int n = S - j0 < 64 ? S - j0 : 64;
    for (int jj = 0; jj < n; jj++) {
        const float *src = k + (long)(j0 + jj) * D;
        for (int d = 0; d < D; d++) kt[d * 64 + jj] = src[d];
    }
    for (int d = 0; d < D; d++)
        for (int jj = n; jj < 64; jj++) kt[d * 64 + jj] = 0.0f;
}

static void do_block(ctx_t *c, long bh, int qb, float *Qb, float *Sb, float *Ob, float *linv)
{
    const int S = c->S, D = c->D, Sp = c->Sp, Dp = c->Dp, causal = c->causal;
    const float *q = c->Q + bh * (long)S * D, *v = c->V + bh * (long)S * D;
    const float *kt = c->KT + bh * (long)D * Sp;
    float *o = c->O + bh * (long)S * D;
    const int i0 = qb * BQ;
    const int nrows = S - i0 < BQ ? S - i0 : BQ;
    const int ntiles = (nrows + RT - 1) / RT;
    const int prow = ntiles * RT;
    const float scale = c->scale;

    for (int r = 0; r < prow; r++) {
        float *dst = Qb + (long)r * D;
        if (r < nrows) {
            const float *src = q + (long)(i0 + r) * D;
            for (int d = 0; d < D; d++) dst[d] = src[d] * scale;
        } else {
            for (int d = 0; d < D; d++) dst[d] = 0.0f;
        }
    }
    int kend[MT] = {0};
    for (int t = 0; t < ntiles; t++) {
        int last = i0 + t * RT + RT; /* one past the tile's last row */
        kend[t] = causal ? (last < S ? last : S) : S;
    }
    const int kmax = kend[ntiles - 1];
    memset(Ob, 0, sizeof(float) * (size_t)prow * (size_t)Dp);

#if FLASH
    float mrow[BQ], lrow[BQ];
    for (int r = 0; r < prow; r++) {
        mrow[r] = -INFINITY;
        lrow[r] = 0.0f;
    }
    for (int c0 = 0; c0 < kmax; c0 += KC) {
        const float *ktc = kt + (long)(c0 / 64) * D * 64;
        for (int t = 0; t < ntiles; t++) {
            if (c0 >= kend[t]) continue;
            int kc = kend[t] - c0 < KC ? kend[t] - c0 : KC;
            mk_qk(D, Qb + (long)t * RT * D, D, ktc, 64, Sb, 64);
            float alpha[RT];
            for (int rr = 0; rr < RT; rr++) {
                int r = t * RT + rr;
                int nv = (causal ? (i0 + r + 1 < S ? i0 + r + 1 : S) : S) - c0;
                if (nv > kc) nv = kc;
                float *p = Sb + rr * 64;
                if (nv <= 0) {
                    for (int vv = 0; vv < 4; vv++) _mm512_storeu_ps(p + 16 * vv, _mm512_setzero_ps());
                    alpha[rr] = 1.0f;
                    continue;
                }
                __mmask16 k0 = lanes(nv), k1 = lanes(nv - 16), k2 = lanes(nv - 32), k3 = lanes(nv - 48);
                const __m512 ninf = _mm512_set1_ps(-INFINITY);
                __m512 s0 = _mm512_mask_loadu_ps(ninf, k0, p), s1 = _mm512_mask_loadu_ps(ninf, k1, p + 16),
                       s2 = _mm512_mask_loadu_ps(ninf, k2, p + 32), s3 = _mm512_mask_loadu_ps(ninf, k3, p + 48);
                float mloc = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(s0, s1), _mm512_max_ps(s2, s3)));
                float mold = mrow[r], mnew = mold > mloc ? mold : mloc;
                float al = exp2f(mold - mnew);
                __m512 mm = _mm512_set1_ps(mnew);
                __m512 e0 = _mm512_maskz_mov_ps(k0, exp2v(_mm512_sub_ps(s0, mm)));
                __m512 e1 = _mm512_maskz_mov_ps(k1, exp2v(_mm512_sub_ps(s1, mm)));
                __m512 e2 = _mm512_maskz_mov_ps(k2, exp2v(_mm512_sub_ps(s2, mm)));
                __m512 e3 = _mm512_maskz_mov_ps(k3, exp2v(_mm512_sub_ps(s3, mm)));
                _mm512_storeu_ps(p, e0);
                _mm512_storeu_ps(p + 16, e1);
                _mm512_storeu_ps(p + 32, e2);
                _mm512_storeu_ps(p + 48, e3);
                float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(e0, e1), _mm512_add_ps(e2, e3)));
                lrow[r] = lrow[r] * al + sum;
                mrow[r] = mnew;
                alpha[rr] = al;
            }
            for (int col0 = 0; col0 < D; col0 += 64) {
                int rem = D - col0;
                mk_pv(kc, Sb, 64, v + (long)c0 * D + col0, D, Ob + (long)t * RT * Dp + col0, Dp, lanes(rem),
                      lanes(rem - 16), lanes(rem - 32), lanes(rem - 48), alpha);
            }
        }
    }
    for (int r = 0; r < prow; r++) linv[r] = 1.0f / lrow[r];
#else
    const long LDS = Sp + 16;
    /* scores */
    for (int c0 = 0; c0 < kmax; c0 += KC)
        for (int t = 0; t < ntiles; t++)
            if (c0 < kend[t])
                mk_qk(D, Qb + (long)t * RT * D, D, kt + (long)(c0 / 64) * D * 64, 64, Sb + (long)t * RT * LDS + c0,
                      LDS);

    /* softmax (base 2, scores already scaled by log2e/sqrt(D)) */
    for (int r = 0; r < prow; r++) {
        int t = r / RT;
        int n = causal ? (i0 + r + 1 < S ? i0 + r + 1 : S) : S;
        int ke = kend[t];
        if (n > ke) n = ke;
        float *p = Sb + (long)r * LDS;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(p + j));
        if (j < n) vm = _mm512_max_ps(vm, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), lanes(n - j), p + j));
        float m = _mm512_reduce_max_ps(vm);
        __m512 mm = _mm512_set1_ps(m), vs = _mm512_setzero_ps();
        for (j = 0; j + 16 <= n; j += 16) {
            __m512 e = exp2v(_mm512_sub_ps(_mm512_loadu_ps(p + j), mm));
            _mm512_storeu_ps(p + j, e);
            vs = _mm512_add_ps(vs, e);
        }
        if (j < n) {
            __mmask16 mk = lanes(n - j);
            __m512 e = exp2v(_mm512_sub_ps(_mm512_mask_loadu_ps(mm, mk, p + j), mm));
            e = _mm512_maskz_mov_ps(mk, e);
            _mm512_storeu_ps(p + j, e); /* zero lanes past n (within Sp) */
            vs = _mm512_add_ps(vs, e);
            j += 16;
        }
        for (; j < ke; j++) p[j] = 0.0f;
        linv[r] = 1.0f / _mm512_reduce_add_ps(vs);
    }

    /* O = P V */
    for (int c0 = 0; c0 < kmax; c0 += KCV)
        for (int t = 0; t < ntiles; t++) {
            if (c0 >= kend[t]) continue;
            int kc = kend[t] - c0 < KCV ? kend[t] - c0 : KCV;
            for (int col0 = 0; col0 < D; col0 += 64) {
                int rem = D - col0;
                mk_pv(kc, Sb + (long)t * RT * LDS + c0, LDS, v + (long)c0 * D + col0, D,
                      Ob + (long)t * RT * Dp + col0, Dp, lanes(rem), lanes(rem - 16), lanes(rem - 32),
                      lanes(rem - 48), NULL);
            }
        }
#endif

    for (int r = 0; r < nrows; r++) {
        float *dst = o + (long)(i0 + r) * D;
        const float *src = Ob + (long)r * Dp;
        __m512 li = _mm512_set1_ps(linv[r]);
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(dst + d, _mm512_mul_ps(_mm512_loadu_ps(src + d), li));
        if (d < D) _mm512_mask_storeu_ps(dst + d, lanes(D - d), _mm512_mul_ps(_mm512_loadu_ps(src + d), li));
    }
}

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    /* phase 1: transpose K */
    for (;;) {
        long it = __atomic_fetch_add(&c->next_t, 1, __ATOMIC_RELAXED);
        if (it >= c->ntitems) break;
        transpose_item(c, it);
        __atomic_fetch_add(&c->done_t, 1, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&c->done_t, __ATOMIC_ACQUIRE) < c->ntitems) _mm_pause();

    size_t qsz = rup((long)BQ * c->D * sizeof(float), 64);
    size_t ssz = rup((long)BQ * (c->Sp + 16) * sizeof(float), 64);
    size_t osz = rup((long)BQ * c->Dp * sizeof(float), 64);
    float *Qb = aligned_alloc(64, qsz), *Sb = aligned_alloc(64, ssz), *Ob = aligned_alloc(64, osz);
    float linv[BQ];
    if (!Qb || !Sb || !Ob) {
        free(Qb);
        free(Sb);
        free(Ob);
        return (void *)1;
    }
    for (;;) {
        long it = __atomic_fetch_add(&c->next_w, 1, __ATOMIC_RELAXED);
        if (it >= c->nitems) break;
        long bh = it % c->BH;
        int qb = c->nqb - 1 - (int)(it / c->BH);
        do_block(c, bh, qb, Qb, Sb, Ob, linv);
    }
    free(Qb);
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
    c.B = B;
    c.H = H;
    c.S = S;
    c.D = D;
    c.causal = causal ? 1 : 0;
    c.Sp = (int)rup(S, 64);
    c.Dp = (int)rup(D, 64);
    c.BH = (long)B * H;
    c.nqb = (S + BQ - 1) / BQ;
    c.nitems = c.BH * c.nqb;
    c.ntitems = c.BH * (c.Sp / 64);
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    c.scale = (float)(1.4426950408889634 / sqrt((double)D));
    c.KT = aligned_alloc(64, rup((long)c.BH * D * c.Sp * sizeof(float), 64));
    if (!c.KT) return 2;

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > c.nitems) nt = c.nitems;
    pthread_t th[64];
    int created = 0;
    for (long t = 1; t < nt; t++) {
        if (pthread_create(&th[created], NULL, worker, &c) != 0) break;
        created++;
    }
    void *r0 = worker(&c);
    int bad = r0 != NULL;
    for (int t = 0; t < created; t++) {
        void *r;
        pthread_join(th[t], &r);
        if (r) bad = 1;
    }
    free(c.KT);
    if (bad) return 3;
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step3-avx512-packed", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
