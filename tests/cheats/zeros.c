/* tests/cheats/zeros.c - cheat: writes zeros (fast, and wrong). */
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    (void)K, (void)A, (void)B;
    memset(C, 0, sizeof(float) * (size_t)M * (size_t)N);
    return 0;
}
