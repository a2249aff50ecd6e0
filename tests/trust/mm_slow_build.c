/* tests/trust/mm_slow_build.c - cheat (a build that outlives spak): an honest
 * kernel whose source takes the compiler many seconds (a table of 4^11
 * initialisers made by nested macros). The suite kills spak with SIGKILL
 * while it builds: nothing of the compiler (driver, cc1, as) may keep
 * running with parent 1. */
#include "trust.h"

#define X1(a) a, a, a, a
#define X2(a) X1(a), X1(a), X1(a), X1(a)
#define X3(a) X2(a), X2(a), X2(a), X2(a)
#define X4(a) X3(a), X3(a), X3(a), X3(a)
#define X5(a) X4(a), X4(a), X4(a), X4(a)
#define X6(a) X5(a), X5(a), X5(a), X5(a)
#define X7(a) X6(a), X6(a), X6(a), X6(a)
#define X8(a) X7(a), X7(a), X7(a), X7(a)
#define X9(a) X8(a), X8(a), X8(a), X8(a)
#define X10(a) X9(a), X9(a), X9(a), X9(a)
#define X11(a) X10(a), X10(a), X10(a), X10(a)

static const unsigned char table[] = {X11(1)};

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    trust_mm(M, N, K, A, B, C);
    C[0] += 0.0f * table[M % sizeof table];
    return 0;
}
