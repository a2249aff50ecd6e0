/*
 * harness_device.cuh - the CUDA plumbing both trusted harnesses share
 * (spak-harness-cuda, spak-harness-cuda-fmha): helpers of their own kernels
 * (input generator, input-write check), trace records on stdout, NVML clocks
 * loaded at run time, the copy-bandwidth and cuBLAS ceilings, the probe child
 * (device present? ceilings from the cache or measured), the interleaved
 * candidate/baseline timing, and the parent's side of the probe and of each
 * shape's child. The GPU-free logic is in harness_core.c. Define
 * SPAK_HARNESS_PROG (the program's name for messages) before including it.
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

template <typename T> __device__ __forceinline__ T from_float(float f);
template <> __device__ __forceinline__ float from_float<float>(float f) { return f; }
template <> __device__ __forceinline__ __half from_float<__half>(float f) { return __float2half_rn(f); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float f) { return __float2bfloat16_rn(f); }

/* *cnt += the number of 16-bit words that differ between a and b (an input
 * the candidate wrote, compared with its saved copy) */
__global__ void diff_u16(const unsigned short *a, const unsigned short *b, size_t n, unsigned long long *cnt)
{
    unsigned long long c = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        c += a[i] != b[i];
    for (int o = 16; o > 0; o >>= 1)
        c += __shfl_down_sync(0xffffffffu, c, o);
    if ((threadIdx.x & 31) == 0 && c)
        atomicAdd(cnt, c);
}

/* One trace record (malloc'd JSON, freed here) on stdout, flushed. */
static void emit(char *rec)
{
    if (!rec) {
        fprintf(stderr, "%s: could not build a record (out of memory)\n", SPAK_HARNESS_PROG);
        return;
    }
    printf("%s%s\n", HC_TRACE_PREFIX, rec);
    fflush(stdout);
    free(rec);
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
        float ms = 0;
        cudaEventRecord(e0);
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
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
        float ms = 0;
        cudaEventRecord(e0);
        gemm(h, a, b, c);
        cudaEventRecord(e1);
        cudaEventSynchronize(e1);
        cudaEventElapsedTime(&ms, e0, e1);
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
    if (copy <= 0) {
        copy = measure_copy_gbps();
        json_object_set_new(dev, "copy_gbps", json_real(copy));
    }
    if (peak <= 0) {
        peak = measure_peak(dtype);
        peaks = json_object_get(dev, "peak_tflops");
        if (!json_is_object(peaks)) {
            peaks = json_object();
            json_object_set_new(dev, "peak_tflops", peaks);
        }
        json_object_set_new(peaks, dtn, json_real(peak));
        json_object_set_new(dev, "measured_with", json_string("D2D cudaMemcpyAsync 1 GiB (read+write); cuBLAS GemmEx 8192^3 median of 10"));
    }
    if (ceilings_cache) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", ceilings_cache, (int)getpid());
        if (json_dump_file(cache, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) == 0)
            rename(tmp, ceilings_cache);
        else
            fprintf(stderr, "%s: could not write %s (continuing)\n", SPAK_HARNESS_PROG, ceilings_cache);
    }
    cudaDeviceGetAttribute(&v, cudaDevAttrMaxThreadsPerMultiProcessor, 0);
    json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:i, s:i, s:I, s:i}", "device", prop.name, "pci", pci, "copy_gbps",
                          copy, "peak_tflops", peak, "sm_count", prop.multiProcessorCount, "max_threads_per_sm", v,
                          "l2_bytes", (json_int_t)prop.l2CacheSize, "cc", prop.major * 10 + prop.minor);
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

/* The parent's first step: probe_fn (a child that calls probe()) run in a
 * child process, its line parsed into *dev and summed up on stderr (the
 * compute ceiling named by peak_name). Returns 0, or 2 (the harness's exit
 * status) with the reason on stderr; a child that found no device said so
 * itself. */
static int probe_device(int (*probe_fn)(int fd, const void *arg), int timeout_s, const char *peak_name,
                        struct hc_device *dev)
{
    char err[1024];
    struct hc_child pr;
    int rc;
    if (hc_run_child(probe_fn, NULL, timeout_s, false, &pr) != 0) {
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

#endif
