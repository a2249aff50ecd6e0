/* tests/trust_gpu/f_burn.cu - cheat (burns the GPU while the baseline is
 * timed), FMHA: honest attention; after each call a host thread queues
 * ~0.5 s of spinning on every SM once the call's work is done
 * (tg_burn_after_call), while the judge times cuDNN. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_burn")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    int rc = TG_FMHA_HONEST(stream);
    return rc ? rc : tg_burn_after_call(stream);
}
