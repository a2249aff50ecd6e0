/* tests/trust_gpu/ctl_g_host_thread.cu - honest control (GEMM): a host thread
 * launches half the rows on a stream of its own and synchronizes that stream;
 * the calling thread launches the other half on the judge's stream, and joins
 * the worker before returning. When spak_gemm returns the worker's half is
 * complete and no thread of the candidate touches the device. */
#include "tg_gemm.cuh"

struct half_job {
    int M, N, K, dtype;
    const void *A, *B;
    void *C;
    int rc;
};

static void *worker(void *p)
{
    half_job *j = (half_job *)p;
    static cudaStream_t mine;
    if (!mine && (j->rc = (int)cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking)) != 0)
        return NULL;
    j->rc = tg_gemm_rows(j->M, j->N, j->K, j->dtype, j->A, j->B, j->C, j->M / 2, j->M, mine);
    if (!j->rc)
        j->rc = (int)cudaStreamSynchronize(mine);
    return NULL;
}

TG_GEMM_INFO("ctl_g_host_thread")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    half_job j = {M, N, K, dtype, A, B, C, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, worker, &j) != 0)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    int rc = tg_gemm_rows(M, N, K, dtype, A, B, C, 0, M / 2, s);
    pthread_join(t, NULL);
    return rc ? rc : j.rc;
}
