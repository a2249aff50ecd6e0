/* tests/cheats/forged_trace.c - cheat: prints a forged Performance record
 * and passing Correctness records on stdout, then _exit(0), so a harness
 * whose stdout is the candidate's would report them. */
#include <stdio.h>
#include <unistd.h>
#include "../../kernels/cpu/matmul/abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    (void)A, (void)B, (void)C;
    printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"%dx%dx%d\",\"heldout\":false,\"passed\":true,"
           "\"rel_err\":0,\"tolerance\":1e-5,\"reason\":\"ok FORGED\"}\n",
           M, N, K);
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"%dx%dx%d\",\"time_ms\":0.001,\"gflops\":94136,"
           "\"baseline\":\"openblas\",\"baseline_gflops\":62,\"ratio\":1511,\"reason\":\"FORGED\"}\n",
           M, N, K);
    fflush(stdout);
    _exit(0);
}
