/* tests/trust/mm_got_baseline.c - cheat (patches the baseline's entry point):
 * at load it points the harness's cblas_sgemm (its GOT slot) at a wrapper
 * that calls OpenBLAS and then spins 100 times as long, so the baseline
 * looks 101x slower. The candidate's own kernel is honest and one-threaded. */
#include "trust.h"
#include <dlfcn.h>
#include <time.h>
#include "trust_got.h"

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
static sgemm_fn real_sgemm;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void slow_sgemm(int order, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc)
{
    double t0 = now();
    real_sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    double spent = now() - t0;
    while (now() - t0 < 101 * spent) {
    }
}

__attribute__((constructor)) static void install(void)
{
    /* the resolved function, not the slot's lazy stub (the resolver would
     * write the slot back) */
    void *p = dlsym(RTLD_DEFAULT, "cblas_sgemm");
    if (!p) return;
    memcpy(&real_sgemm, &p, sizeof p);
    if (!trust_got_patch("cblas_sgemm", (void *)slow_sgemm))
        fprintf(stderr, "mm_got_baseline: no cblas_sgemm slot in the main program\n");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm(M, N, K, A, B, C);
    return 0;
}
