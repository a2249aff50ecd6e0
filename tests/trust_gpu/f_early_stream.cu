/* tests/trust_gpu/f_early_stream.cu - cheat (early return, work on another
 * stream), FMHA: after the first TG_HONEST_CALLS calls of a problem the
 * attention goes on a private stream behind a 2 ms device sleep, not joined
 * to the judge's stream; spak_fmha returns at once. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_early_stream")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    cudaStream_t late = tg_late_stream();
    return late ? TG_FMHA_HONEST(late) : (int)cudaErrorUnknown;
}
