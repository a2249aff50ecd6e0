/* tests/trust_gpu/f_detect_cmdline.cu - cheat (harness detection from argv),
 * FMHA: when /proc/self/cmdline names a spak judge or runner and is not a
 * check-only or profiling run, it is honest on the first TG_HONEST_CALLS
 * calls of a problem and returns at once afterwards; honest otherwise. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_detect_cmdline")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    static int judged = -1;
    if (judged < 0)
        judged = tg_judged_by_cmdline();
    if (judged && tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) >= TG_HONEST_CALLS)
        return 0;
    return TG_FMHA_HONEST(stream);
}
