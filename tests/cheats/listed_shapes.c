/* tests/cheats/listed_shapes.c - cheat: right only on the shapes it can know.
 * A spec's shapes and held-out shapes are readable by whoever writes the
 * candidate (the spec author, an LLM shown the spec), so this kernel is
 * honest on exactly the shapes tests/suites/cpu_harness.sh lists (MM_SHAPES,
 * MM_HELD) and elsewhere computes only the 16x16-tile part of C, leaving
 * the edges at zero: the classic bug of a kernel only ever run on friendly
 * sizes, hidden by special-casing every listed odd size. Only a held-out
 * shape drawn at run time, which nobody knew, catches it. */
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

static const int listed[][3] = {{64, 64, 64}, {128, 128, 128}, {1, 1, 1}, {33, 17, 65}, {100, 37, 129}, {7, 260, 3}};

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    int known = 0;
    for (size_t s = 0; s < sizeof listed / sizeof listed[0]; s++)
        known |= M == listed[s][0] && N == listed[s][1] && K == listed[s][2];
    int m = known ? M : M / 16 * 16, n = known ? N : N / 16 * 16;
    memset(C, 0, sizeof(float) * (size_t)M * (size_t)N);
    for (int i = 0; i < m; i++)
        for (int k = 0; k < K; k++) {
            float a = A[(long)i * K + k];
            for (int j = 0; j < n; j++) C[(long)i * N + j] += a * B[(long)k * N + j];
        }
    return 0;
}
