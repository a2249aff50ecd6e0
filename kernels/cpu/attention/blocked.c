/*
 * kernels/cpu/attention/blocked.c - rung 2: FlashAttention-style blocking on
 * the CPU. A work item is (batch*head, block of BQ query rows); threads take
 * items from a shared counter (so causal work balances). Per item, keys are
 * walked in blocks of BK: the block of K is transposed into a D x BK panel so
 * the scores S = (Q/sqrt(D)) K^T come out of a register-blocked SIMD product
 * (4 rows x 4 vectors of keys), the online softmax (running max and sum per
 * row) uses a vectorized polynomial exp, and O += P V is a second
 * register-blocked product (4 rows x 4 vectors of D). Causal blocks beyond
 * the diagonal are skipped. D is zero-padded to a multiple of 4 vectors.
 *
 * Design/tuning defines (defaults in brackets; sensible values):
 *   ISA      [512 if the compiler targets AVX-512, else 256]  vector width (512, 256)
 *   BQ       [64]   query rows per work item (multiple of 4)  (16, 32, 64, 128)
 *   BK       [128]  keys per block (multiple of 4*VL)          (64, 128, 256, 512)
 *   THREADS  [2]    pthreads                                   (1, 2, 4)
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared -DBQ=64 -DBK=128 -DTHREADS=2 \
 *       kernels/cpu/attention/blocked.c -o blocked.so -lpthread -lm
 *   build/spak-harness-cpu --family attention --candidate ./blocked.so --seed 1 \
 *       --shapes 1x8x1024x64,1x8x1024x64c --baseline naive-attention --baseline-so naive.so
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"

#ifndef ISA
#if defined(__AVX512F__)
#define ISA 512
#else
#define ISA 256
#endif
#endif

#if ISA == 512
typedef __m512 vf;
typedef __m512i vi;
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(x) _mm512_set1_ps(x)
#define VLOAD(p) _mm512_load_ps(p)
#define VSTORE(p, x) _mm512_store_ps(p, x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm512_mul_ps(a, b)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUB(a, b) _mm512_sub_ps(a, b)
#define VMAX(a, b) _mm512_max_ps(a, b)
#define VMIN(a, b) _mm512_min_ps(a, b)
#define VROUND(a) _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVT_I(a) _mm512_cvtps_epi32(a)
#define VI_ADD(a, b) _mm512_add_epi32(a, b)
#define VI_SET1(x) _mm512_set1_epi32(x)
#define VI_SLLI(a, n) _mm512_slli_epi32(a, n)
#define VCAST_F(a) _mm512_castsi512_ps(a)
#define VHMAX(a) _mm512_reduce_max_ps(a)
#define VHSUM(a) _mm512_reduce_add_ps(a)
#elif ISA == 256
typedef __m256 vf;
typedef __m256i vi;
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(x) _mm256_set1_ps(x)
#define VLOAD(p) _mm256_load_ps(p)
#define VSTORE(p, x) _mm256_store_ps(p, x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VMUL(a, b) _mm256_mul_ps(a, b)
#define VADD(a, b) _mm256_add_ps(a, b)
#define VSUB(a, b) _mm256_sub_ps(a, b)
#define VMAX(a, b) _mm256_max_ps(a, b)
#define VMIN(a, b) _mm256_min_ps(a, b)
#define VROUND(a) _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define VCVT_I(a) _mm256_cvtps_epi32(a)
#define VI_ADD(a, b) _mm256_add_epi32(a, b)
#define VI_SET1(x) _mm256_set1_epi32(x)
#define VI_SLLI(a, n) _mm256_slli_epi32(a, n)
#define VCAST_F(a) _mm256_castsi256_ps(a)
static inline float hmax256(__m256 a)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
static inline float hsum256(__m256 a)
{
    __m128 m = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    m = _mm_add_ps(m, _mm_movehl_ps(m, m));
    m = _mm_add_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}
#define VHMAX(a) hmax256(a)
#define VHSUM(a) hsum256(a)
#else
#error "ISA must be 512 or 256"
#endif

#ifndef BQ
#define BQ 64
#endif
#ifndef BK
#define BK 128
#endif
#ifndef THREADS
#define THREADS 2
#endif
#define RB 4        /* rows of a register block */
#define CV 4        /* vectors of a register block */
#define CW (CV * VL) /* columns of a register block */
#if BQ % RB || BK % CW || BQ < RB || THREADS < 1 || THREADS > 64
#error "BQ must be a multiple of 4, BK a multiple of 4*VL"
#endif

/* exp(x) for x <= 0 (scores minus their running max): Cephes-style range
 * reduction x = n ln2 + r, degree-6 polynomial, 2^n from the exponent bits.
 * Relative error ~2 ulp; inputs below -87 give 0. */
static inline vf vexp(vf x)
{
    x = VMAX(x, VSET1(-87.0f));
    vf n = VROUND(VMUL(x, VSET1(1.44269504088896341f)));
    vf r = VFMA(n, VSET1(-0.693359375f), x);
    r = VFMA(n, VSET1(2.12194440e-4f), r);
    vf p = VSET1(1.9875691500e-4f);
    p = VFMA(p, r, VSET1(1.3981999507e-3f));
    p = VFMA(p, r, VSET1(8.3334519073e-3f));
    p = VFMA(p, r, VSET1(4.1665795894e-2f));
    p = VFMA(p, r, VSET1(1.6666665459e-1f));
    p = VFMA(p, r, VSET1(5.0000001201e-1f));
    p = VFMA(p, VMUL(r, r), VADD(r, VSET1(1.0f)));
    vi e = VI_SLLI(VI_ADD(VCVT_I(n), VI_SET1(127)), 23);
    vf res = VMUL(p, VCAST_F(e));
    return VMAX(res, VZERO()); /* keeps -0 out */
}

typedef struct shared {
    int S, D, Dp, causal, nqb;
    long items;
    const float *Q, *K, *V;
    float *O;
    long next; /* work counter */
} shared;

typedef struct scratch {
    float *Qb, *Ob, *Kt, *Vb, *Sb, *m, *l;
} scratch;

static void do_item(shared *s, scratch *w, long item)
{
    const int S = s->S, D = s->D, Dp = s->Dp;
    long bh = item / s->nqb;
    int q0 = (int)(item % s->nqb) * BQ;
    int bq = S - q0 < BQ ? S - q0 : BQ;
    const float *Q = s->Q + bh * S * D, *K = s->K + bh * S * D, *V = s->V + bh * S * D;
    float scale = 1.0f / sqrtf((float)D);
    /* Q block, pre-scaled, zero-padded to BQ x Dp */
    for (int i = 0; i < BQ; i++)
        for (int d = 0; d < Dp; d++)
            w->Qb[i * Dp + d] = i < bq && d < D ? Q[(long)(q0 + i) * D + d] * scale : 0.0f;
    memset(w->Ob, 0, sizeof(float) * BQ * (size_t)Dp);
    for (int i = 0; i < BQ; i++) w->m[i] = -INFINITY, w->l[i] = 0.0f;
    int kend = s->causal ? q0 + bq : S;
    for (int k0 = 0; k0 < kend; k0 += BK) {
        int bk = kend - k0 < BK ? kend - k0 : BK;
        int bkp = (bk + CW - 1) / CW * CW;
        /* K block transposed to Dp x BK (zero padded), V block to BK x Dp */
        for (int d = 0; d < Dp; d++)
            for (int j = 0; j < bkp; j++) w->Kt[d * BK + j] = j < bk && d < D ? K[(long)(k0 + j) * D + d] : 0.0f;
        for (int j = 0; j < bkp; j++)
            for (int d = 0; d < Dp; d++) w->Vb[j * Dp + d] = j < bk && d < D ? V[(long)(k0 + j) * D + d] : 0.0f;
        /* scores: Sb[i][j] = Qb[i] . K[j] */
        for (int i0 = 0; i0 < bq; i0 += RB)
            for (int j0 = 0; j0 < bkp; j0 += CW) {
                vf acc[RB][CV];
                for (int r = 0; r < RB; r++)
                    for (int c = 0; c < CV; c++) acc[r][c] = VZERO();
                for (int d = 0; d < D; d++) {
                    vf kv[CV];
                    for (int c = 0; c < CV; c++) kv[c] = VLOAD(w->Kt + d * BK + j0 + c * VL);
                    for (int r = 0; r < RB; r++) {
                        vf qv = VSET1(w->Qb[(i0 + r) * Dp + d]);
                        for (int c = 0; c < CV; c++) acc[r][c] = VFMA(qv, kv[c], acc[r][c]);
                    }
                }
                for (int r = 0; r < RB; r++)
                    for (int c = 0; c < CV; c++) VSTORE(w->Sb + (i0 + r) * BK + j0 + c * VL, acc[r][c]);
            }
        /* mask: padding keys and (causal) keys after the query */
        for (int i = 0; i < bq; i++) {
            int lim = s->causal ? q0 + i - k0 + 1 : bk; /* keys j < lim are valid */
            if (lim > bk) lim = bk;
            for (int j = lim < 0 ? 0 : lim; j < bkp; j++) w->Sb[i * BK + j] = -INFINITY;
        }
        /* online softmax, row by row */
        for (int i = 0; i < bq; i++) {
            float *sr = w->Sb + i * BK;
            vf mx = VSET1(-INFINITY);
            for (int j = 0; j < bkp; j += VL) mx = VMAX(mx, VLOAD(sr + j));
            float mnew = VHMAX(mx);
            if (w->m[i] > mnew) mnew = w->m[i];
            if (mnew == -INFINITY) { /* no valid key yet: contributes nothing */
                memset(sr, 0, sizeof(float) * (size_t)bkp);
                continue;
            }
            float alpha = w->m[i] == -INFINITY ? 0.0f : expf(w->m[i] - mnew);
            vf mv = VSET1(mnew), sum = VZERO();
            for (int j = 0; j < bkp; j += VL) {
                vf p = vexp(VSUB(VLOAD(sr + j), mv));
                VSTORE(sr + j, p);
                sum = VADD(sum, p);
            }
            w->l[i] = w->l[i] * alpha + VHSUM(sum);
            w->m[i] = mnew;
            if (alpha != 1.0f) {
                vf av = VSET1(alpha);
                for (int d = 0; d < Dp; d += VL) VSTORE(w->Ob + i * Dp + d, VMUL(av, VLOAD(w->Ob + i * Dp + d)));
            }
        }
        /* O += P V */
        for (int i0 = 0; i0 < bq; i0 += RB)
            for (int d0 = 0; d0 < Dp; d0 += CW) {
                vf acc[RB][CV];
                for (int r = 0; r < RB; r++)
                    for (int c = 0; c < CV; c++) acc[r][c] = VLOAD(w->Ob + (i0 + r) * Dp + d0 + c * VL);
                for (int j = 0; j < bkp; j++) {
                    vf vv[CV];
                    for (int c = 0; c < CV; c++) vv[c] = VLOAD(w->Vb + j * Dp + d0 + c * VL);
                    for (int r = 0; r < RB; r++) {
                        vf pv = VSET1(w->Sb[(i0 + r) * BK + j]);
                        for (int c = 0; c < CV; c++) acc[r][c] = VFMA(pv, vv[c], acc[r][c]);
                    }
                }
                for (int r = 0; r < RB; r++)
                    for (int c = 0; c < CV; c++) VSTORE(w->Ob + (i0 + r) * Dp + d0 + c * VL, acc[r][c]);
            }
    }
    float *O = s->O + bh * S * D;
    for (int i = 0; i < bq; i++) {
        float inv = 1.0f / w->l[i];
        for (int d = 0; d < D; d++) O[(long)(q0 + i) * D + d] = w->Ob[i * Dp + d] * inv;
    }
}

static void *worker(void *p)
{
    void **a = p;
    shared *s = a[0];
    scratch *w = a[1];
    for (;;) {
        long item = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
        if (item >= s->items) break;
        do_item(s, w, item);
    }
    return NULL;
}

/* aligned_alloc wants a size that is a multiple of the alignment */
static void *amalloc(size_t n) { return aligned_alloc(64, (n + 63) / 64 * 64); }

static int scratch_alloc(scratch *w, int Dp)
{
    size_t f = sizeof(float);
    w->Qb = amalloc(BQ * (size_t)Dp * f);
    w->Ob = amalloc(BQ * (size_t)Dp * f);
    w->Kt = amalloc((size_t)Dp * BK * f);
    w->Vb = amalloc(BK * (size_t)Dp * f);
    w->Sb = amalloc(BQ * (size_t)BK * f);
    w->m = amalloc(2 * BQ * f + 64);
    w->l = w->m ? w->m + BQ : NULL;
    return w->Qb && w->Ob && w->Kt && w->Vb && w->Sb && w->m ? 0 : 2;
}

static void scratch_free(scratch *w)
{
    free(w->Qb), free(w->Ob), free(w->Kt), free(w->Vb), free(w->Sb), free(w->m);
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    shared s = {S, D, (D + CW - 1) / CW * CW, causal, (S + BQ - 1) / BQ, 0, Q, K, V, O, 0};
    s.items = (long)B * H * s.nqb;
    int nt = THREADS < s.items ? THREADS : (int)s.items;
    scratch w[64];
    void *args[64][2];
    pthread_t tid[64];
    int rc = 0, started[64] = {0};
    memset(w, 0, sizeof w);
    for (int t = 0; t < nt; t++) rc |= scratch_alloc(&w[t], s.Dp);
    if (rc == 0) {
        for (int t = 0; t < nt; t++) args[t][0] = &s, args[t][1] = &w[t];
        for (int t = 1; t < nt; t++) started[t] = pthread_create(&tid[t], NULL, worker, args[t]) == 0;
        worker(args[0]); /* the counter hands out all items even if a thread failed to start */
        for (int t = 1; t < nt; t++)
            if (started[t]) pthread_join(tid[t], NULL);
    }
    for (int t = 0; t < nt; t++) scratch_free(&w[t]);
    return rc;
}

#define STR_(x) #x
#define STR(x) STR_(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/blocked", "fp32",
                                      "ISA=" STR(ISA) " BQ=" STR(BQ) " BK=" STR(BK) " THREADS=" STR(THREADS)};
const spak_kernel_info *spak_info(void) { return &info; }
