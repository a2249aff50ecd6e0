/*
 * harness_device.cuh - the CUDA plumbing both trusted harnesses share
 * (spak-harness-cuda, spak-harness-cuda-fmha): helpers of their own kernels
 * (input generator, input-write check), trace records on stdout, NVML clocks
 * loaded at run time, the copy-bandwidth and cuBLAS ceilings, the probe child
 * (device present? ceilings from the cache or measured), the interleaved
 * candidate/baseline timing, and the parent's side of the probe and of each
 * shape's child. The GPU-free logic is in harness_core.c. Define
 * SPAK_HARNESS_PROG (the program's name for messages) before including it.
 *
 * The shape child's steps (HCK, rel_err_of, count_diff, after_snapshot, ...)
 * are templates over the harness's own struct child; what they use of it:
 * the stream st, the error text err[512] (a harness failure's reason) and
 * the device scratch b.sums (two doubles) and b.cnt (one counter).
 */
#ifndef SPAK_CUDA_HARNESS_DEVICE_CUH
#define SPAK_CUDA_HARNESS_DEVICE_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness_core.h"

#ifndef SPAK_HARNESS_PROG
#error "define SPAK_HARNESS_PROG before including harness_device.cuh"
#endif

/* ---- helpers of both harnesses' own kernels ---- */

/* splitmix64: the counter-based generator behind the inputs (element i
 * depends only on (seed, i), so any launch shape gives the same data); on
 * the host too, for the --ncu inputs. */
__host__ __device__ __forceinline__ unsigned long long splitmix64(unsigned long long x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* 16-bit and fp32 elements to fp64, exactly */
template <typename T> __device__ __forceinline__ double to_double(T v);
template <> __device__ __forceinline__ double to_double<float>(float v) { return v; }
template <> __device__ __forceinline__ double to_double<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ double to_double<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_float(float f);
template <> __device__ __forceinline__ float from_float<float>(float f) { return f; }
template <> __device__ __forceinline__ __half from_float<__half>(float f) { return __float2half_rn(f); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }

/* v combined (op, identity id) over the threads of a block of whole warps,
 * at most 1024 threads: the result in thread 0. A reduction kernel adds one
 * atomic a block: one a thread was a couple of million atomics on one
 * address for a hash of 8 Mi words, about a millisecond of serialized L2
 * work a call. Every thread of the block must call it (no early return);
 * it may be called more than once in a kernel. */
template <typename T, typename Op> __device__ __forceinline__ T block_reduce(T v, T id, Op op)
{
    __shared__ T part[32];
    for (int o = 16; o > 0; o >>= 1)
        v = op(v, __shfl_down_sync(0xffffffffu, v, o));
    int w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    __syncthreads(); /* part is free: a previous call's readers are done */
    if ((threadIdx.x & 31) == 0)
        part[w] = v;
    __syncthreads();
    if (w == 0) {
        v = (int)threadIdx.x < nw ? part[threadIdx.x] : id;
        for (int o = 16; o > 0; o >>= 1)
            v = op(v, __shfl_down_sync(0xffffffffu, v, o));
    }
    return v;
}
struct op_add {
    template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct op_max {
    __device__ __forceinline__ double operator()(double a, double b) const { return fmax(a, b); }
};

/* *cnt += the number of 16-bit words that differ between a and b (an input
 * the candidate wrote, compared with its saved copy) */
__global__ void diff_u16(const unsigned short *a, const unsigned short *b, size_t n, unsigned long long *cnt)
{
    unsigned long long c = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        c += a[i] != b[i];
    c = block_reduce(c, 0ull, op_add());
    if (threadIdx.x == 0 && c)
        atomicAdd(cnt, c);
}

/* sums[0] += (c - r)^2, sums[1] += r^2 over the n outputs c and their
 * reference r (fp64 or fp32); bad[0] += non-finite outputs */
template <typename T, typename R>
__global__ void rel_err_kernel(const T *c, const R *r, size_t n, double *sums, unsigned long long *bad)
{
    double d2 = 0, r2 = 0;
    unsigned long long nb = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        double cv = to_double<T>(c[i]), rv = r[i];
        if (!isfinite(cv)) {
            nb++;
            continue;
        }
        d2 += (cv - rv) * (cv - rv);
        r2 += rv * rv;
    }
    d2 = block_reduce(d2, 0.0, op_add());
    r2 = block_reduce(r2, 0.0, op_add());
    nb = block_reduce(nb, 0ull, op_add());
    if (threadIdx.x == 0) {
        atomicAdd(&sums[0], d2);
        atomicAdd(&sums[1], r2);
        if (nb) atomicAdd(bad, nb);
    }
}

/* One trace record (malloc'd JSON, freed here) on stdout, flushed. */
static void emit(char *rec)
{
    if (!rec) {
        fprintf(stderr, "%s: could not build a record (out of memory)\n", SPAK_HARNESS_PROG);
        return;
    }
    rec = hc_omit_nulls(rec); /* a passing record says nothing of what it has no value for */
    printf("%s%s\n", HC_TRACE_PREFIX, rec);
    fflush(stdout);
    free(rec);
}

/* ---- where this process's wall time goes (the Cost record, issue 18) ----
 * One hc_phases per process: the parent's begun in main (hd_cost_begin),
 * each shape child's at its start (run_shapes). hd_phase closes the current
 * phase and begins the next; hd_part adds to a part of the current one
 * (idle probes, calls, inputs: jd_batch_once, js_run). */
static struct hc_phases hd_cost;
static const char *hd_top = "main";
static const char *hd_family = "?";
static bool hd_ceilings_measured; /* this run measured the ceilings (none cached for the device) */

static void hd_phase(const char *next)
{
    hc_phase_mark(&hd_cost, hd_top);
    hd_top = next;
}

static void hd_part(const char *sub, double seconds)
{
    hc_phase_add_part(&hd_cost, hd_top, sub, seconds);
}

/* f() (an int), its seconds added to the part `part` of the current phase:
 * a runner's spawn, its pools (the runner's context is made with them), a
 * query */
template <typename F> static int hd_timed(const char *part, F f)
{
    double t0 = hc_now_s();
    int r = f();
    hd_part(part, hc_now_s() - t0);
    return r;
}

/* main's first step: the run's phases begun, what came before main added
 * (exec, the loader, the CUDA runtime's constructors) */
static void hd_cost_begin(const char *family)
{
    hc_phases_begin(&hd_cost);
    hd_family = family;
    hd_top = "args";
    double age = hc_process_age_s();
    if (age >= 0)
        hc_phase_add(&hd_cost, "before_main", age);
}

/* ---- NVML, loaded at run time (no link-time dependency; absent -> zeros) ---- */
typedef struct nvmlDevice_st *nvmlDevice_t;
struct nvml_api {
    void *lib;
    int (*init)(void);
    int (*by_pci)(const char *, nvmlDevice_t *);
    int (*clock)(nvmlDevice_t, int, unsigned *);
    int (*power)(nvmlDevice_t, unsigned *);
    int (*reasons)(nvmlDevice_t, unsigned long long *);
    int (*max_clock)(nvmlDevice_t, int, unsigned *);
    nvmlDevice_t dev;
    bool ok;
};
static struct nvml_api g_nvml;

static void nvml_open(int cuda_dev)
{
    char pci[64];
    struct nvml_api *n = &g_nvml;
    n->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!n->lib)
        return;
    *(void **)&n->init = dlsym(n->lib, "nvmlInit_v2");
    *(void **)&n->by_pci = dlsym(n->lib, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&n->clock = dlsym(n->lib, "nvmlDeviceGetClockInfo");
    *(void **)&n->power = dlsym(n->lib, "nvmlDeviceGetPowerUsage");
    *(void **)&n->max_clock = dlsym(n->lib, "nvmlDeviceGetMaxClockInfo");
    *(void **)&n->reasons = dlsym(n->lib, "nvmlDeviceGetCurrentClocksEventReasons");
    if (!n->reasons)
        *(void **)&n->reasons = dlsym(n->lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
    if (!n->init || !n->by_pci || !n->clock || !n->power || n->init() != 0)
        return;
    if (cudaDeviceGetPCIBusId(pci, sizeof pci, cuda_dev) != cudaSuccess)
        return;
    n->ok = n->by_pci(pci, &n->dev) == 0;
}

struct clocks {
    int sm_mhz, mem_mhz;
    double power_w;
    unsigned long long reasons;
};

static struct clocks nvml_sample(void)
{
    struct clocks c = {0, 0, 0, 0};
    unsigned v;
    if (!g_nvml.ok)
        return c;
    if (g_nvml.clock(g_nvml.dev, 1 /* NVML_CLOCK_SM */, &v) == 0)
        c.sm_mhz = (int)v;
    if (g_nvml.clock(g_nvml.dev, 2 /* NVML_CLOCK_MEM */, &v) == 0)
        c.mem_mhz = (int)v;
    if (g_nvml.power(g_nvml.dev, &v) == 0)
        c.power_w = v / 1000.0;
    if (g_nvml.reasons)
        g_nvml.reasons(g_nvml.dev, &c.reasons);
    return c;
}

/* ---- ceilings: copy bandwidth and the library's peak, measured once per device, cached ---- */

/* The milliseconds run() takes on the device's default stream, between
 * the events e0 and e1 (recorded around it; waited for). */
template <typename Run> static float event_ms(cudaEvent_t e0, cudaEvent_t e1, Run run)
{
    float ms = 0;
    cudaEventRecord(e0);
    run();
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    cudaEventElapsedTime(&ms, e0, e1);
    return ms;
}

/* Device-to-device copy of 1 GiB, best of 10 after 2 warm-ups, GB/s read + write. */
static double measure_copy_gbps(void)
{
    size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    cudaEvent_t e0, e1;
    double best = 0;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess)
        goto out;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaMemset(a, 1, bytes);
    for (int i = 0; i < 12; i++) {
        float ms = event_ms(e0, e1, [&] { cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice); });
        if (i >= 2 && ms > 0 && 2.0 * bytes / (ms * 1e6) > best)
            best = 2.0 * bytes / (ms * 1e6); /* read + write */
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
out:
    cudaFree(a);
    cudaFree(b);
    return best;
}

/* What time_interleaved() measured. */
struct timed {
    struct hc_stats cand, base; /* milliseconds; base only when have_base */
    bool have_base;             /* in: a baseline is there; out: it still is */
    struct clocks ck;           /* sampled half-way, while the queue runs */
};

/* The timing both harnesses share: wu warm-up calls of each side, then reps
 * rounds of candidate and baseline, alternating which goes first, each after
 * an L2 flush (a memset of flush_bytes at flush) and timed by a pair of
 * events on st. resample_short: sample the clocks again after the rounds
 * when reps < 2.
 *   cand()        0, or non-zero when the candidate failed (reason in why)
 *   base(warmup)  0; 1: go on without a baseline; -1: the harness failed
 *                 (the callable wrote the reason into err)
 * Returns 0 (*t filled), -1 (harness error, reason in err) or -2 (the
 * candidate failed, reason in why). */
template <typename Cand, typename Base>
static int time_interleaved(cudaStream_t st, void *flush, size_t flush_bytes, int reps, int wu, bool resample_short,
                            Cand cand, Base base, struct timed *t, char *err, size_t errlen, char *why,
                            size_t whylen)
{
    cudaEvent_t *ev = NULL;
    double *tc = NULL, *tb = NULL;
    int rc = -1, br;
    cudaError_t e;
    const struct clocks none = {0, 0, 0, 0};

    t->ck = none;
    ev = (cudaEvent_t *)calloc((size_t)reps * 4, sizeof *ev);
    tc = (double *)calloc((size_t)reps, sizeof *tc);
    tb = (double *)calloc((size_t)reps, sizeof *tb);
    if (!ev || !tc || !tb) {
        snprintf(err, errlen, "harness: out of host memory");
        goto out;
    }
    for (int i = 0; i < reps * 4; i++)
        if (cudaEventCreate(&ev[i]) != cudaSuccess) {
            snprintf(err, errlen, "harness: cudaEventCreate failed");
            goto out;
        }
    for (int i = 0; i < wu; i++) {
        if (cand()) {
            rc = -2;
            goto out;
        }
        if (t->have_base && (br = base(true)) != 0) {
            if (br < 0)
                goto out;
            t->have_base = false;
        }
    }
    e = cudaStreamSynchronize(st);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "CUDA error in warm-up: %s", cudaGetErrorName(e));
        rc = -2;
        goto out;
    }
    for (int i = 0; i < reps; i++) {
        for (int side = 0; side < 2; side++) {
            bool cand_side = (side == 0) == (i % 2 == 0); /* alternate which goes first */
            cudaEvent_t e0 = ev[i * 4 + (cand_side ? 0 : 2)], e1 = ev[i * 4 + (cand_side ? 1 : 3)];
            if (!cand_side && !t->have_base)
                continue;
            if (cudaMemsetAsync(flush, i & 0xFF, flush_bytes, st) != cudaSuccess ||
                cudaEventRecord(e0, st) != cudaSuccess) {
                snprintf(err, errlen, "harness: flush/event failed");
                goto out;
            }
            if (cand_side) {
                if (cand()) {
                    rc = -2;
                    goto out;
                }
            } else if (base(false) != 0) {
                goto out;
            }
            if (cudaEventRecord(e1, st) != cudaSuccess) {
                snprintf(err, errlen, "harness: cudaEventRecord failed");
                goto out;
            }
        }
        if (i == reps / 2)
            t->ck = nvml_sample(); /* while the queue is running */
    }
    if (resample_short && reps < 2)
        t->ck = nvml_sample();
    e = cudaStreamSynchronize(st);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "CUDA error while timing: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        rc = -2;
        goto out;
    }
    for (int i = 0; i < reps; i++) {
        float a = 0, b = 0;
        if (cudaEventElapsedTime(&a, ev[i * 4], ev[i * 4 + 1]) != cudaSuccess ||
            (t->have_base && cudaEventElapsedTime(&b, ev[i * 4 + 2], ev[i * 4 + 3]) != cudaSuccess)) {
            snprintf(err, errlen, "harness: cudaEventElapsedTime failed");
            goto out;
        }
        tc[i] = a;
        tb[i] = b;
    }
    hc_stats(tc, reps, &t->cand);
    if (t->have_base)
        hc_stats(tb, reps, &t->base);
    rc = 0;
out:
    if (ev)
        for (int i = 0; i < reps * 4; i++)
            if (ev[i])
                cudaEventDestroy(ev[i]);
    free(ev);
    free(tc);
    free(tb);
    return rc;
}

/* The compute ceiling both harnesses compare with: an n x n x n cuBLAS GEMM
 * on three fresh device matrices of `bytes` each. fill(a, b) writes the
 * inputs (random-ish, not zeros: the tensor cores draw less power on zeros;
 * false when it cannot), gemm(h, a, b, c) issues one GEMM. 3 warm-up calls,
 * then the median of 10 timed with events, in TFLOP/s; 0 when anything
 * failed. */
template <typename Fill, typename Gemm> static double cublas_peak_tflops(int n, size_t bytes, Fill fill, Gemm gemm)
{
    void *a = NULL, *b = NULL, *c = NULL;
    cublasHandle_t h = NULL;
    cudaEvent_t e0, e1;
    double t[10], r = 0;
    struct hc_stats st;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess ||
        cudaMalloc(&c, bytes) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS)
        goto out;
    if (!fill(a, b))
        goto out;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (int i = 0; i < 13; i++) {
        float ms = event_ms(e0, e1, [&] { gemm(h, a, b, c); });
        if (i >= 3)
            t[i - 3] = ms;
    }
    hc_stats(t, 10, &st);
    r = 2.0 * n * n * (double)n / st.median / 1e9;
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
out:
    if (h)
        cublasDestroy(h);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return r;
}

/* ---- the shape child's steps, both harnesses' (see the header) ---- */

/* A failing harness-side CUDA call: say where (the call's text) in ch->err
 * and return -1 from the calling function. */
#define HCK(call)                                                                                  \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf(ch->err, sizeof ch->err, "harness: %s failed: %s (%s)", #call,                \
                     cudaGetErrorName(e_), cudaGetErrorString(e_));                                \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

/* Blocks of 256 threads for a grid-stride kernel over n elements: enough to
 * fill the device, at most 8192. */
static int launch_grid(size_t n)
{
    size_t g = (n + 255) / 256;
    return (int)(g > 8192 ? 8192 : g < 1 ? 1 : g);
}

/* Blocks of 256 threads for a grid-stride reduction over n elements (one
 * atomic a block): enough to keep the memory busy, at most 1024. */
static int reduce_grid(size_t n)
{
    size_t g = (n + 255) / 256;
    return (int)(g > 1024 ? 1024 : g < 1 ? 1 : g);
}

/* The normwise relative error ||c - ref|| / ||ref|| of n outputs into *out
 * (NaN when *nonfinite, the count of non-finite outputs, is not 0). 0, or -1
 * (ch->err). */
template <typename Child, typename T, typename R>
static int rel_err_of(Child *ch, const T *c, const R *ref, size_t n, double *out, unsigned long long *nonfinite)
{
    double sums[2];
    HCK(cudaMemsetAsync(ch->b.sums, 0, 2 * sizeof(double), ch->st));
    HCK(cudaMemsetAsync(ch->b.cnt, 0, sizeof(unsigned long long), ch->st));
    rel_err_kernel<T, R><<<reduce_grid(n), 256, 0, ch->st>>>(c, ref, n, ch->b.sums, ch->b.cnt);
    HCK(cudaGetLastError());
    HCK(cudaMemcpyAsync(sums, ch->b.sums, sizeof sums, cudaMemcpyDeviceToHost, ch->st));
    HCK(cudaMemcpyAsync(nonfinite, ch->b.cnt, sizeof *nonfinite, cudaMemcpyDeviceToHost, ch->st));
    HCK(cudaStreamSynchronize(ch->st));
    *out = *nonfinite ? NAN : (sums[1] > 0 ? sqrt(sums[0] / sums[1]) : (sums[0] > 0 ? INFINITY : 0));
    return 0;
}

/* *n = the number of 16-bit words that differ between a and b (bytes each).
 * 0, or -1 (ch->err). */
template <typename Child>
static int count_diff(Child *ch, const void *a, const void *b, size_t bytes, unsigned long long *n)
{
    HCK(cudaMemsetAsync(ch->b.cnt, 0, sizeof(unsigned long long), ch->st));
    diff_u16<<<reduce_grid(bytes / 2), 256, 0, ch->st>>>((const unsigned short *)a, (const unsigned short *)b,
                                                         bytes / 2, ch->b.cnt);
    HCK(cudaGetLastError());
    HCK(cudaMemcpyAsync(n, ch->b.cnt, sizeof *n, cudaMemcpyDeviceToHost, ch->st));
    HCK(cudaStreamSynchronize(ch->st));
    return 0;
}

/* Right after the candidate's call: its stream synchronized. 0, or -2 with
 * the CUDA error it left in why. */
static int stream_fault(cudaStream_t st, char *why, size_t whylen)
{
    cudaError_t e = cudaStreamSynchronize(st);
    if (e != cudaSuccess) {
        snprintf(why, whylen, "CUDA error after the candidate: %s (%s)", cudaGetErrorName(e), cudaGetErrorString(e));
        return -2;
    }
    return 0;
}

/* The output's snapshot copy (out -> snap, bytes) has been queued on the
 * stream after the candidate's call: the stream and then the whole device
 * synchronized, the output compared with the snapshot (a difference is work
 * the candidate left running outside the stream), then each of the n inputs
 * now[i] with its saved copy was[i] (bytes[i]; a difference: the candidate
 * wrote its input names[i]). 0: all fine; 1: the verdict is a failure (why,
 * *err_out = NaN); -1: the harness failed (ch->err); -2: the candidate
 * faulted (why). */
template <typename Child>
static int after_snapshot(Child *ch, const void *out, const void *snap, size_t out_bytes, int n,
                          const void *const *now, const void *const *was, const size_t *bytes,
                          const char *const *names, double *err_out, char *why, size_t whylen)
{
    unsigned long long diff = 0;
    cudaError_t e;
    HCK(cudaStreamSynchronize(ch->st));
    e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
        snprintf(why, whylen, "CUDA error after the candidate (device sync): %s (%s)", cudaGetErrorName(e),
                 cudaGetErrorString(e));
        return -2;
    }
    if (count_diff(ch, out, snap, out_bytes, &diff))
        return -1;
    if (diff) {
        snprintf(why, whylen, "output changed after the stream was synchronized (%llu elements): work left running "
                 "outside the given stream", diff);
        *err_out = NAN;
        return 1;
    }
    for (int i = 0; i < n; i++) {
        if (count_diff(ch, now[i], was[i], bytes[i], &diff))
            return -1;
        if (diff) {
            snprintf(why, whylen, "candidate wrote its input %s (%llu elements changed)", names[i], diff);
            *err_out = NAN;
            return 1;
        }
    }
    return 0;
}

/* The output's verdict from its error err against tolerance tol, nonfinite
 * of its n elements not finite: true, or false with the reason in why. */
static bool output_ok(double err, unsigned long long nonfinite, size_t n, double tol, char *why, size_t whylen)
{
    if (nonfinite) {
        snprintf(why, whylen, "%llu of %zu outputs are NaN/Inf (unwritten or overflowed)", nonfinite, n);
        return false;
    }
    if (!(err <= tol)) {
        snprintf(why, whylen, "relative error %.3g above tolerance %.3g", err, tol);
        return false;
    }
    return true;
}

/* cudaFree of each non-NULL of the n device pointers. */
static void free_device(void *const *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ps[i])
            cudaFree(ps[i]);
}

/* A check or the timing ended early (r: -1, the harness failed, reason err;
 * -2, the candidate faulted, reason why): rec(reason) writes the failing
 * Correctness record; returns the child's exit code. */
template <typename Rec> static int early_exit(int r, const char *err, const char *why, Rec rec)
{
    rec(r == -1 ? err : why);
    return r == -1 ? HC_CHILD_HARNESS_ERR : HC_CHILD_OK;
}

/* A Performance record's clock fields (sm_clock_mhz .. l2_flushed) from what
 * time_interleaved() measured (the L2 is flushed before every call). */
template <typename Perf> static void put_clocks(Perf *p, const struct timed *t)
{
    p->sm_clock_mhz = t->ck.sm_mhz;
    p->mem_clock_mhz = t->ck.mem_mhz;
    p->power_w = t->ck.power_w;
    p->throttle_mask = t->ck.reasons;
    p->l2_flushed = true;
}

/* The roofline analysis's input: the candidate's kernel (ki: a family's
 * kernel-info record, spak_gemm_kinfo or spak_fmha_kinfo), flops and bytes
 * of the shape, its median time, the device's ceilings. */
template <typename KInfo>
static void perf_in_of(struct hc_perf_in *in, const KInfo *ki, const struct hc_device *dev, double flops,
                       double bytes, double time_ms)
{
    memset(in, 0, sizeof *in);
    in->flops = flops;
    in->bytes = bytes;
    in->time_ms = time_ms;
    in->peak_tflops = dev->peak_tflops;
    in->peak_gbps = dev->copy_gbps;
    in->registers = ki->registers;
    in->smem_bytes = ki->smem_bytes;
    in->local_bytes = ki->local_bytes;
    in->block_threads = ki->block_threads;
    in->blocks_per_sm = ki->blocks_per_sm;
    in->grid_blocks = ki->grid_blocks;
    in->sm_count = dev->sm_count;
    in->max_threads_per_sm = dev->max_threads_per_sm;
}

/* What main does with its options parser's answer rc (message err): 1 is
 * --help (the usage on stdout, exit 0), another non-zero an error (on
 * stderr, exit 2); for 0 it ignores SIGPIPE (the parent may go first) and
 * returns -1: go on. */
static int args_exit(int rc, const char *err)
{
    if (rc == 1) {
        printf("%s\n", err);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", SPAK_HARNESS_PROG, err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    return -1;
}

/* The probe child: device present? ceilings (from the cache or measured).
 * Writes one JSON line to fd. */
static int probe(int fd, int dtype, const char *dtype_name, double (*measure_peak)(int dtype),
                 const char *ceilings_cache)
{
    int n = 0, v;
    cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceCount(&n);
    char pci[64] = "";
    json_t *cache = NULL, *dev = NULL, *peaks;
    const char *dtn = dtype_name;
    double copy = 0, peak = 0;
    char *line;

    hc_phases_begin(&hd_cost);
    hd_top = "runtime";
    if (e != cudaSuccess || n == 0) {
        fprintf(stderr, "%s: no CUDA device (cudaGetDeviceCount: %s)\n", SPAK_HARNESS_PROG,
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return HC_CHILD_NO_DEVICE;
    }
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess)
        return HC_CHILD_HARNESS_ERR;
    cudaDeviceGetPCIBusId(pci, sizeof pci, 0);
    if (ceilings_cache) {
        json_error_t je;
        cache = json_load_file(ceilings_cache, 0, &je);
    }
    if (cache && json_is_object(cache))
        dev = json_object_get(cache, prop.name);
    if (!cache || !json_is_object(cache)) {
        json_decref(cache);
        cache = json_object();
    }
    if (dev && json_is_object(dev)) {
        copy = json_number_value(json_object_get(dev, "copy_gbps"));
        peaks = json_object_get(dev, "peak_tflops");
        if (json_is_object(peaks))
            peak = json_number_value(json_object_get(peaks, dtn));
    } else {
        dev = json_object();
        json_object_set_new(cache, prop.name, dev);
    }
    const bool measured = copy <= 0 || peak <= 0;
    hd_phase("context"); /* the properties, the cache read: no context is made for them */
    if (measured)
        cudaFree(0); /* the context, made here so copy_gbps and peak_tflops count only their work */
    if (copy <= 0) {
        hd_phase("copy_gbps");
        copy = measure_copy_gbps();
        json_object_set_new(dev, "copy_gbps", json_real(copy));
    }
    if (peak <= 0) {
        hd_phase("peak_tflops"); /* the library's handle and its GEMMs */
        peak = measure_peak(dtype);
        peaks = json_object_get(dev, "peak_tflops");
        if (!json_is_object(peaks)) {
            peaks = json_object();
            json_object_set_new(dev, "peak_tflops", peaks);
        }
        json_object_set_new(peaks, dtn, json_real(peak));
        json_object_set_new(dev, "measured_with", json_string("D2D cudaMemcpyAsync 1 GiB (read+write); cuBLAS GemmEx 8192^3 median of 10"));
    }
    hd_phase("cache_write");
    if (ceilings_cache) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", ceilings_cache, (int)getpid());
        if (json_dump_file(cache, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) == 0)
            rename(tmp, ceilings_cache);
        else
            fprintf(stderr, "%s: could not write %s (continuing)\n", SPAK_HARNESS_PROG, ceilings_cache);
    }
    cudaDeviceGetAttribute(&v, cudaDevAttrMaxThreadsPerMultiProcessor, 0);
    hd_phase("end");
    json_t *ph = json_object();
    for (int i = 0; i < hd_cost.n; i++)
        json_object_set_new(ph, hd_cost.name[i], json_real(hd_cost.s[i]));
    json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:i, s:i, s:I, s:i, s:o}", "device", prop.name, "pci", pci,
                          "copy_gbps", copy, "peak_tflops", peak, "sm_count", prop.multiProcessorCount,
                          "max_threads_per_sm", v, "l2_bytes", (json_int_t)prop.l2CacheSize, "cc",
                          prop.major * 10 + prop.minor, "phases", ph);
    json_object_set_new(o, "ceilings_measured", json_boolean(measured));
    line = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    json_decref(cache);
    if (!line)
        return HC_CHILD_HARNESS_ERR;
    if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
        free(line);
        return HC_CHILD_HARNESS_ERR;
    }
    free(line);
    return HC_CHILD_OK;
}

/* What the probe child is given: probe()'s arguments. */
struct probe_args {
    int dtype;
    const char *dtype_name;
    double (*measure_peak)(int dtype);
    const char *ceilings_cache;
};

static int probe_child(int fd, const void *arg)
{
    const struct probe_args *a = (const struct probe_args *)arg;
    return probe(fd, a->dtype, a->dtype_name, a->measure_peak, a->ceilings_cache);
}

/* The parent's first step: probe() with *pa run in a child process, its
 * line parsed into *dev and summed up on stderr (the compute ceiling named
 * by peak_name). Returns 0, or 2 (the harness's exit status) with the reason
 * on stderr; a child that found no device said so itself. */
static int probe_device(const struct probe_args *pa, int timeout_s, const char *peak_name, struct hc_device *dev)
{
    char err[1024];
    struct hc_child pr;
    int rc;
    hd_phase("probe");
    if (hc_run_child(probe_child, pa, timeout_s, false, &pr) != 0) {
        fprintf(stderr, "%s: fork/pipe failed: %s\n", SPAK_HARNESS_PROG, strerror(errno));
        return 2;
    }
    if (pr.timed_out || !WIFEXITED(pr.status) || WEXITSTATUS(pr.status) != 0 || !pr.first_line) {
        if (!(WIFEXITED(pr.status) && WEXITSTATUS(pr.status) == HC_CHILD_NO_DEVICE))
            fprintf(stderr, "%s: device probe failed\n", SPAK_HARNESS_PROG);
        free(pr.first_line);
        return 2;
    }
    rc = hc_parse_probe(pr.first_line, dev, err, sizeof err);
    json_t *line = json_loads(pr.first_line, 0, NULL), *v;
    const char *k;
    json_object_foreach(json_object_get(line, "phases"), k, v) /* the child's, as parts of "probe" */
        hd_part(k, json_number_value(v));
    hd_ceilings_measured = json_is_true(json_object_get(line, "ceilings_measured"));
    json_decref(line);
    free(pr.first_line);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", SPAK_HARNESS_PROG, err);
        return 2;
    }
    fprintf(stderr, "%s: %s sm_%d, %d SMs, copy %.0f GB/s, cuBLAS %s peak %.1f TFLOP/s\n", SPAK_HARNESS_PROG,
            dev->name, dev->cc, dev->sm_count, dev->copy_gbps, peak_name, dev->peak_tflops);
    return 0;
}

/* One shape's child: shape_fn(arg) run in a child process, into *r. Returns
 * -1 when no child could be started (reason on stderr), 1 when the child left
 * no verdict (why says what happened; the caller writes the failing
 * Correctness record), 0 otherwise. Sets *harness_failed when the child
 * reported an error of the harness itself. */
static int run_shape_child(int (*shape_fn)(int fd, const void *arg), const void *arg, int timeout_s,
                           bool check_only, struct hc_child *r, int *harness_failed, char *why, size_t whylen)
{
    if (hc_run_child(shape_fn, arg, timeout_s, true, r) != 0) {
        fprintf(stderr, "%s: fork/pipe failed: %s\n", SPAK_HARNESS_PROG, strerror(errno));
        return -1;
    }
    free(r->first_line);
    r->first_line = NULL;
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) == HC_CHILD_HARNESS_ERR)
        *harness_failed = 1;
    if (!hc_child_no_verdict(r, check_only))
        return 0;
    hc_describe_child(r, timeout_s, why, whylen);
    return 1;
}

/* The parent's loop over the shapes: one child each (shape_fn(fd,
 * &shapes[i]), run_shape_child), then after(&shapes[i], rc, &child, why)
 * with its answer rc (0, or 1: the child left no verdict, why says what
 * happened). Once a child stopped the candidate early (a Performance record
 * with "verdict":"stopped": --stop-slower-than), the shapes after it are not
 * run: after(&shapes[i], 2, NULL, why) for each (the family writes their
 * "not checked" records, js_emit_not_checked). Once a child was killed at
 * its limit (a hang), the shapes after it are not run either: after(&shapes[i],
 * 1, NULL, why), why naming the shape that hung, a failure like the hang
 * itself (hc_after_child decides both; the GPU adversary's g_persistent took
 * 3 x 120 s on 2026-12-07, one limit a shape). Returns the harness's exit status: 1 when a child could not be
 * started, else 1 when some child reported a failure of the harness itself,
 * else 0. */
static int (*hd_shape_fn)(int fd, const void *arg);
static int hd_shape_i;
static char hd_shape_name[128]; /* the family's run_shape names its shape (hd_name_shape) */
static bool hd_shape_heldout;
static json_t *hd_shape_extra; /* more fields of the shape's Cost record (js_run: the rounds) */

static void hd_name_shape(const char *name, bool heldout)
{
    snprintf(hd_shape_name, sizeof hd_shape_name, "%s", name);
    hd_shape_heldout = heldout;
}

/* A shape's child: the family's shape_fn, its phases from the child's start
 * ("context" first: the family's run_shape moves on with hd_phase), then
 * its Cost record. */
static int hd_shape_child(int fd, const void *arg)
{
    hc_phases_begin(&hd_cost);
    hd_top = "context";
    hd_shape_name[0] = 0;
    int rc = hd_shape_fn(fd, arg);
    hd_phase("end");
    json_t *x = json_pack("{s:i,s:b}", "shape_index", hd_shape_i, "heldout", hd_shape_heldout);
    if (x && hd_shape_extra)
        json_object_update(x, hd_shape_extra);
    json_decref(hd_shape_extra);
    hd_shape_extra = NULL;
    emit(hc_record_cost(&hd_cost, "shape", hd_family, hd_shape_name[0] ? hd_shape_name : NULL, x));
    return rc;
}

template <typename Shape, typename After>
static int run_shapes(int (*shape_fn)(int fd, const void *arg), const Shape *shapes, int n, int timeout_s,
                      bool check_only, After after)
{
    int harness_failed = 0;
    int rest = 0;        /* hc_after_child: the shapes left are not run (2: stopped early, 1: a hang) */
    char rest_why[256] = "";
    json_t *walls = json_array();
    hd_shape_fn = shape_fn;
    for (int i = 0; i < n; i++) {
        struct hc_child r;
        char why[256];
        if (rest) {
            after(&shapes[i], rest, (const struct hc_child *)NULL, rest_why);
            continue;
        }
        hd_phase("shapes");
        hd_shape_i = i;
        double t0 = hc_now_s();
        int rc = run_shape_child(hd_shape_child, &shapes[i], timeout_s, check_only, &r, &harness_failed, why,
                                 sizeof why);
        json_array_append_new(walls, json_real(hc_now_s() - t0)); /* fork to reaped: the child's exit too */
        if (rc < 0) {
            json_decref(walls);
            return 1;
        }
        hd_phase("after_shape"); /* the ncu pass (--ncu), a failed child's records */
        after(&shapes[i], rc, &r, why);
        rest = hc_after_child(&r, rc, i, n, timeout_s, rest_why, sizeof rest_why);
    }
    hd_phase("end");
    emit(hc_record_cost(&hd_cost, "run", hd_family, NULL, json_pack("{s:o,s:b}", "shape_wall_s", walls, "ceilings_measured", hd_ceilings_measured)));
    return harness_failed;
}

/* The candidate at path opened, its entry point `entry` (into *fn) and its
 * info function info_sym looked up and called: the info, or NULL with the
 * reason in why: the dlopen error, or `missing` when the entry point or the
 * info is missing or the info's abi_version is not abi. *lib is the handle
 * (NULL when dlopen failed; the caller keeps it open as long as it uses the
 * info, which the candidate owns). */
template <typename Info>
static const Info *load_candidate(const char *path, const char *entry, const char *info_sym, int abi,
                                  const char *missing, void **lib, void **fn, char *why, size_t whylen)
{
    const Info *(*fi)(void), *info;
    *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!*lib) {
        snprintf(why, whylen, "candidate: dlopen failed: %s", dlerror());
        return NULL;
    }
    *fn = dlsym(*lib, entry);
    *(void **)&fi = dlsym(*lib, info_sym);
    info = fi ? fi() : NULL;
    if (!*fn || !info || info->abi_version != abi) {
        snprintf(why, whylen, "%s", missing);
        return NULL;
    }
    return info;
}

#endif
