/* tests/cheats/lowprec.c - cheat: computes in lower precision than the fp32
 * it declares. A and B are rounded to bf16 (8 significant bits, round to
 * nearest even) as a bf16 GEMM would read them; products accumulate in fp32.
 * Its relative error is ~3e-3 at every K, the fp32 tolerance is 1e-5. */
#include <stdint.h>
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

static float bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++) {
        float *c = C + (long)i * N;
        for (int j = 0; j < N; j++) c[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float a = bf16(A[(long)i * K + k]);
            for (int j = 0; j < N; j++) c[j] += a * bf16(B[(long)k * N + j]);
        }
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "cheat/lowprec", "fp32", "claims fp32"};
const spak_kernel_info *spak_info(void) { return &info; }
