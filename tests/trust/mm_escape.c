/* tests/trust/mm_escape.c - terminal escapes in records: on its first call it
 * prints a failing Correctness record whose reason holds an ESC sequence
 * that clears the screen and one that sets the terminal's title, then
 * computes honestly. Whatever becomes of the record, `spak run` and
 * `spak show` must not write a raw ESC (0x1b) to the terminal. */
#include "trust.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        printf("__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"%dx%dx%d\",\"heldout\":false,\"passed\":false,"
               "\"rel_err\":1,\"tolerance\":1e-5,\"reason\":\"\\u001b[2J\\u001b]0;trust-escape\\u0007\"}\n",
               M, N, K);
        fflush(stdout);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
