/* tests/trust_gpu/f_nan.cu - cheat (a non-finite output), FMHA: honest,
 * except that after the first TG_HONEST_CALLS calls of a problem one element
 * of O, at a place that changes every call, is a NaN: rows sampled for the
 * check rarely hold it; the NaN scan of the whole output must. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_nan")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    int rc = TG_FMHA_HONEST(stream);
    if (rc || tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return rc;
    tg_poke_nan<<<1, 1, 0, stream>>>(O, tg_some_index((size_t)B * H * S * D), 2);
    return (int)cudaGetLastError();
}
