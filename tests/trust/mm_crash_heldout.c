/* tests/trust/mm_crash_heldout.c - a failure that must keep its reason: an
 * honest kernel that crashes (SIGSEGV) on every shape with an odd M (the
 * suite's held-out shapes; its timed shape is 128x128x128). A crash in a
 * held-out check must fail the evaluation, with the crash as the reason. */
#include "trust.h"
#include <signal.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M % 2) raise(SIGSEGV);
    trust_mm(M, N, K, A, B, C);
    return 0;
}
