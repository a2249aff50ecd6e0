/* tests/trust_gpu/g_write_restore.cu - cheat (writes the inputs, restores them
 * later): after the first TG_HONEST_CALLS calls of a shape it saves A and B,
 * zeroes A, B and C (C = 0 = A B), and returns; a detached host thread puts A
 * and B back 1 ms after the call's work is done (after the runner's DONE),
 * hoping the judge's check reads the zeroed inputs and its hash the restored
 * ones. Either the hash sees the writes, or the check sees C = 0 against the
 * real inputs, or the judge sees work after the call returned. */
#include "tg_gemm.cuh"

struct restore_job {
    cudaEvent_t done;
    void *A, *B, *saveA, *saveB;
    size_t ab, bb;
};

static void *restore(void *p)
{
    restore_job *j = (restore_job *)p;
    cudaStream_t mine;
    while (cudaEventQuery(j->done) == cudaErrorNotReady)
        usleep(50);
    usleep(1000);
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) == cudaSuccess) {
        cudaMemcpyAsync(j->A, j->saveA, j->ab, cudaMemcpyDeviceToDevice, mine);
        cudaMemcpyAsync(j->B, j->saveB, j->bb, cudaMemcpyDeviceToDevice, mine);
        cudaStreamSynchronize(mine);
        cudaStreamDestroy(mine);
    }
    cudaFree(j->saveA);
    cudaFree(j->saveB);
    cudaEventDestroy(j->done);
    free(j);
    return NULL;
}

TG_GEMM_INFO("g_write_restore")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (tg_gemm_call_no(M, N, K, dtype) < TG_HONEST_CALLS)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    size_t es = tg_gemm_esize(dtype);
    restore_job *j = (restore_job *)calloc(1, sizeof *j);
    if (!j)
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    j->A = const_cast<void *>(A), j->B = const_cast<void *>(B);
    j->ab = (size_t)M * K * es, j->bb = (size_t)K * N * es;
    TG_TRY(cudaMalloc(&j->saveA, j->ab));
    TG_TRY(cudaMalloc(&j->saveB, j->bb));
    TG_TRY(cudaEventCreateWithFlags(&j->done, cudaEventDisableTiming));
    TG_TRY(cudaMemcpyAsync(j->saveA, A, j->ab, cudaMemcpyDeviceToDevice, s));
    TG_TRY(cudaMemcpyAsync(j->saveB, B, j->bb, cudaMemcpyDeviceToDevice, s));
    TG_TRY(cudaMemsetAsync(j->A, 0, j->ab, s));
    TG_TRY(cudaMemsetAsync(j->B, 0, j->bb, s));
    TG_TRY(cudaMemsetAsync(C, 0, (size_t)M * N * es, s));
    TG_TRY(cudaEventRecord(j->done, s));
    pthread_t t;
    if (pthread_create(&t, NULL, restore, j) != 0)
        return (int)cudaErrorUnknown;
    pthread_detach(t);
    return 0;
}
