/* tests/trust_gpu/g_early_stream.cu - cheat (early return, work on another
 * stream): after the first TG_HONEST_CALLS calls of a shape, the GEMM goes
 * on a private stream behind a 2 ms device sleep, not joined to the judge's
 * stream, and spak_gemm returns at once: a judge that times its own stream
 * stops its clock before the work is done. A runner that synchronizes the
 * whole device before it answers puts the work inside the time (then it is
 * honest, and slower); one that does not leaves it running after DONE. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_early_stream")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    cudaStream_t late = tg_late_stream();
    return late ? tg_gemm(M, N, K, dtype, A, B, C, late) : (int)cudaErrorUnknown;
}
