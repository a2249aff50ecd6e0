/*
 * harness.cu - spak-harness-cuda, the trusted GEMM harness (issue 6).
 *
 *   spak-harness-cuda --family gemm --candidate PATH.so [--candidate PATH.so ...] --seed N
 *       [--dtype bf16|fp16|fp32] [--shapes MxNxK,...] [--heldout MxNxK,...]
 *       [--reps 30] [--warmup 5] [--batch-ms 3] [--check-only] [--ceilings-cache PATH] [--timeout 300] [--ncu]
 *
 * --candidate more than once (up to 8): a session, the candidates timed side
 * by side with cuBLAS, each in its own runner (session_device.cuh; docs/
 * trust-gpu.md, "A session").
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
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "abi.h"
#include "../common/harness_core.h"

#define SPAK_HARNESS_PROG "spak-harness-cuda"
#include "../common/harness_device.cuh"
#include "../common/judge_device.cuh"
#include "../common/session_device.cuh"
#include "../common/cuda_judge.h"
extern "C" {
#include "analyze/sandbox.h"
#include "analyze/stats.h"
}

/* ------------------------------------------------------------------------ */
/* exit codes of a child                                                     */

static struct hc_args g_args;

static struct hc_device g_ceil; /* what the probe child measured */
static char g_runner[4096], g_baseline[4096]; /* spak-runner-cuda and the cuBLAS baseline .so beside us */

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

/* ------------------------------------------------------------------------ */
/* the judge of one shape: the candidate and cuBLAS each in a runner         */

/* Freivalds' check of C = A B with x drawn after the call: C x against
 * A (B x), in fp64. x in {-1, +1}^N. */
__global__ void fv_rademacher(double *x, size_t n, unsigned long long seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] = (splitmix64(seed ^ splitmix64(i)) >> 63) ? 1.0 : -1.0;
}

/* y[r] = sum_c M[r][c] x[c], M row-major rows x cols: a warp per row. */
template <typename T>
__global__ void fv_rows(const T *M, long rows, long cols, const double *x, double *y)
{
    long r = (blockIdx.x * (long)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    double s = 0;
    for (long c = lane; c < cols; c += 32)
        s += to_double<T>(M[r * cols + c]) * x[c];
    for (int o = 16; o > 0; o /= 2)
        s += __shfl_down_sync(0xffffffffu, s, o);
    if (lane == 0)
        y[r] = s;
}

/* u[k] += sum over a chunk of 256 n of Bt[n][k] x[n] (Bt = B^T row-major
 * N x K, the ABI's B); u zeroed first. */
template <typename T>
__global__ void fv_cols(const T *Bt, long N, long K, const double *x, double *u)
{
    long k = blockIdx.x * (long)blockDim.x + threadIdx.x, n0 = blockIdx.y * 256L;
    if (k >= K)
        return;
    double s = 0;
    for (long n = n0; n < n0 + 256 && n < N; n++)
        s += to_double<T>(Bt[n * K + k]) * x[n];
    atomicAdd(&u[k], s);
}

/* sums[0] += sum (w - v)^2, sums[1] += sum v^2 */
__global__ void fv_diff(const double *w, const double *v, long n, double *sums)
{
    double d = 0, r = 0;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        d += (w[i] - v[i]) * (w[i] - v[i]);
        r += v[i] * v[i];
    }
    d = block_reduce(d, 0.0, op_add());
    r = block_reduce(r, 0.0, op_add());
    if (threadIdx.x == 0) {
        atomicAdd(&sums[0], d);
        atomicAdd(&sums[1], r);
    }
}

enum { CAND = 0, BASE = 1 };

struct gjudge {
    const struct hc_shape *s;
    int dt;
    size_t es, na, nb, nc;
    size_t off_b, off_c, set_bytes; /* a set: A at 0, B at off_b, C at off_c */
    int nsets;                      /* input sets (and output slots) per side: the calls of one batch */
    cj_side side[JS_SIDES];         /* CAND, BASE, then a session's other candidates (js_side) */
    jd_state j;
    cublasHandle_t h;
    double *Ad, *Bd, *Cd, *x, *u, *v, *w, *sums;
    unsigned long long *cnt;
    unsigned long long hash[JS_SIDES][RP_MAX_BATCH];
    int checks[JS_SIDES];           /* calls checked, per side */
    char why[512];
};

static size_t align256(size_t b)
{
    return (b + 255) / 256 * 256;
}

static void *set_ptr(const struct gjudge *g, int side, int k, size_t off)
{
    return (void *)(uintptr_t)(g->side[side].pool + (size_t)k * g->set_bytes + off);
}

#define GCK(call) JD_CK(&g->j, call)

template <typename T> static void fill_one(struct gjudge *g, void *p, double *img, size_t n, unsigned long long seed)
{
    if (img)
        gen_normal<T><<<launch_grid(n), 256, 0, g->j.st>>>((T *)p, img, n, seed);
    else
        jd_fill_normal<T><<<launch_grid(n), 256, 0, g->j.st>>>((T *)p, n, seed, 1.0f);
}

/* Fresh inputs (seeds drawn now) into sets 0..n-1 of side, the outputs
 * poisoned (all-ones bits: NaN in every dtype), the inputs' hashes kept
 * (all read back at once). With images: set 0's fp64 images into Ad, Bd
 * (the check phase). */
static int fill_sets(struct gjudge *g, int side, int n, bool images)
{
    int at; /* n words: the sets' hashes */
    if (jd_res_begin(&g->j) || (at = jd_res_take(&g->j, n)) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned long long sa = jd_draw(), sb = jd_draw();
        void *A = set_ptr(g, side, k, 0), *B = set_ptr(g, side, k, g->off_b);
        switch (g->dt) {
        case SPAK_DT_F32:
            fill_one<float>(g, A, images ? g->Ad : NULL, g->na, sa);
            fill_one<float>(g, B, images ? g->Bd : NULL, g->nb, sb);
            break;
        case SPAK_DT_F16:
            fill_one<__half>(g, A, images ? g->Ad : NULL, g->na, sa);
            fill_one<__half>(g, B, images ? g->Bd : NULL, g->nb, sb);
            break;
        default:
            fill_one<__nv_bfloat16>(g, A, images ? g->Ad : NULL, g->na, sa);
            fill_one<__nv_bfloat16>(g, B, images ? g->Bd : NULL, g->nb, sb);
        }
        GCK(cudaGetLastError());
        GCK(cudaMemsetAsync(set_ptr(g, side, k, g->off_c), 0xFF, g->nc * g->es, g->j.st));
        if (jd_hash_to(&g->j, A, g->off_c, g->j.res + at + k))
            return -1;
    }
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++)
        g->hash[side][k] = g->j.hres[at + k];
    return 0;
}

/* Freivalds on set k of side with two vectors drawn now, enqueued: for
 * each vector v, ||C x - A (B x)||^2 and ||A (B x)||^2 added into the
 * doubles sums[2v], sums[2v + 1] (device, zeroed). 0 or -1 (g->j.err). */
template <typename T> static int freivalds_t(struct gjudge *g, int side, int k, double *sums)
{
    const struct hc_shape *s = g->s;
    const T *A = (const T *)set_ptr(g, side, k, 0), *B = (const T *)set_ptr(g, side, k, g->off_b),
            *C = (const T *)set_ptr(g, side, k, g->off_c);
    for (int v = 0; v < 2; v++) {
        fv_rademacher<<<launch_grid(s->n), 256, 0, g->j.st>>>(g->x, s->n, jd_draw());
        GCK(cudaMemsetAsync(g->u, 0, s->k * sizeof(double), g->j.st));
        fv_cols<T><<<dim3((unsigned)((s->k + 255) / 256), (unsigned)((s->n + 255) / 256)), 256, 0, g->j.st>>>(
            B, s->n, s->k, g->x, g->u);
        fv_rows<T><<<(unsigned)((s->m * 32 + 255) / 256), 256, 0, g->j.st>>>(A, s->m, s->k, g->u, g->v);
        fv_rows<T><<<(unsigned)((s->m * 32 + 255) / 256), 256, 0, g->j.st>>>(C, s->m, s->n, g->x, g->w);
        fv_diff<<<reduce_grid(s->m), 256, 0, g->j.st>>>(g->w, g->v, s->m, sums + 2 * v);
        GCK(cudaGetLastError());
    }
    return 0;
}

/* The checks every timed call gets, of the n calls of side's last batch
 * (sets 0..n-1), enqueued together and read back at once: nothing
 * non-finite, inputs unchanged, Freivalds within twice the tolerance (its
 * estimate of the normwise error scatters around it). 0 with *bad the first
 * call that failed (why) or -1; -1 harness error (g->j.err). */
enum { CK_NONFINITE, CK_HASH, CK_SUMS, CK_WORDS = CK_SUMS + 4 };
static int check_calls(struct gjudge *g, int side, int n, int *bad, char *why, size_t nwhy)
{
    *bad = -1;
    int at;
    if (jd_res_begin(&g->j) || (at = jd_res_take(&g->j, n * CK_WORDS)) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned long long *w = g->j.res + at + k * CK_WORDS;
        const void *C = set_ptr(g, side, k, g->off_c);
        int r = g->dt == SPAK_DT_F32   ? jd_nonfinite_to(&g->j, (const float *)C, g->nc, w + CK_NONFINITE)
                : g->dt == SPAK_DT_F16 ? jd_nonfinite_to(&g->j, (const __half *)C, g->nc, w + CK_NONFINITE)
                                       : jd_nonfinite_to(&g->j, (const __nv_bfloat16 *)C, g->nc, w + CK_NONFINITE);
        double *sums = (double *)(w + CK_SUMS);
        if (r || jd_hash_to(&g->j, set_ptr(g, side, k, 0), g->off_c, w + CK_HASH) ||
            (g->dt == SPAK_DT_F32   ? freivalds_t<float>(g, side, k, sums)
             : g->dt == SPAK_DT_F16 ? freivalds_t<__half>(g, side, k, sums)
                                    : freivalds_t<__nv_bfloat16>(g, side, k, sums)))
            return -1;
    }
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++) {
        const unsigned long long *w = g->j.hres + at + k * CK_WORDS;
        double sums[4], fe = 0;
        memcpy(sums, w + CK_SUMS, sizeof sums);
        g->checks[side]++;
        for (int v = 0; v < 2; v++) {
            double e = sums[2 * v + 1] > 0 ? sqrt(sums[2 * v] / sums[2 * v + 1]) : (sums[2 * v] > 0 ? INFINITY : 0);
            fe = e > fe || e != e ? e : fe;
        }
        if (w[CK_HASH] != g->hash[side][k])
            snprintf(why, nwhy, "the %s wrote its inputs (A or B changed during the call)", g->side[side].label);
        else if (w[CK_NONFINITE])
            snprintf(why, nwhy, "%llu of %zu outputs are NaN/Inf (unwritten or overflowed)", w[CK_NONFINITE], g->nc);
        else if (!(fe <= 2 * hc_tolerance(g->dt)))
            snprintf(why, nwhy, "random-projection check: relative error %.3g above %.3g (C x against A (B x), x "
                     "drawn after the call)", fe, 2 * hc_tolerance(g->dt));
        else
            continue;
        *bad = k;
        return 0;
    }
    return 0;
}

/* One batch of n calls of side on sets 0..n-1, timed by the judge, between
 * two idle checks. 0: ran (*dt seconds); 1: the side failed (why); 2: the
 * device was busy before the call (interference, why); -1: harness error.
 * refill(): the sets made new for a confirming repeat (jd_batch_with). */
template <typename Refill>
static int batch(struct gjudge *g, int side, int n, double *dt, char *why, size_t nwhy, Refill refill)
{
    const struct hc_shape *s = g->s;
    static cp_call c;
    memset(&c, 0, sizeof c);
    c.h = (rp_head){RP_MAGIC, CP_CALL};
    c.d[0] = s->m, c.d[1] = s->n, c.d[2] = s->k;
    c.dtype = g->dt;
    c.n = n;
    for (int k = 0; k < n; k++) {
        c.item[k].in_off[0] = (uint64_t)k * g->set_bytes;
        c.item[k].in_off[1] = (uint64_t)k * g->set_bytes + g->off_b;
        c.item[k].out_off = (uint64_t)k * g->set_bytes + g->off_c;
        c.item[k].lse_off = -1;
    }
    return jd_batch(&g->j, &g->side[side], &c, g_args.timeout_s, dt, why, nwhy, refill);
}

/* Set 0's output of side poisoned (synchronized): before a full check's
 * call, and before its confirming repeat (the same inputs: the fp64
 * reference is theirs), so that the repeat's own answer is checked. 0 or -1
 * (g->j.err). */
static int repoison(struct gjudge *g, int side)
{
    GCK(cudaMemsetAsync(set_ptr(g, side, 0, g->off_c), 0xFF, g->nc * g->es, g->j.st));
    GCK(cudaStreamSynchronize(g->j.st));
    return 0;
}

static void gj_free(struct gjudge *g)
{
    void *ps[] = {g->Ad, g->Bd, g->Cd, g->x, g->u, g->v, g->w, g->sums, g->cnt};
    free_device(ps, sizeof ps / sizeof ps[0]);
    if (g->h)
        cublasDestroy(g->h);
    jd_close(&g->j);
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
    c.seed = jd_seed;
    c.reason = reason;
    c.candidate = g_args.candidates[js_rival];
    js_emit(hc_record_correctness(&c));
}

/* The declared constraints against the shape (INFO from the runner). NULL
 * when they hold, else the reason (static buffer). */
static const char *constraint(const struct hc_shape *s, int dt, const cp_info *in, int cc)
{
    static char why[256];
    const int64_t *v = in->info; /* abi_version, dtypes, m_multiple, n_multiple, k_multiple, min_sm */
    if (!(v[1] & SPAK_DT_BIT(dt)))
        snprintf(why, sizeof why, "constraint: candidate does not declare dtype %s", hc_dtype_name(dt));
    else if ((v[2] > 1 && s->m % v[2]) || (v[3] > 1 && s->n % v[3]) || (v[4] > 1 && s->k % v[4]))
        snprintf(why, sizeof why, "constraint: candidate declares M%%%lld==0, N%%%lld==0, K%%%lld==0",
                 (long long)v[2], (long long)v[3], (long long)v[4]);
    else if (v[5] > cc)
        snprintf(why, sizeof why, "constraint: candidate needs sm_%lld, device is sm_%d", (long long)v[5], cc);
    else
        return NULL;
    return why;
}

/* The judge's buffers, the pools (sized for the batch), the runners' maps. */
static int gj_setup(struct gjudge *g, char *why, size_t nwhy)
{
    const struct hc_shape *s = g->s;
    g->off_b = align256(g->na * g->es);
    g->off_c = g->off_b + align256(g->nb * g->es);
    g->set_bytes = g->off_c + align256(g->nc * g->es);
    /* calls per batch: ~--batch-ms (3) of work at 600 TFLOP/s (fp32: 40),
     * within 8 GiB a side (a session: 24 GiB over all its sides) */
    double est = 2.0 * s->m * s->n * s->k / (g->dt == SPAK_DT_F32 ? 40e12 : 600e12) + 5e-6;
    g->nsets = cs_calls_per_batch(est, g_args.batch_ms, g->set_bytes, 0, g_args.ncand, RP_MAX_BATCH);
    if (g_args.check_only || s->heldout)
        g->nsets = 1;
    GCK(cudaMalloc(&g->Ad, g->na * sizeof(double)));
    GCK(cudaMalloc(&g->Bd, g->nb * sizeof(double)));
    GCK(cudaMalloc(&g->Cd, g->nc * sizeof(double)));
    GCK(cudaMalloc(&g->x, s->n * sizeof(double)));
    GCK(cudaMalloc(&g->u, s->k * sizeof(double)));
    GCK(cudaMalloc(&g->v, s->m * sizeof(double)));
    GCK(cudaMalloc(&g->w, s->m * sizeof(double)));
    GCK(cudaMalloc(&g->sums, 2 * sizeof(double)));
    GCK(cudaMalloc(&g->cnt, sizeof(unsigned long long)));
    for (int i = 0; i < JS_SIDES; i++)
        if (!g->side[i].dead &&
            hd_timed("pools", [&] { return cj_side_map(&g->side[i], g->set_bytes * (size_t)g->nsets, why, nwhy); }))
            return -2;
    return 0;
}

/* One check with the full fp64 reference on set 0 of the candidate on side
 * cs: the candidate's error
 * (*err) and cuBLAS's on the same inputs (*berr). 0: ran (*ok, why); 1: the
 * candidate failed (why); 2: interference; -1: harness error (g->j.err). */
static int full_check(struct gjudge *g, int cs, double *err, double *berr, bool *ok, char *why, size_t nwhy)
{
    const struct hc_shape *s = g->s;
    const double one = 1.0, zero = 0.0;
    unsigned long long nf = 0;
    double dt;
    *ok = false;
    if (fill_sets(g, cs, 1, true))
        return -1;
    /* the same inputs for cuBLAS, in its own pool */
    GCK(cudaMemcpyAsync(set_ptr(g, BASE, 0, 0), set_ptr(g, cs, 0, 0), g->off_c, cudaMemcpyDeviceToDevice, g->j.st));
    if (repoison(g, BASE))
        return -1;
    g->hash[BASE][0] = g->hash[cs][0];
    if (cublasDgemm(g->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)s->n, (int)s->m, (int)s->k, &one, g->Bd, (int)s->k, g->Ad,
                    (int)s->k, &zero, g->Cd, (int)s->n) != CUBLAS_STATUS_SUCCESS) {
        snprintf(g->j.err, sizeof g->j.err, "harness: cublasDgemm (the reference) failed");
        return -1;
    }
    GCK(cudaStreamSynchronize(g->j.st));
    int r = batch(g, BASE, 1, &dt, why, nwhy, [&] { return repoison(g, BASE); });
    if (r != 0) {
        if (r == 1)
            snprintf(g->j.err, sizeof g->j.err, "harness: the baseline failed: %.400s", why);
        return r == 2 ? 2 : -1;
    }
    struct { double *sums; unsigned long long *cnt; } bb = {g->sums, g->cnt};
    struct { decltype(bb) b; cudaStream_t st; char err[512]; } ch = {bb, g->j.st, ""};
    if ((g->dt == SPAK_DT_F32   ? rel_err_of(&ch, (const float *)set_ptr(g, BASE, 0, g->off_c), g->Cd, g->nc, berr, &nf)
         : g->dt == SPAK_DT_F16 ? rel_err_of(&ch, (const __half *)set_ptr(g, BASE, 0, g->off_c), g->Cd, g->nc, berr, &nf)
                                : rel_err_of(&ch, (const __nv_bfloat16 *)set_ptr(g, BASE, 0, g->off_c), g->Cd, g->nc,
                                             berr, &nf))) {
        snprintf(g->j.err, sizeof g->j.err, "%s", ch.err);
        return -1;
    }
    r = batch(g, cs, 1, &dt, why, nwhy, [&] { return repoison(g, cs); });
    if (r != 0)
        return r;
    if ((g->dt == SPAK_DT_F32   ? rel_err_of(&ch, (const float *)set_ptr(g, cs, 0, g->off_c), g->Cd, g->nc, err, &nf)
         : g->dt == SPAK_DT_F16 ? rel_err_of(&ch, (const __half *)set_ptr(g, cs, 0, g->off_c), g->Cd, g->nc, err, &nf)
                                : rel_err_of(&ch, (const __nv_bfloat16 *)set_ptr(g, cs, 0, g->off_c), g->Cd, g->nc,
                                             err, &nf))) {
        snprintf(g->j.err, sizeof g->j.err, "%s", ch.err);
        return -1;
    }
    unsigned long long h = 0;
    if (jd_hash(&g->j, set_ptr(g, cs, 0, 0), g->off_c, &h))
        return -1;
    g->checks[cs]++;
    if (h != g->hash[cs][0]) {
        snprintf(why, nwhy, "the candidate wrote its inputs (A or B changed during the call)");
        *err = NAN;
        return 0;
    }
    *ok = output_ok(*err, nf, g->nc, hc_tolerance(g->dt), why, nwhy);
    return 0;
}


/* Candidate k's figures from the timed rounds R: its Correctness record
 * (passed, or impossible), Performance (the verdict: ok, impossible,
 * interference; the ratio with its interval, every sample, in a session
 * versus) and, for one candidate, Analysis. */
static void emit_timed(struct gjudge *g, const js_rounds *R, int k, const cp_info *ci, double err, double berr)
{
    const struct hc_shape *s = g->s;
    const char *verdict = R->verdict, *fail = R->all[0] ? R->all : NULL; /* here: interference */
    char why[512] = "", bt[160];
    struct hc_performance p;
    memset(&p, 0, sizeof p);
    p.shape = s;
    p.dtype = g->dt;
    p.flops = 2.0 * s->m * s->n * s->k;
    p.reps = R->done;
    if (!fail && R->done >= 2) {
        /* hc_stats sorts: copies, the rounds' order is the pairs' */
        std::vector<double> c(R->t[k], R->t[k] + R->done), b(R->tb, R->tb + R->done);
        hc_stats(c.data(), R->done, &p.cand);
        hc_stats(b.data(), R->done, &p.base);
    } else
        p.cand.median = p.base.median = NAN;
    p.sm_clock_mhz = R->ck.sm_mhz, p.mem_clock_mhz = R->ck.mem_mhz, p.power_w = R->ck.power_w;
    p.throttle_mask = R->ck.reasons;
    p.l2_flushed = false;
    /* impossible: above the chip's rate bound */
    bool impossible = false;
    double bound = js_bound(g_ceil.cc, g->dt, p.flops, p.cand.median, &impossible, bt, sizeof bt, why, sizeof why);
    if (!fail && impossible) {
        verdict = "impossible";
        fail = why;
        correctness_rec(s, g->dt, false, false, NAN, berr, fail);
    } else {
        char ok[160];
        snprintf(ok, sizeof ok, "ok (%d calls checked: fp64 reference, then random projections on every timed call)",
                 g->checks[js_side(k)]);
        correctness_rec(s, g->dt, true, false, err, berr, ok);
    }
    js_emit(with_fields(hc_record_performance(&p),
                        js_perf_fields(R, k, verdict, fail, bound, bt, &g->side[js_side(k)])));
    if (!fail && R->nc == 1) { /* a session ranks: the evaluations already classified */
        struct hc_perf_in in;
        struct hc_perf_out out;
        struct spak_gemm_kinfo ki;
        memset(&ki, 0, sizeof ki);
        if (ci->have_kinfo) {
            ki.registers = (int)ci->kinfo[0], ki.smem_bytes = (int)ci->kinfo[1], ki.local_bytes = (int)ci->kinfo[2];
            ki.block_threads = (int)ci->kinfo[3], ki.blocks_per_sm = (int)ci->kinfo[4], ki.grid_blocks = ci->kinfo[5];
        }
        perf_in_of(&in, &ki, &g_ceil, p.flops,
                   (double)g->es * ((double)s->m * s->k + (double)s->n * s->k + (double)s->m * s->n), p.cand.median);
        hc_classify(&in, &out);
        js_emit(hc_record_analysis(s, g->dt, &in, &out));
    }
}

/* The timed rounds (js_run, session_device.cuh) of the candidates that
 * passed their checks (pass[k]) and cuBLAS, every call of every batch
 * checked; then each candidate's records. Returns the child's exit code. */
static int timed(struct gjudge *g, const bool *pass, const cp_info *ci, const double *err, const double *berr)
{
    static js_rounds R;
    memset(&R, 0, sizeof R);
    R.nc = g_args.ncand, R.n = g->nsets, R.between_runs = g_args.between_runs;
    memcpy(R.timed, pass, sizeof R.timed);
    char sn[64];
    hc_shape_str(g->s, sn, sizeof sn);
    R.stop_ms = g_args.ncand == 1 && g_args.stop_slower ? hc_stop_ms(g_args.stop_slower, sn) : 0;
    int r = js_run(
        &R, &g->j, BASE, g_args.reps, g_args.warmup, [&](int side, int n) { return fill_sets(g, side, n, false); },
        [&](int side, int n, double *dt, char *why, size_t nw) {
            return batch(g, side, n, dt, why, nw, [&] { return fill_sets(g, side, n, false); });
        },
        [&](int side, int n, int *bad, char *why, size_t nw) { return check_calls(g, side, n, bad, why, nw); });
    hd_phase("records");
    if (r)
        snprintf(R.all, sizeof R.all, "harness: out of host memory"), R.rc = HC_CHILD_HARNESS_ERR;
    if (!r && R.stopped) { /* hopeless (--stop-slower-than): its full checks and warm-up calls passed */
        js_rival = 0;
        js_emit_stopped(json_pack("{s:s, s:s, s:b, s:s, s:s, s:I}", "type", "Performance", "shape", sn, "heldout", false,
                                  "dtype", hc_dtype_name(g->dt), "candidate", g_args.candidates[0], "seed",
                                  (json_int_t)jd_seed),
                        &R);
        correctness_rec(g->s, g->dt, true, false, err[0], berr[0],
                        "ok (2 full checks against the fp64 reference, its first batches' calls checked; stopped "
                        "early, not timed further)");
        int rc = R.rc;
        js_free(&R);
        return rc;
    }
    for (int k = 0; k < R.nc; k++) {
        if (!R.timed[k])
            continue;
        js_rival = k;
        const char *fail = R.all[0] ? R.all : !R.in[k] ? R.why[k] : NULL;
        if (fail && strcmp(R.verdict, "interference") != 0)
            correctness_rec(g->s, g->dt, false, false, NAN, berr[k], fail);
        else
            emit_timed(g, &R, k, &ci[k], err[k], berr[k]);
    }
    int rc = R.rc;
    js_free(&R);
    return rc;
}

/* Candidate k's runner started and its declarations checked against the
 * shape. 0: up; 1: not (its record written); 2: not, a harness error (its
 * record written). */
static int start_candidate(struct gjudge *g, int k, cp_info *ci)
{
    const struct hc_shape *s = g->s;
    char why[512] = "";
    cj_side *c = &g->side[js_side(k)];
    js_rival = k;
    int r = hd_timed("spawn", [&] { return cj_side_start(c, g_runner, g_args.candidates[k], "gemm", why, sizeof why); });
    if (r != 0) {
        correctness_rec(s, g->dt, false, false, NAN, NAN, why);
        return r == 4 ? 2 : 1;
    }
    cp_query q;
    memset(&q, 0, sizeof q);
    q.h = (rp_head){RP_MAGIC, CP_QUERY};
    q.d[0] = s->m, q.d[1] = s->n, q.d[2] = s->k;
    q.dtype = g->dt;
    if (hd_timed("query", [&] { return cj_side_query(c, &q, ci, why, sizeof why); })) {
        correctness_rec(s, g->dt, false, false, NAN, NAN, why);
        return 1;
    }
    const char *bad = constraint(s, g->dt, ci, g_ceil.cc);
    if (bad) {
        correctness_rec(s, g->dt, false, true, NAN, NAN, bad);
        return 1;
    }
    return 0;
}

/* Candidate k's two full checks (fp64 reference). 1: passed (*err, *berr:
 * the larger of the two); 0: failed (its record written); -1: harness error
 * (its record written). */
static int check_candidate(struct gjudge *g, int k, double *err, double *berr)
{
    const struct hc_shape *s = g->s;
    double e[2] = {NAN, NAN}, b[2] = {NAN, NAN};
    bool ok = false;
    char why[512] = "";
    int i, r = 0;
    js_rival = k;
    for (i = 0; i < 2; i++) {
        char cw[440];
        r = full_check(g, js_side(k), &e[i], &b[i], &ok, cw, sizeof cw);
        if (r != 0 || !ok) {
            snprintf(why, sizeof why, "full check %d of 2 (fp64 reference): %s", i + 1, cw);
            break;
        }
    }
    if (r < 0) {
        correctness_rec(s, g->dt, false, false, NAN, NAN, g->j.err);
        return -1;
    }
    if (r != 0 || !ok) {
        correctness_rec(s, g->dt, false, false, r == 0 ? e[i] : NAN, b[i], why);
        return 0;
    }
    *err = e[0] > e[1] ? e[0] : e[1], *berr = b[0] > b[1] ? b[0] : b[1];
    if (cj_side_denied(&g->side[js_side(k)], why, sizeof why)) {
        correctness_rec(s, g->dt, false, false, NAN, *berr, why);
        return 0;
    }
    return 1;
}

/* A failed Correctness record for every candidate k with up[k] (a step of
 * the judge failed for all of them). */
static void fail_all(const struct hc_shape *s, int dt, const bool *up, const char *why)
{
    for (int k = 0; k < g_args.ncand; k++)
        if (up[k]) {
            js_rival = k;
            correctness_rec(s, dt, false, false, NAN, NAN, why);
        }
}

/* The shape child: the judge of one shape, for every --candidate (each in
 * its own runner; more than one: a session, timed side by side). Returns
 * the process exit code. */
static int run_shape(const struct hc_shape *s)
{
    static struct gjudge gs;
    static cp_info ci[CS_MAX_CAND];
    struct gjudge *g = &gs;
    char why[512] = "";
    bool up[CS_MAX_CAND] = {false}, pass[CS_MAX_CAND] = {false};
    double err[CS_MAX_CAND], berr[CS_MAX_CAND];
    int r, rc = HC_CHILD_OK, nup = 0, npass = 0;
    memset(g, 0, sizeof *g);
    jd_seed_for(s->m * 1000003L + s->n * 1009L + s->k);
    g->s = s;
    g->dt = g_args.dtype;
    g->es = hc_dtype_size(g->dt);
    g->na = (size_t)s->m * s->k, g->nb = (size_t)s->n * s->k, g->nc = (size_t)s->m * s->n;
    for (int i = 0; i < JS_SIDES; i++)
        g->side[i].dead = true, g->side[i].label = "candidate";
    for (int k = 0; k < g_args.ncand; k++)
        g->side[js_side(k)].label = js_label(k), up[k] = true;
    g->side[BASE].label = "baseline";
    char sn[64];
    hd_name_shape(hc_shape_str(s, sn, sizeof sn), s->heldout);
    /* the probe alone, before any runner exists (the phases of the Cost
     * record move on between the steps) */
    if (cudaSetDevice(0) != cudaSuccess || jd_open(&g->j) || (hd_phase("idle_calibrate"), jd_calibrate(&g->j)) ||
        (hd_phase("cublas_handle"), cublasCreate(&g->h)) != CUBLAS_STATUS_SUCCESS ||
        cublasSetStream(g->h, g->j.st) != CUBLAS_STATUS_SUCCESS) {
        fail_all(s, g->dt, up, g->j.err[0] ? g->j.err : "harness: CUDA/cuBLAS setup failed");
        return HC_CHILD_HARNESS_ERR;
    }
    hd_phase("nvml");
    if (!g_args.check_only && !s->heldout) /* the clocks are read while timing only: not for a check */
        nvml_open(0);
    hd_phase("runners_start");
    for (int k = 0; k < g_args.ncand; k++) {
        r = start_candidate(g, k, &ci[k]);
        up[k] = r == 0, nup += r == 0;
        rc = r == 2 ? HC_CHILD_HARNESS_ERR : rc;
    }
    if (!nup)
        goto out;
    if (hd_timed("spawn", [&] { return cj_side_start(&g->side[BASE], g_runner, g_baseline, "gemm", why, sizeof why); })) {
        fail_all(s, g->dt, up, why);
        rc = HC_CHILD_HARNESS_ERR;
        goto out;
    }
    hd_phase("setup"); /* buffers, the sets' pools */
    r = gj_setup(g, why, sizeof why);
    hd_phase("checks");
    if (r) {
        fail_all(s, g->dt, up, r == -1 ? g->j.err : why);
        rc = HC_CHILD_HARNESS_ERR;
        goto out;
    }
    for (int k = 0; k < g_args.ncand; k++) {
        if (!up[k])
            continue;
        r = check_candidate(g, k, &err[k], &berr[k]);
        if (r < 0) { /* the judge's own CUDA failed: nothing after it can be trusted */
            bool rest[CS_MAX_CAND] = {false};
            for (int j = k + 1; j < g_args.ncand; j++)
                rest[j] = up[j];
            fail_all(s, g->dt, rest, "not checked: the judge failed on an earlier candidate of the session");
            rc = HC_CHILD_HARNESS_ERR;
            goto out;
        }
        pass[k] = r == 1, npass += r == 1;
    }
    if (g_args.check_only || s->heldout) {
        for (int k = 0; k < g_args.ncand; k++)
            if (pass[k]) {
                js_rival = k;
                correctness_rec(s, g->dt, true, false, err[k], berr[k], "ok (2 checks, fp64 reference)");
            }
        goto out;
    }
    if (npass)
        rc = timed(g, pass, ci, err, berr);
out:
    hd_phase("teardown");
    for (int k = 0; k < g_args.ncand; k++) {
        char sw[300] = "";
        /* a denied call or isolation below the minimum: nothing it did counts
         * (a record of its own, as the CPU judge writes it) */
        js_rival = k;
        if (cj_side_stop(&g->side[js_side(k)], sw, sizeof sw) != 0)
            js_emit(hc_dump(json_pack("{s:s, s:s, s:b, s:b, s:s, s:I}", "type", "Correctness", "shape", "runner",
                                      "heldout", false, "passed", false, "reason", sw, "seed", (json_int_t)jd_seed)));
    }
    cj_side_stop(&g->side[BASE], NULL, 0);
    gj_free(g);
    return rc;
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

/* Runs argv (no shell) in spak's sandbox, as a runner is (the candidate
 * runs inside it: ncu launches --profile-one, which loads the candidate),
 * stdout+stderr into *out (malloc'd, NUL-terminated, capped at 4 MiB). A
 * child still running after timeout_s is killed (*timed_out). Returns a
 * wait status, or -1 when it could not be started. */
static int run_capture(char *const *av, int timeout_s, char **out, bool *timed_out)
{
    spak_sandbox_limits lim;
    spak_sandbox_result res;
    spak_err err;
    char wd[] = "/tmp/spak-ncu.XXXXXX";
    int status = -1;
    *out = NULL;
    *timed_out = false;
    if (!mkdtemp(wd))
        return -1;
    spak_sandbox_limits_default(&lim);
    lim.address_space_bytes = 0; /* the CUDA driver */
    lim.wall_timeout_s = timeout_s;
    lim.cpu_s = timeout_s * 4.0;
    lim.stdout_cap_bytes = (size_t)4 << 20;
    lim.closed_stdout_grace_s = 0;
    memset(&err, 0, sizeof err);
    if (spak_sandbox_run((const char *const *)av, wd, &lim, &res, &err) == SPAK_OK) {
        size_t n = res.out_len + res.err_len;
        *out = (char *)malloc(n + 1);
        if (*out) {
            memcpy(*out, res.out, res.out_len);
            memcpy(*out + res.out_len, res.err, res.err_len);
            (*out)[n] = 0;
        }
        *timed_out = res.why == SPAK_SANDBOX_TIMEOUT;
        status = res.exit_code >= 0 ? res.exit_code << 8 : (res.term_signal & 0x7f);
        spak_sandbox_result_free(&res);
    } else
        errno = EPERM;
    rmdir(wd);
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
    hd_cost_begin("gemm");
    int rc = args_exit(hc_parse_args(argc, argv, &g_args, err, sizeof err), err);
    const struct probe_args pa = {g_args.dtype, hc_dtype_name(g_args.dtype), measure_cublas_peak,
                                  g_args.ceilings_cache};

    if (rc >= 0)
        return rc;
    if (!js_stop_names_ok(g_args.stop_slower, g_args.shapes, g_args.nshapes, hc_shape_str))
        return 2;
    if (g_args.profile_one)
        return profile_one();
    if (find_judge_parts("gemm", "baseline-cublas.so", g_runner, sizeof g_runner, g_baseline, sizeof g_baseline))
        return 2;

    if (probe_device(&pa, g_args.timeout_s, hc_dtype_name(g_args.dtype), &g_ceil) != 0)
        return 2;
    if (g_args.ncand > 1 && js_open_session(g_args.ncand))
        return 2;
    return run_shapes(shape_fn, g_args.shapes, g_args.nshapes, g_args.timeout_s * g_args.ncand, g_args.check_only,
                      [](const struct hc_shape *s, int done, const struct hc_child *r, const char *why) {
                          char sn[64];
                          if (done == 2) /* an earlier shape stopped the candidate early */
                              js_emit_not_checked(hc_shape_str(s, sn, sizeof sn), s->heldout);
                          else if (done > 0) {
                              bool all[CS_MAX_CAND] = {true, true, true, true, true, true, true, true};
                              fail_all(s, g_args.dtype, all, why);
                          } else if (g_args.ncu && !g_args.check_only) {
                              if (r->saw_pass && r->saw_performance && !r->saw_stopped)
                                  counters(s);
                              else
                                  emit(hc_record_counters(s, g_args.dtype, NULL,
                                                          r->saw_stopped ? "not profiled: the candidate was stopped early"
                                                                         : "not profiled: the shape did not pass and get timed"));
                          }
                      });
}
