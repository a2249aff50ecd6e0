/* tests/trust_gpu/g_poll_precompute.cu - cheat (work before the judge's clock
 * starts): a persistent kernel watches every (A, B, C) the candidate has been
 * called with and computes C as soon as the inputs change, so that the timed
 * call finds its result ready and returns at once.
 *
 * A table of slots (A, B, C, the shape, a fingerprint of the inputs the C
 * was computed from) lives in mapped host memory. The poller (8 blocks,
 * each owning every 8th slot) loops until a stop flag or a 2 s deadline: per
 * slot, a fingerprint of 32 sampled elements of A and of B (read past the
 * caches); when it changed, or a sampled element of C is a NaN (the judge's
 * poison landed after the last compute), the block computes all of C. The
 * judge writes fresh inputs while the runner's host side is frozen, but a
 * frozen process's kernels keep running: the poller sees them.
 * spak_gemm stops the poller (so the runner's device synchronization ends
 * promptly; no relaunch while a call is in progress), then launches a GEMM
 * whose every block first checks the slot (same fingerprint, no NaN in the
 * sample) and exits at once when ready. A host thread relaunches the poller
 * 200 us after the call's work is done, past the runner's DONE. The idle
 * check before a timed batch must find the poller; past it, the rate is
 * impossible or the result stale. */
#include "tg_gemm.cuh"

#define SLOTS 32

struct slot {
    const void *A, *B;
    void *C;
    int M, N, K, dtype;
    unsigned long long sig;
};
struct table {
    int count, stop;
    struct slot s[SLOTS];
};

static __device__ unsigned long long now_ns(void)
{
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

static __device__ bool nan_bits(uint32_t x, int dtype)
{
    if (dtype == SPAK_DT_F32)
        return (x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffffu);
    if (dtype == SPAK_DT_F16)
        return (x & 0x7c00u) == 0x7c00u && (x & 0x3ffu);
    return (x & 0x7f80u) == 0x7f80u && (x & 0x7fu);
}

static __device__ uint32_t elem_bits(const void *p, size_t i, int dtype)
{
    return dtype == SPAK_DT_F32 ? __ldcv((const unsigned int *)p + i) : __ldcv((const unsigned short *)p + i);
}

/* the fingerprint of A and B, and whether a sampled element of C is a NaN */
static __device__ unsigned long long fingerprint(const volatile struct slot *sl, bool *c_nan)
{
    size_t na = (size_t)sl->M * sl->K, nb = (size_t)sl->K * sl->N, nc = (size_t)sl->M * sl->N;
    unsigned long long h = 1469598103934665603ull;
    *c_nan = false;
    for (unsigned i = 0; i < 32; i++) {
        size_t w = i * 2654435761ull;
        h = (h ^ elem_bits(sl->A, w % na, sl->dtype)) * 1099511628211ull;
        h = (h ^ elem_bits(sl->B, w % nb, sl->dtype)) * 1099511628211ull;
        *c_nan |= nan_bits(elem_bits(sl->C, w % nc, sl->dtype), sl->dtype);
    }
    return h | 1; /* 0 means "never computed" */
}

template <typename T> static __device__ void block_gemm(const volatile struct slot *sl)
{
    const T *A = (const T *)sl->A, *B = (const T *)sl->B;
    T *C = (T *)sl->C;
    int M = sl->M, N = sl->N, K = sl->K;
    for (size_t idx = threadIdx.x; idx < (size_t)M * N; idx += blockDim.x) {
        size_t m = idx / N, n = idx % N;
        float acc = 0.f;
        for (int k = 0; k < K; k++)
            acc = fmaf(tg_f(__ldcg(A + m * K + k)), tg_f(__ldcg(B + n * K + k)), acc);
        C[idx] = tg_to<T>(acc);
    }
}

__global__ void poller(volatile struct table *t, unsigned long long run_ns)
{
    __shared__ int go, stale;
    __shared__ unsigned long long sig;
    const unsigned long long until = now_ns() + run_ns;
    for (;;) {
        if (threadIdx.x == 0)
            go = !t->stop && now_ns() < until;
        __syncthreads();
        if (!go)
            return;
        for (int i = blockIdx.x; i < t->count && i < SLOTS; i += gridDim.x) {
            volatile struct slot *sl = &t->s[i];
            if (threadIdx.x == 0) {
                bool c_nan;
                sig = fingerprint(sl, &c_nan);
                stale = sig != sl->sig || c_nan;
            }
            __syncthreads();
            if (stale) {
                if (sl->dtype == SPAK_DT_F32)
                    block_gemm<float>(sl);
                else if (sl->dtype == SPAK_DT_F16)
                    block_gemm<__half>(sl);
                else
                    block_gemm<__nv_bfloat16>(sl);
                __threadfence_system();
                __syncthreads();
                if (threadIdx.x == 0)
                    sl->sig = sig;
            }
            __syncthreads();
        }
        __nanosleep(2000);
    }
}

/* the honest tiled GEMM, each block first asking whether the poller has done it */
template <typename T>
__global__ void gemm_unless_ready(const volatile struct slot *sl, int M, int N, int K, const T *A, const T *B, T *C)
{
    __shared__ int ready;
    __shared__ float as[TG_T][TG_T + 1], bs[TG_T][TG_T + 1];
    if (threadIdx.x == 0 && threadIdx.y == 0) {
        bool c_nan;
        ready = fingerprint(sl, &c_nan) == sl->sig && !c_nan;
    }
    __syncthreads();
    if (ready)
        return;
    const int tx = threadIdx.x, ty = threadIdx.y, m0 = blockIdx.y * TG_T, n0 = blockIdx.x * TG_T;
    float acc = 0.f;
    for (int k0 = 0; k0 < K; k0 += TG_T) {
        as[ty][tx] = (m0 + ty < M && k0 + tx < K) ? tg_f(A[(size_t)(m0 + ty) * K + k0 + tx]) : 0.f;
        bs[ty][tx] = (n0 + ty < N && k0 + tx < K) ? tg_f(B[(size_t)(n0 + ty) * K + k0 + tx]) : 0.f;
        __syncthreads();
        for (int kk = 0; kk < TG_T; kk++)
            acc = fmaf(as[ty][kk], bs[tx][kk], acc);
        __syncthreads();
    }
    if (m0 + ty < M && n0 + tx < N)
        C[(size_t)(m0 + ty) * N + n0 + tx] = tg_to<T>(acc);
}

static struct table *host_tab, *dev_tab;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static cudaEvent_t last_done;
static unsigned calls, seen;
static bool in_call;

/* relaunches the poller once the latest call's work is done and the runner
 * has had 200 us to synchronize and answer */
static void *relauncher(void *p)
{
    (void)p;
    cudaStream_t mine;
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) != cudaSuccess)
        return NULL;
    for (;;) {
        pthread_mutex_lock(&mu);
        while (seen == calls)
            pthread_cond_wait(&cv, &mu);
        seen = calls;
        cudaEvent_t e = last_done;
        pthread_mutex_unlock(&mu);
        while (cudaEventQuery(e) == cudaErrorNotReady)
            ;
        usleep(200);
        pthread_mutex_lock(&mu);
        if (seen == calls && !in_call) { /* no call began meanwhile */
            ((volatile struct table *)host_tab)->stop = 0;
            poller<<<8, 256, 0, mine>>>(dev_tab, 2000000000ull);
        }
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static volatile struct slot *slot_for(int M, int N, int K, int dtype, const void *A, const void *B, void *C)
{
    volatile struct table *t = host_tab;
    for (int i = 0; i < t->count; i++)
        if (t->s[i].A == A && t->s[i].B == B && t->s[i].C == C && t->s[i].M == M && t->s[i].N == N &&
            t->s[i].K == K && t->s[i].dtype == dtype)
            return &dev_tab->s[i];
    if (t->count == SLOTS)
        return NULL;
    volatile struct slot *s = &t->s[t->count];
    s->A = A, s->B = B, s->C = C, s->M = M, s->N = N, s->K = K, s->dtype = dtype, s->sig = 0;
    return &dev_tab->s[t->count++];
}

TG_GEMM_INFO("g_poll_precompute")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (!host_tab) {
        pthread_t th;
        TG_TRY(cudaHostAlloc((void **)&host_tab, sizeof *host_tab, cudaHostAllocMapped));
        memset(host_tab, 0, sizeof *host_tab);
        TG_TRY(cudaHostGetDevicePointer((void **)&dev_tab, host_tab, 0));
        TG_TRY(cudaEventCreateWithFlags(&last_done, cudaEventDisableTiming));
        if (pthread_create(&th, NULL, relauncher, NULL) == 0)
            pthread_detach(th);
    }
    pthread_mutex_lock(&mu);
    in_call = true;
    ((volatile struct table *)host_tab)->stop = 1;
    volatile struct slot *sl = slot_for(M, N, K, dtype, A, B, C);
    pthread_mutex_unlock(&mu);
    if (!sl) {
        pthread_mutex_lock(&mu);
        in_call = false;
        pthread_mutex_unlock(&mu);
        return tg_gemm(M, N, K, dtype, A, B, C, s);
    }
    dim3 block(TG_T, TG_T), grid((N + TG_T - 1) / TG_T, (M + TG_T - 1) / TG_T);
    if (dtype == SPAK_DT_F32)
        gemm_unless_ready<float><<<grid, block, 0, s>>>(sl, M, N, K, (const float *)A, (const float *)B, (float *)C);
    else if (dtype == SPAK_DT_F16)
        gemm_unless_ready<__half><<<grid, block, 0, s>>>(sl, M, N, K, (const __half *)A, (const __half *)B,
                                                         (__half *)C);
    else
        gemm_unless_ready<__nv_bfloat16><<<grid, block, 0, s>>>(sl, M, N, K, (const __nv_bfloat16 *)A,
                                                                (const __nv_bfloat16 *)B, (__nv_bfloat16 *)C);
    int rc = (int)cudaGetLastError();
    pthread_mutex_lock(&mu);
    if (!rc)
        rc = (int)cudaEventRecord(last_done, s);
    calls++;
    in_call = false;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return rc;
}
