/* tests/trust_gpu/f_third.cu - cheat (a third of the rows), FMHA: after the
 * first TG_HONEST_CALLS calls of a problem, only the first third of the
 * query rows of every head are computed (and the LSE of those), the other
 * rows of O are zeroed (finite: a NaN scan alone passes them). Rows sampled
 * after the call, anywhere in O, must catch it. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_third")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    int third = S / 3, rc = tg_fmha_rows(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, 0, third, stream);
    if (rc)
        return rc;
    size_t row = (size_t)D * 2, head = (size_t)S * row;
    return (int)cudaMemset2DAsync((char *)O + third * row, head, 0, (size_t)(S - third) * row, (size_t)B * H, stream);
}
