/*
 * Packed, cache-blocked fp32 GEMM (BLIS-style loop nest) with an AVX-512
 * 12x32 register micro-kernel (24 zmm accumulators), rows split across
 * NTHREADS pthreads (each thread packs its own A and B blocks, no sync).
 * Tunables: NTHREADS, KC, MC, NC.
 */
#include "abi.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef NTHREADS
#define NTHREADS 2
#endif
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 192
#endif
#ifndef NC
#define NC 2048
#endif

#define MR 12
#define NR 32

#define MC_R (((MC) + MR - 1) / MR * MR)
#define NC_R (((NC) + NR - 1) / NR * NR)

static void __attribute__((noinline))
ukernel(int kc, const float *restrict a, const float *restrict b,
        float *restrict c, long ldc, int first)
{
    __m512 c0a = _mm512_setzero_ps(), c0b = _mm512_setzero_ps();
    __m512 c1a = _mm512_setzero_ps(), c1b = _mm512_setzero_ps();
    __m512 c2a = _mm512_setzero_ps(), c2b = _mm512_setzero_ps();
    __m512 c3a = _mm512_setzero_ps(), c3b = _mm512_setzero_ps();
    __m512 c4a = _mm512_setzero_ps(), c4b = _mm512_setzero_ps();
    __m512 c5a = _mm512_setzero_ps(), c5b = _mm512_setzero_ps();
    __m512 c6a = _mm512_setzero_ps(), c6b = _mm512_setzero_ps();
    __m512 c7a = _mm512_setzero_ps(), c7b = _mm512_setzero_ps();
    __m512 c8a = _mm512_setzero_ps(), c8b = _mm512_setzero_ps();
    __m512 c9a = _mm512_setzero_ps(), c9b = _mm512_setzero_ps();
    __m512 c10a = _mm512_setzero_ps(), c10b = _mm512_setzero_ps();
    __m512 c11a = _mm512_setzero_ps(), c11b = _mm512_setzero_ps();

#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(b);
        __m512 b1 = _mm512_loadu_ps(b + 16);
        __m512 t;
#define STEP(i)                                  \
        t = _mm512_set1_ps(a[i]);                \
        c##i##a = _mm512_fmadd_ps(t, b0, c##i##a); \
        c##i##b = _mm512_fmadd_ps(t, b1, c##i##b);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
        STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
#undef STEP
        a += MR;
        b += NR;
    }

#define OUT(i)                                                              \
    do {                                                                    \
        float *cr = c + (long)(i) * ldc;                                    \
        if (first) {                                                        \
            _mm512_storeu_ps(cr, c##i##a);                                  \
            _mm512_storeu_ps(cr + 16, c##i##b);                             \
        } else {                                                            \
            _mm512_storeu_ps(cr, _mm512_add_ps(_mm512_loadu_ps(cr), c##i##a)); \
            _mm512_storeu_ps(cr + 16, _mm512_add_ps(_mm512_loadu_ps(cr + 16), c##i##b)); \
        }                                                                   \
    } while (0)
    OUT(0); OUT(1); OUT(2); OUT(3); OUT(4); OUT(5);
    OUT(6); OUT(7); OUT(8); OUT(9); OUT(10); OUT(11);
#undef OUT
}

/* pack rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels, k-major */
static void pack_a(int mc, int kc, const float *A, long lda, float *restrict ap)
{
    for (int ir = 0; ir < mc; ir += MR) {
        int mr = mc - ir < MR ? mc - ir : MR;
        const float *ar = A + (long)ir * lda;
        if (mr == MR) {
            for (int k = 0; k < kc; k++) {
                for (int r = 0; r < MR; r++) ap[r] = ar[(long)r * lda + k];
                ap += MR;
            }
        } else {
            for (int k = 0; k < kc; k++) {
                int r = 0;
                for (; r < mr; r++) ap[r] = ar[(long)r * lda + k];
                for (; r < MR; r++) ap[r] = 0.0f;
                ap += MR;
            }
        }
    }
}

/* pack rows [p0, p0+kc) x cols [j0, j0+nc) of B into NR-col panels, k-major */
static void pack_b(int kc, int nc, const float *B, long ldb, float *restrict bp)
{
    for (int jr = 0; jr < nc; jr += NR) {
        int nr = nc - jr < NR ? nc - jr : NR;
        const float *br = B + jr;
        if (nr == NR) {
            for (int k = 0; k < kc; k++) {
                const float *s = br + (long)k * ldb;
                _mm512_storeu_ps(bp, _mm512_loadu_ps(s));
                _mm512_storeu_ps(bp + 16, _mm512_loadu_ps(s + 16));
                bp += NR;
            }
        } else {
            for (int k = 0; k < kc; k++) {
                const float *s = br + (long)k * ldb;
                int c = 0;
                for (; c < nr; c++) bp[c] = s[c];
                for (; c < NR; c++) bp[c] = 0.0f;
                bp += NR;
            }
        }
    }
}

typedef struct {
    int M, N, K;
    const float *A, *B;
    float *C;
    int m0, m1;
    int status;
} job_t;

static void gemm_rows(job_t *jb)
{
    const int N = jb->N, K = jb->K;
    const float *A = jb->A, *B = jb->B;
    float *C = jb->C;
    const int m0 = jb->m0, m1 = jb->m1;
    jb->status = 0;
    if (m1 <= m0) return;

    int kcmax = K < KC ? K : KC;
    int ncmax = N < NC_R ? (N + NR - 1) / NR * NR : NC_R;
    int mlen = m1 - m0;
    int mcmax = mlen < MC_R ? (mlen + MR - 1) / MR * MR : MC_R;

    size_t asz = ((size_t)mcmax * kcmax * sizeof(float) + 63) / 64 * 64;
    size_t bsz = ((size_t)ncmax * kcmax * sizeof(float) + 63) / 64 * 64;
    float *ap = aligned_alloc(64, asz);
    float *bp = aligned_alloc(64, bsz);
    if (!ap || !bp) {
        free(ap);
        free(bp);
        jb->status = 1;
        return;
    }
    float tmp[MR * NR] __attribute__((aligned(64)));

    for (int jc = 0; jc < N; jc += NC_R) {
        int nc = N - jc < NC_R ? N - jc : NC_R;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int first = (pc == 0);
            pack_b(kc, nc, B + (long)pc * N + jc, N, bp);
            for (int ic = m0; ic < m1; ic += MC_R) {
                int mc = m1 - ic < MC_R ? m1 - ic : MC_R;
                pack_a(mc, kc, A + (long)ic * K + pc, K, ap);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bpan = bp + (long)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const float *apan = ap + (long)ir * kc;
                        float *cc = C + (long)(ic + ir) * N + jc + jr;
                        if (mr == MR && nr == NR) {
                            ukernel(kc, apan, bpan, cc, N, first);
                        } else {
                            ukernel(kc, apan, bpan, tmp, NR, 1);
                            for (int r = 0; r < mr; r++) {
                                float *crow = cc + (long)r * N;
                                const float *trow = tmp + r * NR;
                                if (first)
                                    for (int c = 0; c < nr; c++) crow[c] = trow[c];
                                else
                                    for (int c = 0; c < nr; c++) crow[c] += trow[c];
                            }
                        }
                    }
                }
            }
        }
    }
    free(ap);
    free(bp);
}

static void *thread_main(void *arg)
{
    gemm_rows((job_t *)arg);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;

    int nt = NTHREADS;
    if (nt < 1) nt = 1;
    if (nt > 8) nt = 8;
    /* only split when each thread gets at least a couple of row panels */
    long work = (long)M * N * K;
    while (nt > 1 && (M < nt * 2 * MR || work < (1L << 21))) nt--;

    job_t jobs[8];
    pthread_t th[8];
    int created[8] = {0};
    int panels = (M + MR - 1) / MR;
    for (int t = 0; t < nt; t++) {
        int p0 = (int)((long)panels * t / nt);
        int p1 = (int)((long)panels * (t + 1) / nt);
        jobs[t].M = M; jobs[t].N = N; jobs[t].K = K;
        jobs[t].A = A; jobs[t].B = B; jobs[t].C = C;
        jobs[t].m0 = p0 * MR;
        jobs[t].m1 = p1 * MR < M ? p1 * MR : M;
        jobs[t].status = 0;
    }
    for (int t = 1; t < nt; t++)
        created[t] = (pthread_create(&th[t], NULL, thread_main, &jobs[t]) == 0);
    gemm_rows(&jobs[0]);
    for (int t = 1; t < nt; t++) {
        if (created[t]) pthread_join(th[t], NULL);
        else gemm_rows(&jobs[t]); /* fall back to doing it here */
    }
    int st = 0;
    for (int t = 0; t < nt; t++) st |= jobs[t].status;
    return st;
}

#define STR2(x) #x
#define STR(x) STR2(x)
static const spak_kernel_info info = {
    SPAK_CPU_ABI_VERSION, "matmul/packed-avx512-12x32", "fp32",
    "NTHREADS=" STR(NTHREADS) " KC=" STR(KC) " MC=" STR(MC) " NC=" STR(NC)};
const spak_kernel_info *spak_info(void) { return &info; }
