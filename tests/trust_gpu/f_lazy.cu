/* tests/trust_gpu/f_lazy.cu - cheat (correct first, then nothing), FMHA:
 * honest on the first TG_HONEST_CALLS calls of a problem, then returns at
 * once without writing O (the old FMHA judge's timed calls were unchecked:
 * 440,509 TFLOP/s was accepted). */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_lazy")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) >= TG_HONEST_CALLS)
        return 0;
    return TG_FMHA_HONEST(stream);
}
