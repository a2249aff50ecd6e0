/* tests/trust_gpu/f_persistent.cu - cheat (a kernel that outlives its call),
 * FMHA: on its first call it launches on a private stream one block per SM
 * that spins until a mapped host flag is set (never); it computes honestly
 * on the judge's stream. The device is never idle again. */
#include "tg_fmha.cuh"

TG_FMHA_INFO("f_persistent")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    static bool launched;
    if (!launched) {
        static cudaStream_t mine;
        int *dflag = NULL, sms = 1;
        launched = true;
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
        if (tg_mapped_flag(&dflag) && cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess)
            tg_spin_until<<<sms, 32, 0, mine>>>(dflag);
    }
    return TG_FMHA_HONEST(stream);
}
