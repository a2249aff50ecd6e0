/*
 * kernels/cpu/matmul/blocked.c - rung 2: cache blocking on top of the i-k-j
 * order. C is computed tile by tile (TILE_M x TILE_N), and K is walked in
 * TILE_K slices so the B slice (TILE_K x TILE_N) stays in L1/L2 while the
 * TILE_M rows of A reuse it. Optional threads split the TILE_M row blocks.
 *
 * Design/tuning defines (defaults in brackets; sensible values):
 *   TILE_M   [64]   rows of C per tile            (16, 32, 64, 128)
 *   TILE_N   [256]  columns of C per tile         (64, 128, 256, 512)
 *   TILE_K   [128]  depth of a K slice            (32, 64, 128, 256)
 *   THREADS  [1]    pthreads over row blocks      (1, 2)
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared -DTILE_K=128 -DTHREADS=2 \
 *       kernels/cpu/matmul/blocked.c -o blocked.so -lpthread
 *   build/spak-harness-cpu --family matmul --candidate ./blocked.so --seed 1 --check-only
 */
#include <pthread.h>
#include "abi.h"

#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 256
#endif
#ifndef TILE_K
#define TILE_K 128
#endif
#ifndef THREADS
#define THREADS 1
#endif

typedef struct job {
    int M, N, K, t, nt;
    const float *A, *B;
    float *C;
} job;

static void run_rows(const job *j)
{
    int M = j->M, N = j->N, K = j->K;
    int nblk = (M + TILE_M - 1) / TILE_M;
    for (int ib = j->t; ib < nblk; ib += j->nt) {
        int i0 = ib * TILE_M, i1 = i0 + TILE_M < M ? i0 + TILE_M : M;
        for (int i = i0; i < i1; i++)
            for (int c = 0; c < N; c++) j->C[(long)i * N + c] = 0.0f;
        for (int j0 = 0; j0 < N; j0 += TILE_N) {
            int j1 = j0 + TILE_N < N ? j0 + TILE_N : N;
            for (int k0 = 0; k0 < K; k0 += TILE_K) {
                int k1 = k0 + TILE_K < K ? k0 + TILE_K : K;
                for (int i = i0; i < i1; i++) {
                    float *restrict c = j->C + (long)i * N;
                    const float *a = j->A + (long)i * K;
                    for (int k = k0; k < k1; k++) {
                        const float *restrict b = j->B + (long)k * N;
                        float ak = a[k];
                        for (int jj = j0; jj < j1; jj++) c[jj] += ak * b[jj];
                    }
                }
            }
        }
    }
}

static void *worker(void *p)
{
    run_rows(p);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    job jobs[THREADS];
    pthread_t tid[THREADS];
    int started[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){M, N, K, t, THREADS, A, B, C};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, worker, &jobs[t]) == 0;
    }
    run_rows(&jobs[0]);
    for (int t = 1; t < THREADS; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            run_rows(&jobs[t]); /* could not start a thread: do its share here */
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/blocked", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
