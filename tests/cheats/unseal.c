/* tests/cheats/unseal.c - cheat: makes its read-only inputs writable again
 * (mprotect of A's pages to PROT_READ|PROT_WRITE), then uses A as scratch
 * like writes_inputs.c. It says on stderr whether the mprotect worked (the
 * runner's log). Against inputs shared through a memfd sealed with
 * F_SEAL_FUTURE_WRITE the mprotect fails, and the write faults. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "honest.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)A & ~(uintptr_t)(pg - 1), hi = (uintptr_t)(A + (long)M * K);
    int r = mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE);
    fprintf(stderr, "unseal: mprotect %s\n", r ? strerror(errno) : "succeeded");
    fflush(stderr);
    honest_matmul_scratch_a(M, N, K, A, B, C);
    return 0;
}
