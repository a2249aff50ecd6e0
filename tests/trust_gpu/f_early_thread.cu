/* tests/trust_gpu/f_early_thread.cu - cheat (early return, work on a host
 * thread), FMHA: after the first TG_HONEST_CALLS calls of a problem the call
 * is handed to a detached thread that waits 2 ms (past the runner's DONE)
 * and then launches the attention on its own stream; spak_fmha returns at
 * once. */
#include "tg_fmha.cuh"

struct late_job {
    int B, H, Hkv, S, D, causal, dtype;
    const void *Q, *K, *V;
    void *O;
    float *lse, scale;
};

static void *late(void *p)
{
    late_job *j = (late_job *)p;
    cudaStream_t mine;
    usleep(2000);
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess) {
        tg_fmha(j->B, j->H, j->Hkv, j->S, j->D, j->causal, j->dtype, j->Q, j->K, j->V, j->O, j->lse, j->scale, mine);
        cudaStreamSynchronize(mine);
        cudaStreamDestroy(mine);
    }
    free(j);
    return NULL;
}

TG_FMHA_INFO("f_early_thread")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    if (tg_fmha_call_no(B, H, Hkv, S, D, causal, dtype) < TG_HONEST_CALLS)
        return TG_FMHA_HONEST(stream);
    late_job *j = (late_job *)malloc(sizeof *j);
    pthread_t t;
    if (!j)
        return TG_FMHA_HONEST(stream);
    *j = late_job{B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale};
    if (pthread_create(&t, NULL, late, j) != 0) {
        free(j);
        return TG_FMHA_HONEST(stream);
    }
    pthread_detach(t);
    return 0;
}
