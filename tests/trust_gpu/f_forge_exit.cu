/* tests/trust_gpu/f_forge_exit.cu - cheat (forged records), FMHA: honest on
 * the first TG_HONEST_CALLS calls of a problem; then prints a passing
 * Correctness and an impossibly fast Performance record for its shape
 * (the FMHA judge's shape string, BxHxSxD[gN][c]) on stdout and stderr,
 * and _exit(0). */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_forge_exit")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    char shape[96], g[24] = "";
    if (Hkv != H)
        snprintf(g, sizeof g, "g%d", Hkv);
    snprintf(shape, sizeof shape, "%dx%dx%dx%d%s%s", B, H, S, D, g, causal ? "c" : "");
    tg_forge(shape);
    _exit(0);
}
