/* tests/trust/base_mm.c - the suite's matmul baseline: the honest one-thread
 * kernel every cheat of tests/trust falls back to (trust_mm). Timed against
 * it, an honest candidate's ratio is about 1 (2 with two threads) whatever
 * else loads the machine, where OpenBLAS's two threads swing by 20x on a
 * busy 2-core machine; a ratio well above 2 is work not done. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm(M, N, K, A, B, C);
    return 0;
}
