/* tests/trust_gpu/f_early_stream.cu - cheat (early return, work on another
 * stream), FMHA: after the first TG_HONEST_CALLS calls of a problem the
 * attention goes on a private stream behind a 2 ms device sleep, not joined
 * to the judge's stream; spak_fmha returns at once. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_early_stream")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    static cudaStream_t mine;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    if (!mine)
        TG_TRY(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
    tg_sleep_ms<<<1, 1, 0, mine>>>(2);
    return TG_FMHA_HONEST(mine);
}
