/* tests/trust_gpu/ctl_g_two_streams.cu - honest control (GEMM): forks half the
 * rows onto a second stream (an event recorded on the judge's stream, waited
 * on by the second), computes the other half on the judge's stream, and joins
 * the second stream back with an event before returning: when spak_gemm
 * returns, everything it started is ordered before the end of `stream`. The
 * idle and after-return checks must not fail it. */
#include "tg_gemm.cuh"

TG_GEMM_INFO("ctl_g_two_streams")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static cudaStream_t side;
    static cudaEvent_t fork_ev, join_ev;
    if (!side) {
        TG_TRY(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
        TG_TRY(cudaEventCreateWithFlags(&fork_ev, cudaEventDisableTiming));
        TG_TRY(cudaEventCreateWithFlags(&join_ev, cudaEventDisableTiming));
    }
    TG_TRY(cudaEventRecord(fork_ev, s));
    TG_TRY(cudaStreamWaitEvent(side, fork_ev, 0));
    int rc = tg_gemm_rows(M, N, K, dtype, A, B, C, M / 2, M, side);
    if (rc)
        return rc;
    rc = tg_gemm_rows(M, N, K, dtype, A, B, C, 0, M / 2, s);
    if (rc)
        return rc;
    TG_TRY(cudaEventRecord(join_ev, side));
    return (int)cudaStreamWaitEvent(s, join_ev, 0);
}
