/* tests/trust_gpu/ctl_f_two_streams.cu - honest control (FMHA): the query rows
 * of the second half on a second stream forked from the judge's stream with
 * an event and joined back with another before returning. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("ctl_f_two_streams")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    static cudaStream_t side;
    static cudaEvent_t fork_ev, join_ev;
    if (!side) {
        TG_TRY(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
        TG_TRY(cudaEventCreateWithFlags(&fork_ev, cudaEventDisableTiming));
        TG_TRY(cudaEventCreateWithFlags(&join_ev, cudaEventDisableTiming));
    }
    TG_TRY(cudaEventRecord(fork_ev, stream));
    TG_TRY(cudaStreamWaitEvent(side, fork_ev, 0));
    int rc = tg_fmha_rows(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, S / 2, S, side);
    if (rc)
        return rc;
    rc = tg_fmha_rows(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, 0, S / 2, stream);
    if (rc)
        return rc;
    TG_TRY(cudaEventRecord(join_ev, side));
    return (int)cudaStreamWaitEvent(stream, join_ev, 0);
}
