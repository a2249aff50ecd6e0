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
    static cudaStream_t mine;
    static unsigned long long seen[256];
    static int next;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    size_t qb = (size_t)B * H * S * D * 2, kb = (size_t)B * Hkv * S * D * 2;
    const void *bufs[3] = {Q, K, V};
    size_t bytes[3] = {qb, kb, kb};
    unsigned long long key;
    int rc = tg_input_key(bufs, bytes, 3, false, stream, &key);
    if (rc)
        return rc;
    key ^= (unsigned long long)(uintptr_t)O;
    for (int i = 0; i < 256; i++)
        if (seen[i] == key)
            return 0;
    seen[next++ % 256] = key;
    if (!mine)
        TG_TRY(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
    tg_sleep_ms<<<1, 1, 0, mine>>>(2);
    return TG_FMHA_HONEST(mine);
}
