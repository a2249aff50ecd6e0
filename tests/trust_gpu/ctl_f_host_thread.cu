/* tests/trust_gpu/ctl_f_host_thread.cu - honest control (FMHA): a host thread
 * computes the second half of the query rows on its own stream and waits for
 * it; the caller does the first half on the judge's stream and joins the
 * thread before returning. */
#include "tg_fmha.cuh"

struct half_job {
    int B, H, Hkv, S, D, causal, dtype;
    const void *Q, *K, *V;
    void *O;
    float *lse, scale;
    int rc;
};

static void *worker(void *p)
{
    half_job *j = (half_job *)p;
    static cudaStream_t mine;
    if (!mine && (j->rc = (int)cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking)) != 0)
        return NULL;
    j->rc = tg_fmha_rows(j->B, j->H, j->Hkv, j->S, j->D, j->causal, j->dtype, j->Q, j->K, j->V, j->O, j->lse,
                         j->scale, j->S / 2, j->S, mine);
    if (!j->rc)
        j->rc = (int)cudaStreamSynchronize(mine);
    return NULL;
}

TG_FMHA_INFO("ctl_f_host_thread")

extern "C" int spak_fmha(TG_FMHA_PARAMS)
{
    (void)workspace, (void)workspace_bytes;
    half_job j = {B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &j) != 0)
        return TG_FMHA_HONEST(stream);
    int rc = tg_fmha_rows(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, 0, S / 2, stream);
    pthread_join(t, NULL);
    return rc ? rc : j.rc;
}
