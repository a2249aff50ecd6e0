/* tests/trust/mm_forge_exit.c - cheat (forges the record channel): on its
 * first call it prints passing Correctness records and impossible
 * Performance records on stdout, which is the harness's record channel
 * today, and ends the process with _exit(0) before the harness can say
 * anything. */
#include "forge.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    (void)M, (void)N, (void)K, (void)A, (void)B, (void)C;
    forge_records();
    _exit(0);
}
