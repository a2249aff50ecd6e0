/* tests/trust_gpu/f_write_inputs.cu - cheat (writes the shared inputs), FMHA:
 * after the first TG_HONEST_CALLS calls of a problem it zeroes V and O (and
 * writes the honest LSE, which does not depend on V): O = softmax(Q K^T) V
 * = 0 then holds for any rows a check samples after the call from the
 * inputs as they are. The inputs' hash before and after must catch it. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_write_inputs")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    TG_TRY(cudaMemsetAsync(const_cast<void *>(V), 0, (size_t)B * Hkv * S * D * 2, stream));
    return TG_FMHA_HONEST(stream); /* O = 0 exactly, and the right LSE */
}
