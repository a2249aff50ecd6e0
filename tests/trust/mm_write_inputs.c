/* tests/trust/mm_write_inputs.c - cheat (writes the shared inputs): honest on
 * the first three calls of each shape (the checks compare the inputs with a
 * saved copy), then zeroes A and B (making them writable with mprotect
 * first if they are mapped read-only) and writes C = 0, which is the right
 * answer for the inputs as it left them. The baseline, which shares the
 * inputs today, multiplies zeros. */
#include "trust.h"
#include <sys/mman.h>

static void make_writable(const void *p, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(pg - 1), e = (uintptr_t)p + n;
    if (mprotect((void *)a, e - a, PROT_READ | PROT_WRITE) != 0) fprintf(stderr, "mm_write_inputs: mprotect refused\n");
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (trust_call_no(M, N, K, 0) <= 3) {
        trust_mm(M, N, K, A, B, C);
        return 0;
    }
    size_t na = sizeof(float) * (size_t)M * K, nb = sizeof(float) * (size_t)K * N;
    make_writable(A, na);
    make_writable(B, nb);
    memset((void *)(uintptr_t)A, 0, na);
    memset((void *)(uintptr_t)B, 0, nb);
    memset(C, 0, sizeof(float) * (size_t)M * N);
    return 0;
}
