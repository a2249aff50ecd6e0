/* tests/trust_gpu/f_crash_heldout.cu - cheat (a crash in a held-out shape),
 * FMHA: honest when S is a multiple of 64 (the shapes it was tuned for);
 * any other S (the suite's held-out 200) dies of SIGSEGV on the host. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_crash_heldout")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (S % 64) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    return TG_FMHA_HONEST(stream);
}
