/* tests/trust_gpu/g_late_sometimes.cu - cheat (late work now and then, to
 * have batches redone): after the first TG_HONEST_CALLS calls of a shape,
 * one call in 97 puts its GEMM late on a private stream (as g_early_stream)
 * and the rest are honest. A judge that repeats every batch showing late
 * work, as often as it shows it, lets the candidate choose which batches
 * count (redo the slow ones); one repeat a side and shape, the slower time
 * kept, and a second trip failing the side leave it nothing. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_late_sometimes")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    int no = tg_gemm_call_no(M, N, K, dtype);
    if (no < TG_HONEST_CALLS || no % 97 != 50)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    cudaStream_t late = tg_late_stream();
    return late ? tg_gemm(M, N, K, dtype, A, B, C, late) : (int)cudaErrorUnknown;
}
