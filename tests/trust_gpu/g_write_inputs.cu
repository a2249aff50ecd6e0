/* tests/trust_gpu/g_write_inputs.cu - cheat (writes the shared inputs): after
 * the first TG_HONEST_CALLS calls of a shape it zeroes A, B and C: a check
 * that reads the inputs after the call (Freivalds: C x against A (B x))
 * then agrees with C = 0. Device inputs cannot be made read-only: the hash
 * of the inputs compared before and after the call must catch it. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_write_inputs")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    size_t es = tg_gemm_esize(dtype);
    TG_TRY(cudaMemsetAsync(const_cast<void *>(A), 0, (size_t)M * K * es, s));
    TG_TRY(cudaMemsetAsync(const_cast<void *>(B), 0, (size_t)K * N * es, s));
    return (int)cudaMemsetAsync(C, 0, (size_t)M * N * es, s);
}
