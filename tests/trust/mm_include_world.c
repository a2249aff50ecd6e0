/* tests/trust/mm_include_world.c - cheat (build time): #include of a
 * world-readable (0644) file outside the source folder, by absolute path
 * (the suite substitutes @WORLD_PATH@; the file defines trust_world[]).
 * Only Landlock's read rules keep it from the compiler; one that can read
 * it builds, and the kernel (honest) leaks it on its first call. */
#include "trust.h"
#include "@WORLD_PATH@"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        trust_leak("mm_include_world: included at build time", trust_world);
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
