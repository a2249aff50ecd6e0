/* tests/trust/mm_burn.c - cheat (interference): the honest 2-thread kernel of
 * ctl_mm_pthreads.c, plus 10 burner threads (burn.h) that take the cores
 * whenever the candidate is not running, i.e. while OpenBLAS is timed. */
#include "burn.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    burn_start();
    burn_enter();
    trust_mm_2threads(M, N, K, A, B, C);
    burn_leave();
    return 0;
}
