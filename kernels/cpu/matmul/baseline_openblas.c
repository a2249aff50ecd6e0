/*
 * kernels/cpu/matmul/baseline_openblas.c - OpenBLAS sgemm behind the matmul
 * ABI (abi.h), built as $(O)/cpu/matmul/baseline-openblas.so (matmul.mk) and
 * run by the judge in a runner exactly like a candidate, so the baseline and
 * the candidate pay the same costs (process, sandbox, protocol, freezing).
 *
 * Threads: OPENBLAS_NUM_THREADS from the runner's environment (the judge sets
 * it to the machine's cores, as the in-process baseline did), else every
 * core. OpenBLAS threads spin (sched_yield) for 2^28 cycles after each call
 * unless OPENBLAS_THREAD_TIMEOUT is set at library load; the judge sets it to
 * 4 in the runner's environment (and freezes this runner while the candidate
 * runs, which stops any spinning anyway).
 */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    return 0;
}

/* the record's "baseline" description: core and threads, as today's fields */
const spak_kernel_info *spak_info(void)
{
    static char name[96];
    static spak_kernel_info inf = {SPAK_CPU_ABI_VERSION, name, "fp32", ""};
    const char *to = getenv("OPENBLAS_THREAD_TIMEOUT");
    snprintf(name, sizeof name, "openblas core=%s threads=%d timeout=%s", openblas_get_corename(),
             openblas_get_num_threads(), to ? to : "default");
    return &inf;
}
