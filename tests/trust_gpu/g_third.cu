/* tests/trust_gpu/g_third.cu - cheat (a third of the rows): after the first
 * TG_HONEST_CALLS calls of a shape, computes only the first third of the rows
 * of C and writes zeros in the rest (finite, so a NaN scan alone passes it):
 * a check that samples a few rows of the first third, or a scan for NaN,
 * misses it; a projection of all of C (Freivalds) does not. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_third")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    int third = M / 3, rc = tg_gemm_rows(M, N, K, dtype, A, B, C, 0, third, s);
    if (rc)
        return rc;
    size_t row = (size_t)N * tg_gemm_esize(dtype);
    return (int)cudaMemsetAsync((char *)C + third * row, 0, (size_t)(M - third) * row, s);
}
