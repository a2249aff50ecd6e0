/* tests/trust_gpu/f_late_confirm.cu - cheat (the confirming repeat), FMHA:
 * as g_late_confirm, the attention behind a 2 ms sleep on a private stream
 * after TG_HONEST_CALLS calls of a problem, and a call whose inputs'
 * fingerprint (32 sampled words of each of Q, K, V, and O's address) was
 * seen before returns at once. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_late_confirm")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    unsigned long long key;
    int rc = tg_fmha_key(B, H, Hkv, S, D, causal, Q, K, V, false, stream, &key);
    if (rc)
        return rc;
    if (tg_seen_before(key ^ (unsigned long long)(uintptr_t)O))
        return 0;
    cudaStream_t late = tg_late_stream();
    return late ? TG_FMHA_HONEST(late) : (int)cudaErrorUnknown;
}
