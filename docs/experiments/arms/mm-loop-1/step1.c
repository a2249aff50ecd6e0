/* step1: Goto-style packed GEMM, AVX-512 12x32 microkernel, pthreads split over N. */
#include "abi.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef MC
#define MC 240
#endif
#ifndef KC
#define KC 256
#endif
#ifndef NC
#define NC 4096
#endif
#ifndef THREADS
#define THREADS 2
#endif
#define MR 12
#define NR 32

static void pack_A(int mc, int kc, const float *A, long lda, float *Ap)
{
    for (int i0 = 0; i0 < mc; i0 += MR) {
        int mr = mc - i0 < MR ? mc - i0 : MR;
        const float *a = A + (long)i0 * lda;
        if (mr == MR) {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < MR; i++) Ap[k * MR + i] = a[(long)i * lda + k];
        } else {
            for (int k = 0; k < kc; k++) {
                int i = 0;
                for (; i < mr; i++) Ap[k * MR + i] = a[(long)i * lda + k];
                for (; i < MR; i++) Ap[k * MR + i] = 0.0f;
            }
        }
        Ap += MR * kc;
    }
}

static void pack_B(int kc, int nc, const float *B, long ldb, float *Bp)
{
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int nr = nc - j0 < NR ? nc - j0 : NR;
        const float *b = B + j0;
        if (nr == NR) {
            for (int k = 0; k < kc; k++) {
                _mm512_store_ps(Bp + k * NR, _mm512_loadu_ps(b + (long)k * ldb));
                _mm512_store_ps(Bp + k * NR + 16, _mm512_loadu_ps(b + (long)k * ldb + 16));
            }
        } else {
            __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
            __mmask16 m1 = nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
            for (int k = 0; k < kc; k++) {
                _mm512_store_ps(Bp + k * NR, _mm512_maskz_loadu_ps(m0, b + (long)k * ldb));
                _mm512_store_ps(Bp + k * NR + 16, _mm512_maskz_loadu_ps(m1, b + (long)k * ldb + 16));
            }
        }
        Bp += NR * kc;
    }
}

#define ROWDECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define ROWFMA(i) { __m512 t = _mm512_set1_ps(a[i]); \
    c##i##a = _mm512_fmadd_ps(t, b0, c##i##a); c##i##b = _mm512_fmadd_ps(t, b1, c##i##b); }
#define ROWST(i) { float *cc = c + (long)(i) * ldc; \
    if (accum) { c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(cc)); \
                 c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(cc + 16)); } \
    _mm512_storeu_ps(cc, c##i##a); _mm512_storeu_ps(cc + 16, c##i##b); }

static inline __attribute__((always_inline)) void
kernel(int kc, const float *restrict a, const float *restrict b, float *c, long ldc, int accum)
{
    ROWDECL(0) ROWDECL(1) ROWDECL(2) ROWDECL(3) ROWDECL(4) ROWDECL(5)
    ROWDECL(6) ROWDECL(7) ROWDECL(8) ROWDECL(9) ROWDECL(10) ROWDECL(11)
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        ROWFMA(0) ROWFMA(1) ROWFMA(2) ROWFMA(3) ROWFMA(4) ROWFMA(5)
        ROWFMA(6) ROWFMA(7) ROWFMA(8) ROWFMA(9) ROWFMA(10) ROWFMA(11)
        a += MR; b += NR;
    }
    ROWST(0) ROWST(1) ROWST(2) ROWST(3) ROWST(4) ROWST(5)
    ROWST(6) ROWST(7) ROWST(8) ROWST(9) ROWST(10) ROWST(11)
}

static void kernel_edge(int kc, const float *a, const float *b, float *c, long ldc,
                        int accum, int mr, int nr)
{
    float tmp[MR * NR] __attribute__((aligned(64)));
    kernel(kc, a, b, tmp, NR, 0);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[(long)i * ldc + j] = accum ? c[(long)i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
}

typedef struct {
    int M, N, K, m0, m1, n0, n1;
    const float *A, *B;
    float *C;
    int rc;
} job_t;

static void *worker(void *p)
{
    job_t *j = (job_t *)p;
    int K = j->K, N = j->N;
    const float *A = j->A, *B = j->B;
    float *C = j->C;
    int ncmax = j->n1 - j->n0 < NC ? j->n1 - j->n0 : NC;
    ncmax = (ncmax + NR - 1) / NR * NR;
    int kcmax = K < KC ? K : KC;
    float *Ap = aligned_alloc(64, (size_t)(MC + MR) * kcmax * sizeof(float) + 64);
    float *Bp = aligned_alloc(64, (size_t)ncmax * kcmax * sizeof(float) + 64);
    if (!Ap || !Bp) { free(Ap); free(Bp); j->rc = 1; return NULL; }
    for (int jc = j->n0; jc < j->n1; jc += NC) {
        int nc = j->n1 - jc < NC ? j->n1 - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int accum = pc > 0;
            pack_B(kc, nc, B + (long)pc * N + jc, N, Bp);
            for (int ic = j->m0; ic < j->m1; ic += MC) {
                int mc = j->m1 - ic < MC ? j->m1 - ic : MC;
                pack_A(mc, kc, A + (long)ic * K + pc, K, Ap);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bp = Bp + (long)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const float *ap = Ap + (long)ir * kc;
                        float *cp = C + (long)(ic + ir) * N + jc + jr;
                        if (mr == MR && nr == NR) kernel(kc, ap, bp, cp, N, accum);
                        else kernel_edge(kc, ap, bp, cp, N, accum, mr, nr);
                    }
                }
            }
        }
    }
    free(Ap); free(Bp);
    j->rc = 0;
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    int T = THREADS;
    job_t jobs[16];
    if (T > 16) T = 16;
    int ns = (N + NR - 1) / NR;
    int splitN = ns >= T;
    if (!splitN && M < T * MR) T = 1;
    for (int t = 0; t < T; t++) {
        job_t *j = &jobs[t];
        j->M = M; j->N = N; j->K = K; j->A = A; j->B = B; j->C = C; j->rc = 0;
        if (T == 1) { j->m0 = 0; j->m1 = M; j->n0 = 0; j->n1 = N; }
        else if (splitN) {
            j->m0 = 0; j->m1 = M;
            j->n0 = (int)((long)ns * t / T) * NR;
            j->n1 = (int)((long)ns * (t + 1) / T) * NR;
            if (j->n1 > N) j->n1 = N;
        } else {
            int ms = (M + MR - 1) / MR;
            j->n0 = 0; j->n1 = N;
            j->m0 = (int)((long)ms * t / T) * MR;
            j->m1 = (int)((long)ms * (t + 1) / T) * MR;
            if (j->m1 > M) j->m1 = M;
        }
    }
    pthread_t th[16];
    int started[16] = {0};
    for (int t = 1; t < T; t++)
        started[t] = pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    worker(&jobs[0]);
    for (int t = 1; t < T; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else worker(&jobs[t]);
    }
    int rc = 0;
    for (int t = 0; t < T; t++) rc |= jobs[t].rc;
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/packed-avx512-12x32", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
