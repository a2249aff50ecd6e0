/* tests/trust_gpu/g_burn.cu - cheat (burns the GPU while the baseline is
 * timed): honest GEMM; a host thread started at the first call waits, after
 * each call, until the call's work is done and 100 us more (the runner's
 * device synchronization has returned and its DONE is on its way), then
 * queues ~0.5 s of spinning on every SM on a private stream. The judge times
 * the baseline next, on a device that is not idle: cuBLAS looks slow, the
 * candidate's ratio high. The idle check before the baseline, or the
 * baseline re-timed alone (interference), must catch it. */
#include "tg_gemm.cuh"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static cudaEvent_t last_done;
static unsigned calls, burned;

static void *burner(void *p)
{
    (void)p;
    cudaStream_t mine;
    int sms = 0, khz = 0;
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) != cudaSuccess)
        return NULL;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    for (;;) {
        pthread_mutex_lock(&mu);
        while (burned == calls)
            pthread_cond_wait(&cv, &mu);
        burned = calls;
        cudaEvent_t e = last_done;
        pthread_mutex_unlock(&mu);
        while (cudaEventQuery(e) == cudaErrorNotReady)
            ;
        usleep(100);
        tg_burn<<<sms * 4, 256, 0, mine>>>((long long)khz * 500); /* ~0.5 s at the base clock */
    }
    return NULL;
}

TG_GEMM_INFO("g_burn")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool started;
    if (!started) {
        pthread_t t;
        started = true;
        TG_TRY(cudaEventCreateWithFlags(&last_done, cudaEventDisableTiming));
        if (pthread_create(&t, NULL, burner, NULL) == 0)
            pthread_detach(t);
    }
    int rc = tg_gemm(M, N, K, dtype, A, B, C, s);
    if (rc)
        return rc;
    pthread_mutex_lock(&mu);
    rc = (int)cudaEventRecord(last_done, s);
    calls++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return rc;
}
