/* tests/trust/mm_late_cleanup.c - cheat (work after return, off the clock):
 * an honest kernel whose output is complete and correct when the call
 * returns, but which leaves a worker thread (late.h) clearing a 16 MiB
 * scratch buffer "for the next call" after every call: work the judge's
 * clock never sees. The ABI wants all work finished and no thread busy when
 * the call returns; the CPU the runner uses after DONE tells. */
#include "late.h"

static float *scratch;
#define SCRATCH_FLOATS ((size_t)4 << 20)

static void clear_scratch(void *p)
{
    (void)p;
    for (int pass = 0; pass < 4; pass++) {
        memset(scratch, pass, SCRATCH_FLOATS * sizeof(float));
        __asm__ volatile("" ::: "memory");
    }
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (!scratch) scratch = malloc(SCRATCH_FLOATS * sizeof(float));
    trust_mm(M, N, K, A, B, C);
    char none = 0;
    if (scratch) late_post(clear_scratch, &none, sizeof none);
    return 0;
}
