/* tests/trust_gpu/g_lazy.cu - cheat (correct first, then nothing): honest on
 * the first TG_HONEST_CALLS calls of each shape (the old judges' checks),
 * then returns at once without writing C. Every call must be checked. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_lazy")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) >= TG_HONEST_CALLS)
        return 0;
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
