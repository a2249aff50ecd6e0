/* tests/trust_gpu/g_early_thread.cu - cheat (early return, work on a host
 * thread): after the first TG_HONEST_CALLS calls of a shape, spak_gemm hands
 * the call to a detached host thread and returns at once; the thread waits
 * 2 ms (past the runner's device synchronization and its DONE), then
 * launches the GEMM on its own stream. The output is incomplete when the
 * call is checked, or the work runs after the call returned. */
#include "tg_gemm.cuh"

struct late_job {
    int M, N, K, dtype;
    const void *A, *B;
    void *C;
};

static void *late(void *p)
{
    late_job *j = (late_job *)p;
    cudaStream_t mine;
    usleep(2000);
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess) {
        tg_gemm(j->M, j->N, j->K, j->dtype, j->A, j->B, j->C, mine);
        cudaStreamSynchronize(mine);
        cudaStreamDestroy(mine);
    }
    free(j);
    return NULL;
}

TG_GEMM_INFO("g_early_thread")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    late_job *j = (late_job *)malloc(sizeof *j);
    pthread_t t;
    if (!j)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    *j = late_job{M, N, K, dtype, A, B, C};
    if (pthread_create(&t, NULL, late, j) != 0) {
        free(j);
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    }
    pthread_detach(t);
    return 0;
}
