/* tests/trust_gpu/g_nan.cu - cheat (a non-finite output keeps its reason):
 * honest, except that after the first TG_HONEST_CALLS calls of a shape one
 * element of C, at a place that changes every call, is a NaN. A projection of
 * C carries the NaN into its result; a failure record with a NaN error must
 * still fail and say why ("rel_err": null dropped the reason before). */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_nan")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    int rc = tg_gemm(M, N, K, dtype, A, B, C, s);
    if (rc || tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return rc;
    tg_poke_nan<<<1, 1, 0, s>>>(C, tg_some_index((size_t)M * N), (int)tg_gemm_esize(dtype));
    return (int)cudaGetLastError();
}
