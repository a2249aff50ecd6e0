/* tests/cheats/shapes.c - cheat: special-cases the shapes it has seen. Square
 * shapes that are multiples of 64 (the tuning shapes) get an honest answer;
 * anything else gets the tile-multiple part only (edges left at zero), the
 * classic bug of a kernel only ever run on friendly sizes. Held-out shapes
 * catch it. */
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    int seen = M == N && N == K && M % 64 == 0;
    int m = seen ? M : M / 16 * 16, n = seen ? N : N / 16 * 16;
    memset(C, 0, sizeof(float) * (size_t)M * (size_t)N);
    for (int i = 0; i < m; i++)
        for (int k = 0; k < K; k++) {
            float a = A[(long)i * K + k];
            for (int j = 0; j < n; j++) C[(long)i * N + j] += a * B[(long)k * N + j];
        }
    return 0;
}
