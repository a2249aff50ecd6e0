/*
 * harness.cu - spak-harness-cuda, the trusted GEMM harness (issue 6).
 *
 *   spak-harness-cuda --family gemm --candidate PATH.so --seed N
 *       [--dtype bf16|fp16|fp32] [--shapes MxNxK,...] [--heldout MxNxK,...]
 *       [--reps 30] [--warmup 5] [--check-only] [--ceilings-cache PATH] [--timeout 300] [--ncu]
 *
 * Output: one line per record on stdout, "__SPAK_TRACE__ " + a JSON object:
 * Correctness (every shape), then Performance and Analysis (shapes that
 * passed, unless --check-only). Diagnostics go to stderr.
 *
 * Process model (why): a CUDA fault (illegal address, sticky error) poisons
 * the whole context of the process, and a hung kernel never returns. So the
 * parent never touches CUDA: it forks one child to probe the device and
 * measure the ceilings, then one child per shape, which dlopen()s the
 * candidate and does all GPU work, writing records into a pipe the parent
 * relays. A child that dies (signal, sticky error, exit) or outlives
 * --timeout (killed) gets a failed Correctness record written by the parent,
 * and the run goes on with the next shape.
 *
 * --ncu: after a shape passed and was timed, the parent (which never touches
 * CUDA) fork/execs ncu (PATH, else /usr/local/cuda/bin/ncu) on this binary in
 * the internal --profile-one mode: the candidate launched once on inputs
 * generated on the host (so no harness kernel runs in that process and no
 * kernel filter is needed; --launch-count caps it), with a small fixed metric
 * set and --csv. The CSV is parsed (harness_core.c) into one record
 * {"type":"Counters","available":true,"metrics":{...}}; when ncu is missing or
 * yields no metrics (e.g. ERR_NVGPUCTRPERM) the record says
 * "available":false and why. Counters never change a verdict.
 *
 * Exit status: 0 when the harness did its job (a wrong or crashing candidate
 * is reported in the records); 2 for usage errors or no CUDA device ("no CUDA
 * device" on stderr); 1 when a harness step itself failed for some shape
 * (e.g. out of memory before the candidate ran) - also recorded.
 *
 * Per shape, in the child:
 *  1. declared constraints (spak_gemm_info) checked: a shape or dtype outside
 *     them gets {"passed":false,"skipped":true}, never a pass.
 *  2. two checks with independent inputs in the same buffers (seed-derived,
 *     normal(0,1) from a counter-based hash + Box-Muller, generated on the
 *     device): a result cached from an earlier call fails the second. Output
 *     poisoned with NaN before each call. Reference: cuBLAS DGEMM on the
 *     exact fp64 images of the inputs. Normwise relative error against the
 *     per-precision tolerance (harness_core.c). Inputs compared bitwise
 *     before/after. The output is snapshotted after synchronizing only the
 *     harness's stream and again after cudaDeviceSynchronize: a difference
 *     means the candidate left work running elsewhere.
 *  3. timing: warm-up, then reps rounds of {flush L2, candidate, flush L2,
 *     cuBLAS} (order alternating), CUDA events around each call; medians,
 *     p20/p80; NVML clocks/power/throttle sampled while the queue runs.
 */
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "../common/harness_core.h"

#define SPAK_HARNESS_PROG "spak-harness-cuda"
#include "../common/harness_device.cuh"

/* ------------------------------------------------------------------------ */
/* exit codes of a child                                                     */

static struct hc_args g_args;

static struct hc_device g_ceil; /* what the probe child measured */

/* ------------------------------------------------------------------------ */
/* device kernels of the harness                                              */

/* x[i] ~ N(0,1) rounded to T, and its exact fp64 image xd[i]. Counter based:
 * element i depends only on (seed, i), so any launch shape gives the same data. */
template <typename T>
__global__ void gen_normal(T *x, double *xd, size_t n, unsigned long long seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long r = splitmix64(seed ^ splitmix64(i));
        float u1 = ((r >> 40) + 1) * (1.0f / 16777217.0f);   /* (0,1] : log never sees 0 */
        float u2 = ((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
        float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
        if (z == 0.0f)
            z = 1.0f; /* never zeros */
        T t = from_float<T>(z);
        x[i] = t;
        xd[i] = to_double<T>(t);
    }
}

/* ------------------------------------------------------------------------ */
/* the child's state for one shape                                            */

struct cand {
    void *lib;
    const struct spak_gemm_info *info;
    int (*gemm)(int, int, int, int, const void *, const void *, void *, cudaStream_t);
    int (*kinfo)(int, int, int, int, struct spak_gemm_kinfo *);
};

struct bufs {
    void *A, *B, *C, *A0, *B0, *Csnap, *Cb;
    double *Ad, *Bd, *Cd;
    double *sums;
    unsigned long long *cnt;
    void *flush;
    size_t flush_bytes;
};

struct child {
    const struct hc_shape *s;
    struct cand c;
    struct bufs b;
    cudaStream_t st;
    cublasHandle_t h;
    char err[512];
};

/* A failing cuBLAS call: say where in ch->err, return -1 (HCK: harness_device.cuh). */
#define BCK(call)                                                                                   \
    do {                                                                                            \
        cublasStatus_t e_ = (call);                                                                 \
        if (e_ != CUBLAS_STATUS_SUCCESS) {                                                          \
            snprintf(ch->err, sizeof ch->err, "harness: %s failed: cublas status %d", #call, (int)e_); \
            return -1;                                                                              \
        }                                                                                           \
    } while (0)

static cudaDataType_t cuda_type(int dt)
{
    return dt == SPAK_DT_F32 ? CUDA_R_32F : dt == SPAK_DT_F16 ? CUDA_R_16F : CUDA_R_16BF;
}

/* cuBLAS computing the ABI's function (see abi.h) in the candidate's dtype. */
static cublasStatus_t cublas_gemm(cublasHandle_t h, int M, int N, int K, int dt, const void *A,
                                  const void *B, void *C)
{
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = cuda_type(dt);
    return cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, t, K, A, t, K, &zero, C, t, N,
                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
}

static int gen_inputs(struct child *ch, int dt, unsigned long long seed)
{
    const struct hc_shape *s = ch->s;
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k;
    unsigned long long sa = seed * 0x100000001B3ull ^ 0xA;
    unsigned long long sb = seed * 0x100000001B3ull ^ 0xB;
    switch (dt) {
    case SPAK_DT_F32:
        gen_normal<float><<<launch_grid(na), 256, 0, ch->st>>>((float *)ch->b.A, ch->b.Ad, na, sa);
        gen_normal<float><<<launch_grid(nb), 256, 0, ch->st>>>((float *)ch->b.B, ch->b.Bd, nb, sb);
        break;
    case SPAK_DT_F16:
        gen_normal<__half><<<launch_grid(na), 256, 0, ch->st>>>((__half *)ch->b.A, ch->b.Ad, na, sa);
        gen_normal<__half><<<launch_grid(nb), 256, 0, ch->st>>>((__half *)ch->b.B, ch->b.Bd, nb, sb);
        break;
    default:
        gen_normal<__nv_bfloat16><<<launch_grid(na), 256, 0, ch->st>>>((__nv_bfloat16 *)ch->b.A, ch->b.Ad, na, sa);
        gen_normal<__nv_bfloat16><<<launch_grid(nb), 256, 0, ch->st>>>((__nv_bfloat16 *)ch->b.B, ch->b.Bd, nb, sb);
        break;
    }
    HCK(cudaGetLastError());
    return 0;
}

static int rel_err(struct child *ch, int dt, const void *C, double *out, unsigned long long *nonfinite)
{
    size_t nc = (size_t)ch->s->m * ch->s->n;
    if (dt == SPAK_DT_F32)
        return rel_err_of(ch, (const float *)C, ch->b.Cd, nc, out, nonfinite);
    if (dt == SPAK_DT_F16)
        return rel_err_of(ch, (const __half *)C, ch->b.Cd, nc, out, nonfinite);
    return rel_err_of(ch, (const __nv_bfloat16 *)C, ch->b.Cd, nc, out, nonfinite);
}

/* The candidate's call: its return value and any error it leaves behind. */
static int cand_call(struct child *ch, int dt, void *C, char *why, size_t whylen)
{
    const struct hc_shape *s = ch->s;
    int rc = ch->c.gemm((int)s->m, (int)s->n, (int)s->k, dt, ch->b.A, ch->b.B, C, ch->st);
    if (rc != 0) {
        snprintf(why, whylen, "candidate returned %d (%s)", rc, cudaGetErrorName((cudaError_t)rc));
        return -1;
    }
    return 0;
}

/* One correctness check with inputs from `seed`. 0 = ran (verdict in *ok,
 * *why), -1 = harness failure (ch->err), -2 = candidate fault (why). */
static int check_once(struct child *ch, int dt, unsigned long long seed, double *err_out, double *berr_out,
                      bool *ok, char *why, size_t whylen)
{
    const struct hc_shape *s = ch->s;
    size_t es = hc_dtype_size(dt);
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
    unsigned long long nf = 0;
    const double one = 1.0, zero = 0.0;
    int r;

    *ok = false;
    if (gen_inputs(ch, dt, seed))
        return -1;
    HCK(cudaMemcpyAsync(ch->b.A0, ch->b.A, na * es, cudaMemcpyDeviceToDevice, ch->st));
    HCK(cudaMemcpyAsync(ch->b.B0, ch->b.B, nb * es, cudaMemcpyDeviceToDevice, ch->st));
    /* fp64 reference, same function as abi.h: C^T = B^T A^T in column-major terms */
    BCK(cublasDgemm(ch->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)s->n, (int)s->m, (int)s->k, &one, ch->b.Bd,
                    (int)s->k, ch->b.Ad, (int)s->k, &zero, ch->b.Cd, (int)s->n));
    /* cuBLAS in the same dtype, for context (its error is reported beside ours) */
    BCK(cublas_gemm(ch->h, (int)s->m, (int)s->n, (int)s->k, dt, ch->b.A, ch->b.B, ch->b.Cb));
    HCK(cudaMemsetAsync(ch->b.C, 0xFF, nc * es, ch->st)); /* all-ones bits: NaN in fp32/fp16/bf16 */
    HCK(cudaStreamSynchronize(ch->st));
    if (rel_err(ch, dt, ch->b.Cb, berr_out, &nf))
        return -1;

    if (cand_call(ch, dt, ch->b.C, why, whylen) || stream_fault(ch->st, why, whylen))
        return -2;
    /* snapshot after our stream only, then after the whole device */
    HCK(cudaMemcpyAsync(ch->b.Csnap, ch->b.C, nc * es, cudaMemcpyDeviceToDevice, ch->st));
    {
        const void *now[2] = {ch->b.A, ch->b.B}, *was[2] = {ch->b.A0, ch->b.B0};
        const size_t bytes[2] = {na * es, nb * es};
        const char *names[2] = {"A", "B"};
        r = after_snapshot(ch, ch->b.C, ch->b.Csnap, nc * es, 2, now, was, bytes, names, err_out, why, whylen);
        if (r != 0)
            return r > 0 ? 0 : r;
    }
    if (rel_err(ch, dt, ch->b.C, err_out, &nf))
        return -1;
    if (!output_ok(*err_out, nf, nc, hc_tolerance(dt), why, whylen))
        return 0;
    *ok = true;
    snprintf(why, whylen, "ok");
    return 0;
}

static void free_bufs(struct bufs *b)
{
    void *ps[] = {b->A, b->B, b->C, b->A0, b->B0, b->Csnap, b->Cb, b->Ad, b->Bd, b->Cd, b->sums, b->cnt, b->flush};
    free_device(ps, sizeof ps / sizeof ps[0]);
    memset(b, 0, sizeof *b);
}

static int timing(struct child *ch, int dt, struct hc_performance *p, char *why, size_t whylen)
{
    const struct hc_shape *s = ch->s;
    struct timed t;
    int rc;

    t.have_base = true;
    rc = time_interleaved(
        ch->st, ch->b.flush, ch->b.flush_bytes, g_args.reps, g_args.warmup, true,
        [&] { return cand_call(ch, dt, ch->b.C, why, whylen); },
        [&](bool warmup) {
            if (cublas_gemm(ch->h, (int)s->m, (int)s->n, (int)s->k, dt, ch->b.A, ch->b.B, ch->b.Cb) ==
                CUBLAS_STATUS_SUCCESS)
                return 0;
            snprintf(ch->err, sizeof ch->err, "harness: cuBLAS failed %s", warmup ? "in warm-up" : "while timing");
            return -1;
        },
        &t, ch->err, sizeof ch->err, why, whylen);
    if (rc != 0)
        return rc;
    p->cand = t.cand;
    p->base = t.base;
    p->reps = g_args.reps;
    put_clocks(p, &t);
    return 0;
}

static void correctness_rec(const struct hc_shape *s, int dt, bool passed, bool skipped, double err, double berr,
                            const char *reason)
{
    struct hc_correctness c;
    memset(&c, 0, sizeof c);
    c.shape = s;
    c.dtype = dt;
    c.passed = passed;
    c.skipped = skipped;
    c.rel_err = err;
    c.tolerance = hc_tolerance(dt);
    c.baseline_rel_err = berr;
    c.seed = g_args.seed;
    c.reason = reason;
    c.candidate = g_args.candidate;
    emit(hc_record_correctness(&c));
}

static int alloc_all(struct child *ch, int dt)
{
    const struct hc_shape *s = ch->s;
    size_t es = hc_dtype_size(dt);
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
    struct bufs *b = &ch->b;
    HCK(cudaMalloc(&b->A, na * es));
    HCK(cudaMalloc(&b->B, nb * es));
    HCK(cudaMalloc(&b->C, nc * es));
    HCK(cudaMalloc(&b->A0, na * es));
    HCK(cudaMalloc(&b->B0, nb * es));
    HCK(cudaMalloc(&b->Csnap, nc * es));
    HCK(cudaMalloc(&b->Cb, nc * es));
    HCK(cudaMalloc(&b->Ad, na * sizeof(double)));
    HCK(cudaMalloc(&b->Bd, nb * sizeof(double)));
    HCK(cudaMalloc(&b->Cd, nc * sizeof(double)));
    HCK(cudaMalloc(&b->sums, 2 * sizeof(double)));
    HCK(cudaMalloc(&b->cnt, sizeof(unsigned long long)));
    b->flush_bytes = (size_t)(g_ceil.l2_bytes > 0 ? g_ceil.l2_bytes : 50 << 20) * 2;
    HCK(cudaMalloc(&b->flush, b->flush_bytes));
    return 0;
}

/* The shape child. Returns the process exit code. */
static int run_shape(const struct hc_shape *s)
{
    struct child chs, *ch = &chs;
    int dt = g_args.dtype;
    const struct spak_gemm_info *info;
    char why[512] = "", shape[64];
    double e1 = NAN, e2 = NAN, b1 = NAN, b2 = NAN;
    bool ok1 = false, ok2 = false;
    int r;
    /* the failing record of a check or the timing that ended early (early_exit) */
    auto failed = [&](const char *reason) { correctness_rec(s, dt, false, false, NAN, NAN, reason); };

    memset(ch, 0, sizeof *ch);
    ch->s = s;
    hc_shape_str(s, shape, sizeof shape);
    info = load_candidate<struct spak_gemm_info>(g_args.candidate, "spak_gemm", "spak_gemm_info", SPAK_GEMM_ABI_VERSION,
                                                 "candidate: missing spak_gemm/spak_gemm_info or wrong abi_version",
                                                 &ch->c.lib, (void **)&ch->c.gemm, why, sizeof why);
    if (!info) {
        correctness_rec(s, dt, false, false, NAN, NAN, why);
        return HC_CHILD_OK;
    }
    *(void **)&ch->c.kinfo = dlsym(ch->c.lib, "spak_gemm_kernel_info");
    if (!(info->dtypes & SPAK_DT_BIT(dt))) {
        snprintf(why, sizeof why, "constraint: candidate does not declare dtype %s", hc_dtype_name(dt));
        correctness_rec(s, dt, false, true, NAN, NAN, why);
        return HC_CHILD_OK;
    }
    if ((info->m_multiple > 1 && s->m % info->m_multiple) || (info->n_multiple > 1 && s->n % info->n_multiple) ||
        (info->k_multiple > 1 && s->k % info->k_multiple)) {
        snprintf(why, sizeof why, "constraint: candidate declares M%%%d==0, N%%%d==0, K%%%d==0", info->m_multiple,
                 info->n_multiple, info->k_multiple);
        correctness_rec(s, dt, false, true, NAN, NAN, why);
        return HC_CHILD_OK;
    }
    if (info->min_sm > g_ceil.cc) {
        snprintf(why, sizeof why, "constraint: candidate needs sm_%d, device is sm_%d", info->min_sm, g_ceil.cc);
        correctness_rec(s, dt, false, true, NAN, NAN, why);
        return HC_CHILD_OK;
    }

    if (cudaSetDevice(0) != cudaSuccess || cudaStreamCreateWithFlags(&ch->st, cudaStreamNonBlocking) != cudaSuccess ||
        cublasCreate(&ch->h) != CUBLAS_STATUS_SUCCESS || cublasSetStream(ch->h, ch->st) != CUBLAS_STATUS_SUCCESS ||
        cublasSetMathMode(ch->h, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
        correctness_rec(s, dt, false, false, NAN, NAN, "harness: CUDA/cuBLAS setup failed");
        return HC_CHILD_HARNESS_ERR;
    }
    nvml_open(0);
    if (alloc_all(ch, dt)) {
        correctness_rec(s, dt, false, false, NAN, NAN, ch->err);
        return HC_CHILD_HARNESS_ERR;
    }

    /* two checks, independent inputs, same buffers */
    {
        unsigned long long shape_seed = g_args.seed ^ ((unsigned long long)s->m * 0x9E3779B1ull) ^
                                        ((unsigned long long)s->n << 21) ^ ((unsigned long long)s->k << 42);
        r = check_once(ch, dt, shape_seed, &e1, &b1, &ok1, why, sizeof why);
        if (r == 0 && ok1)
            r = check_once(ch, dt, shape_seed + 0x5851F42D4C957F2Dull, &e2, &b2, &ok2, why, sizeof why);
    }
    if (r < 0)
        return early_exit(r, ch->err, why, failed); /* -2: the context may be dead: stop here */
    if (!(ok1 && ok2)) {
        correctness_rec(s, dt, false, false, ok1 ? e2 : e1, ok1 ? b2 : b1, why);
        return HC_CHILD_OK;
    }
    correctness_rec(s, dt, true, false, e1 > e2 ? e1 : e2, b1 > b2 ? b1 : b2, "ok (2 checks, fp64 reference)");
    if (g_args.check_only)
        return HC_CHILD_OK;

    /* the fp64 buffers are not needed for timing */
    cudaFree(ch->b.Ad), ch->b.Ad = NULL;
    cudaFree(ch->b.Bd), ch->b.Bd = NULL;
    cudaFree(ch->b.Cd), ch->b.Cd = NULL;

    {
        struct hc_performance p;
        struct hc_perf_in in;
        struct hc_perf_out o;
        struct spak_gemm_kinfo ki;
        size_t es = hc_dtype_size(dt);
        memset(&p, 0, sizeof p);
        p.shape = s;
        p.dtype = dt;
        p.flops = 2.0 * s->m * s->n * s->k;
        r = timing(ch, dt, &p, why, sizeof why);
        if (r < 0)
            return early_exit(r, ch->err, why, failed);
        emit(hc_record_performance(&p));

        memset(&ki, 0, sizeof ki);
        if (ch->c.kinfo)
            ch->c.kinfo((int)s->m, (int)s->n, (int)s->k, dt, &ki);
        perf_in_of(&in, &ki, &g_ceil, p.flops,
                   (double)es * ((double)s->m * s->k + (double)s->n * s->k + (double)s->m * s->n), p.cand.median);
        hc_classify(&in, &o);
        emit(hc_record_analysis(s, dt, &in, &o));
    }
    free_bufs(&ch->b);
    return HC_CHILD_OK;
}

/* ------------------------------------------------------------------------ */
/* ceilings: the copy bandwidth (harness_device.cuh) and the cuBLAS peak      */

/* cuBLAS GemmEx 8192^3 in the dtype, median of 10: the compute ceiling. */
static double measure_cublas_peak(int dt)
{
    const int n = 8192;
    return cublas_peak_tflops(
        n, (size_t)n * n * hc_dtype_size(dt),
        [&](void *a, void *b) {
            double *tmp;
            if (cudaMalloc(&tmp, (size_t)n * n * sizeof(double)) != cudaSuccess)
                return false;
            if (dt == SPAK_DT_F32) {
                gen_normal<float><<<4096, 256>>>((float *)a, tmp, (size_t)n * n, 1);
                gen_normal<float><<<4096, 256>>>((float *)b, tmp, (size_t)n * n, 2);
            } else {
                gen_normal<__nv_bfloat16><<<4096, 256>>>((__nv_bfloat16 *)a, tmp, (size_t)n * n, 1);
                gen_normal<__nv_bfloat16><<<4096, 256>>>((__nv_bfloat16 *)b, tmp, (size_t)n * n, 2);
            }
            cudaDeviceSynchronize();
            cudaFree(tmp);
            return true;
        },
        [&](cublasHandle_t h, void *a, void *b, void *c) { cublas_gemm(h, n, n, n, dt, a, b, c); });
}

/* ------------------------------------------------------------------------ */
/* the parent's shape children (hc_run_child, harness_core.c)                */

static int shape_fn(int fd, const void *arg)
{
    (void)fd;
    return run_shape((const struct hc_shape *)arg);
}

/* ------------------------------------------------------------------------ */
/* --ncu                                                                     */

static void host_fill(void *p, size_t n, int dt, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(seed ^ splitmix64(i));
        float u1 = (float)((r >> 40) + 1) * (1.0f / 16777217.0f);
        float u2 = (float)((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
        float z = sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
        if (dt == SPAK_DT_F32)
            ((float *)p)[i] = z;
        else if (dt == SPAK_DT_F16)
            ((__half *)p)[i] = __float2half_rn(z);
        else
            ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(z);
    }
}

/* Run under ncu: the candidate once on shapes[0], inputs from the host (no
 * kernel of the harness runs in this process). Exit 0 when it ran. */
static int profile_one(void)
{
    const struct hc_shape *s = &g_args.shapes[0];
    int dt = g_args.dtype;
    size_t es = hc_dtype_size(dt);
    size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
    void *lib = dlopen(g_args.candidate, RTLD_NOW | RTLD_LOCAL), *hA, *hB, *A = NULL, *B = NULL, *C = NULL;
    int (*gemm)(int, int, int, int, const void *, const void *, void *, cudaStream_t);
    cudaStream_t st;
    cudaError_t e;
    int rc;

    if (!lib) {
        fprintf(stderr, "spak-harness-cuda --profile-one: dlopen: %s\n", dlerror());
        return HC_CHILD_HARNESS_ERR;
    }
    *(void **)&gemm = dlsym(lib, "spak_gemm");
    hA = malloc(na * es);
    hB = malloc(nb * es);
    if (!gemm || !hA || !hB) {
        fprintf(stderr, "spak-harness-cuda --profile-one: no spak_gemm or out of host memory\n");
        return HC_CHILD_HARNESS_ERR;
    }
    host_fill(hA, na, dt, g_args.seed * 0x100000001B3ull ^ 0x1A);
    host_fill(hB, nb, dt, g_args.seed * 0x100000001B3ull ^ 0x1B);
    if (cudaSetDevice(0) != cudaSuccess || cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) != cudaSuccess ||
        cudaMalloc(&A, na * es) != cudaSuccess || cudaMalloc(&B, nb * es) != cudaSuccess ||
        cudaMalloc(&C, nc * es) != cudaSuccess || cudaMemcpy(A, hA, na * es, cudaMemcpyHostToDevice) != cudaSuccess ||
        cudaMemcpy(B, hB, nb * es, cudaMemcpyHostToDevice) != cudaSuccess) {
        fprintf(stderr, "spak-harness-cuda --profile-one: CUDA setup failed\n");
        return HC_CHILD_HARNESS_ERR;
    }
    rc = gemm((int)s->m, (int)s->n, (int)s->k, dt, A, B, C, st);
    e = cudaDeviceSynchronize();
    if (rc != 0 || e != cudaSuccess) {
        fprintf(stderr, "spak-harness-cuda --profile-one: candidate returned %d, sync %s\n", rc, cudaGetErrorName(e));
        return HC_CHILD_HARNESS_ERR;
    }
    cudaFree(A);
    cudaFree(B);
    cudaFree(C);
    free(hA);
    free(hB);
    return HC_CHILD_OK;
}

static const char *find_ncu(char *buf, size_t n)
{
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *c = strchr(path, ':');
        size_t len = c ? (size_t)(c - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(buf, n, "%.*s/ncu", (int)len, path) < n && access(buf, X_OK) == 0)
            return buf;
        path = c ? c + 1 : NULL;
    }
    snprintf(buf, n, "/usr/local/cuda/bin/ncu");
    return access(buf, X_OK) == 0 ? buf : NULL;
}

/* Runs argv (no shell), stdout+stderr into *out (malloc'd, NUL-terminated,
 * capped at 4 MiB), killed after timeout_s. Returns the wait status or -1. */
static int run_capture(char *const *av, int timeout_s, char **out, bool *timed_out)
{
    int fds[2], status = -1;
    size_t len = 0, cap = 1 << 16;
    char *buf = (char *)malloc(cap);
    pid_t pid;
    struct timespec ts;
    double deadline;

    *out = NULL;
    *timed_out = false;
    if (!buf || pipe(fds) != 0) {
        free(buf);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        free(buf);
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(av[0], av);
        _exit(127);
    }
    close(fds[1]);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    deadline = ts.tv_sec + ts.tv_nsec * 1e-9 + timeout_s;
    for (;;) {
        struct pollfd pfd = {fds[0], POLLIN, 0};
        double now;
        int pr;
        ssize_t got;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = ts.tv_sec + ts.tv_nsec * 1e-9;
        if (now >= deadline) {
            kill(pid, SIGKILL);
            *timed_out = true;
            break;
        }
        pr = poll(&pfd, 1, (int)((deadline - now) * 1000) + 1);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        if (len + 1 >= cap && cap < ((size_t)4 << 20)) {
            char *nb = (char *)realloc(buf, cap * 2);
            if (nb) {
                buf = nb;
                cap *= 2;
            }
        }
        if (len + 1 >= cap) { /* over the cap: keep draining, drop the rest */
            char sink[4096];
            got = read(fds[0], sink, sizeof sink);
        } else {
            got = read(fds[0], buf + len, cap - 1 - len);
            if (got > 0)
                len += (size_t)got;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    buf[len] = 0;
    *out = buf;
    return status;
}

static const char NCU_METRICS_FULL[] =
    "gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,"
    "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum,"
    "launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active,"
    "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,"
    "sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active";
/* without the tensor-pipe metrics, whose names differ between architectures */
static const char NCU_METRICS_CORE[] =
    "gpu__time_duration.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,"
    "gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum,"
    "launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active";

/* The Counters record of one shape. Never fails the candidate. */
static void counters(const struct hc_shape *s)
{
    char ncu[4096], self[4096], seed[32], shape[64], why[1024];
    const char *dtn = hc_dtype_name(g_args.dtype);
    const char *sets[2] = {NCU_METRICS_FULL, NCU_METRICS_CORE};
    struct hc_ncu_result *r = (struct hc_ncu_result *)calloc(1, sizeof *r);
    ssize_t sl;

    if (!r) {
        emit(hc_record_counters(s, g_args.dtype, NULL, "harness: out of host memory"));
        return;
    }
    if (!find_ncu(ncu, sizeof ncu)) {
        emit(hc_record_counters(s, g_args.dtype, NULL, "ncu not found (PATH, /usr/local/cuda/bin/ncu)"));
        free(r);
        return;
    }
    sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        emit(hc_record_counters(s, g_args.dtype, NULL, "harness: readlink /proc/self/exe failed"));
        free(r);
        return;
    }
    self[sl] = 0;
    snprintf(seed, sizeof seed, "%llu", g_args.seed);
    hc_shape_str(s, shape, sizeof shape);
    snprintf(why, sizeof why, "ncu produced no metrics");
    for (int attempt = 0; attempt < 2; attempt++) {
        char *const av[] = {ncu, (char *)"--csv", (char *)"--metrics", (char *)sets[attempt],
                            (char *)"--launch-count", (char *)"8", self, (char *)"--profile-one",
                            (char *)"--family", (char *)"gemm", (char *)"--candidate", (char *)g_args.candidate,
                            (char *)"--seed", seed, (char *)"--dtype", (char *)dtn, (char *)"--shapes", shape,
                            NULL};
        char *out = NULL;
        bool to = false;
        int st = run_capture(av, g_args.timeout_s, &out, &to);
        if (hc_ncu_parse_csv(out, r) > 0) {
            char note[256] = "";
            if (attempt)
                snprintf(note, sizeof note, "tensor-pipe metrics rejected by this ncu; core set only");
            else if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
                snprintf(note, sizeof note, "ncu exited with status %d after printing metrics", st);
            emit(hc_record_counters(s, g_args.dtype, r, note));
            free(out);
            free(r);
            return;
        }
        if (st == -1)
            snprintf(why, sizeof why, "could not run %.400s: %s", ncu, strerror(errno));
        else if (to)
            snprintf(why, sizeof why, "ncu timed out after %d s: killed", g_args.timeout_s);
        else if (r->error[0])
            snprintf(why, sizeof why, "%s (ncu %s)", r->error, WIFEXITED(st) ? "exited" : "killed");
        else {
            /* the last line ncu printed, for the reason */
            size_t n = out ? strlen(out) : 0;
            while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
                out[--n] = 0;
            {
                const char *last = out ? strrchr(out, '\n') : NULL;
                snprintf(why, sizeof why, "ncu printed no metrics (wait status %d): %.300s", st,
                         last ? last + 1 : out ? out : "");
            }
        }
        free(out);
        if (r->error[0] && strstr(r->error, "ERR_NVGPUCTRPERM"))
            break; /* permissions: a smaller metric set will not help */
    }
    emit(hc_record_counters(s, g_args.dtype, NULL, why));
    free(r);
}

int main(int argc, char **argv)
{
    char err[1024];
    int rc = args_exit(hc_parse_args(argc, argv, &g_args, err, sizeof err), err);
    const struct probe_args pa = {g_args.dtype, hc_dtype_name(g_args.dtype), measure_cublas_peak,
                                  g_args.ceilings_cache};

    if (rc >= 0)
        return rc;
    if (g_args.profile_one)
        return profile_one();

    if (probe_device(&pa, g_args.timeout_s, hc_dtype_name(g_args.dtype), &g_ceil) != 0)
        return 2;
    return run_shapes(shape_fn, g_args.shapes, g_args.nshapes, g_args.timeout_s, g_args.check_only,
                      [](const struct hc_shape *s, int done, const struct hc_child *r, const char *why) {
                          if (done > 0) {
                              correctness_rec(s, g_args.dtype, false, false, NAN, NAN, why);
                          } else if (g_args.ncu && !g_args.check_only) {
                              if (r->saw_pass && r->saw_performance)
                                  counters(s);
                              else
                                  emit(hc_record_counters(s, g_args.dtype, NULL,
                                                          "not profiled: the shape did not pass and get timed"));
                          }
                      });
}
