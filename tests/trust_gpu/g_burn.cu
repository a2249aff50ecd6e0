/* tests/trust_gpu/g_burn.cu - cheat (burns the GPU while the baseline is
 * timed): an honest GEMM; after each call a host thread queues ~0.5 s of
 * spinning on every SM once the call's work is done and the runner has
 * answered (tg_burn_after_call, tg.cuh). The judge times the baseline next,
 * on a device that is not idle: cuBLAS looks slow, the candidate's ratio
 * high. The idle check before the baseline, or the baseline re-timed alone
 * (interference), must catch it; where the freezer stops the thread before
 * it launches, the burn lands in the candidate's own next call. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("g_burn")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    int rc = tg_gemm(M, N, K, dtype, A, B, C, s);
    return rc ? rc : tg_burn_after_call(s);
}
