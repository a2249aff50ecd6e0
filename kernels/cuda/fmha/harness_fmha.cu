/*
 * harness_fmha.cu - spak-harness-cuda-fmha, the trusted attention-forward
 * harness (issue 7). The GEMM harness (kernels/cuda/gemm/harness.cu) is its
 * template: same process model, same records protocol, same habits.
 *
 *   spak-harness-cuda-fmha --family fmha --candidate PATH.so --seed N
 *       [--dtype fp16|bf16] [--shapes BxHxSxD[gN][c],...] [--heldout ...]
 *       [--reps 30] [--warmup 5] [--check-only] [--lse] [--no-baseline]
 *       [--ceilings-cache PATH] [--timeout 600]
 *
 * Shapes: B batch, H query heads, S sequence length, D head dim; "gN" = N
 * key/value heads (GQA; N divides H; g1 = MQA); "c" = causal. The function
 * and layouts are kernels/cuda/fmha/abi.h's.
 *
 * Output: "__SPAK_TRACE__ {json}" lines on stdout: Correctness for every
 * shape, then Performance and Analysis for the shapes that passed (unless
 * --check-only). Diagnostics on stderr. Exit 0 when the harness did its job
 * (whatever the candidate did), 2 on usage errors or without a CUDA device
 * ("no CUDA device" on stderr), 1 when a harness step failed for some shape.
 *
 * Process model: the parent never touches CUDA. A probe child finds the
 * device and the ceilings (cache shared with the GEMM harness); then one
 * child per shape dlopen()s the candidate and does all GPU work. A crash,
 * sticky CUDA error or hang (--timeout) ends that child only: the parent
 * writes its failed Correctness record and goes on.
 *
 * Per shape, in the child:
 *  1. declared constraints (spak_fmha_info): dtype, head dim, S multiple,
 *     max S, causal, GQA; outside them: {"passed":false,"skipped":true}.
 *  2. cuDNN's SDPA graph is built for the shape (cudnn_sdpa.cuh). Failure is
 *     not fatal: the records carry "baseline_error" and ratios are null.
 *  3. two checks with independent inputs in the same buffers (normal(0,1)
 *     from a counter-based hash, generated on the device from the seed; the
 *     second check multiplies Q by 4 for a peaked softmax, where a missing
 *     max subtraction overflows and score precision shows): the reference is
 *     the harness's own fp64 kernel (ref_attention below) on the same
 *     rounded inputs; O is poisoned (NaN) before each call, so unwritten
 *     elements fail; the LSE is requested in the first check (when the
 *     candidate declares it) and checked against the reference's, and
 *     NULL is passed in the second; inputs compared bitwise before/after;
 *     O snapshotted after our stream and again after the whole device (work
 *     left on another stream fails). cuDNN's error against the same
 *     reference is reported beside ours.
 *  4. timing: warm-up, then reps rounds of {flush L2, candidate, flush L2,
 *     cuDNN}, order alternating, CUDA events around each call; medians,
 *     p20/p80; NVML clocks, power and throttle reasons sampled mid-queue.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "abi.h"
#include "fmha_core.h"

#define SPAK_HARNESS_PROG "spak-harness-cuda-fmha"
#include "../common/harness_device.cuh"
#include "cudnn_sdpa.cuh"


static struct fc_args g_args;

static struct hc_device g_ceil; /* what the probe child measured */

/* ------------------------------------------------------------------------ */
/* device kernels of the harness                                              */

/* x[i] ~ amp * N(0,1) rounded to T; element i depends only on (seed, i). */
template <typename T>
__global__ void gen_normal(T *x, size_t n, unsigned long long seed, float amp)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long r = splitmix64(seed ^ splitmix64(i));
        float u1 = ((r >> 40) + 1) * (1.0f / 16777217.0f);
        float u2 = ((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
        float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
        if (z == 0.0f)
            z = 1.0f; /* never zeros */
        x[i] = from_float<T>(amp * z);
    }
}

/*
 * The reference: exact-as-fp64 attention from the same rounded inputs.
 * One block of 256 threads per (32 query rows, head, batch). Products of two
 * 16-bit values are exact in fp64, sums of D of them nearly so. Two passes
 * over the keys: (1) row max and sum of exp (online, per thread, merged over
 * the 8 threads of a row), (2) P = exp(s - m) / l and O = P V. Thread t owns
 * query row t/8 and keys (t%8) + 8c of each 32-key tile; in pass 2 the
 * output columns (t%8) + 8k. Shared memory in fp64, rows padded by one.
 */
#define REF_BQ 32
#define REF_BK 32
#define REF_MAXD 256

template <typename T>
__global__ void __launch_bounds__(256) ref_attention(const T *__restrict__ Q, const T *__restrict__ K,
                                                     const T *__restrict__ V, float *__restrict__ O,
                                                     float *__restrict__ lse, int H, int Hkv, int S, int D,
                                                     int causal, double scale)
{
    extern __shared__ double sm[];
    const int ld = D + 1;
    double *Qs = sm, *Ks = Qs + REF_BQ * ld, *Vs = Ks + REF_BK * ld, *Ps = Vs + REF_BK * ld;
    const int t = threadIdx.x, r = t >> 3, sub = t & 7;
    const int q0 = blockIdx.x * REF_BQ, h = blockIdx.y, b = blockIdx.z, hk = h / (H / Hkv);
    const int i = q0 + r;
    const size_t qbase = ((size_t)b * H + h) * S * D, kvbase = ((size_t)b * Hkv + hk) * S * D;
    const int kend = causal ? min(S, q0 + REF_BQ) : S;
    double m = -INFINITY, l = 0;

    for (int e = t; e < REF_BQ * D; e += 256) {
        int rr = e / D, d = e % D;
        Qs[rr * ld + d] = q0 + rr < S ? to_double<T>(Q[qbase + (size_t)(q0 + rr) * D + d]) : 0.0;
    }
    /* pass 1: max and sum */
    for (int k0 = 0; k0 < kend; k0 += REF_BK) {
        __syncthreads();
        for (int e = t; e < REF_BK * D; e += 256) {
            int rr = e / D, d = e % D;
            Ks[rr * ld + d] = k0 + rr < S ? to_double<T>(K[kvbase + (size_t)(k0 + rr) * D + d]) : 0.0;
        }
        __syncthreads();
        for (int c = 0; c < REF_BK / 8; c++) {
            int jj = sub + 8 * c, j = k0 + jj;
            if (i >= S || j >= S || (causal && j > i))
                continue;
            double s = 0;
            for (int d = 0; d < D; d++)
                s = fma(Qs[r * ld + d], Ks[jj * ld + d], s);
            s *= scale;
            if (s > m) {
                l = l * exp(m - s) + 1.0;
                m = s;
            } else {
                l += exp(s - m);
            }
        }
    }
    for (int o = 1; o < 8; o <<= 1) {
        double m2 = __shfl_xor_sync(0xffffffffu, m, o), l2 = __shfl_xor_sync(0xffffffffu, l, o);
        double mn = fmax(m, m2);
        if (mn != -INFINITY)
            l = (m == -INFINITY ? 0.0 : l * exp(m - mn)) + (m2 == -INFINITY ? 0.0 : l2 * exp(m2 - mn));
        m = mn;
    }
    if (sub == 0 && i < S)
        lse[((size_t)b * H + h) * S + i] = (float)(m + log(l));

    /* pass 2: P and O */
    double acc[REF_MAXD / 8];
#pragma unroll
    for (int k = 0; k < REF_MAXD / 8; k++)
        acc[k] = 0;
    for (int k0 = 0; k0 < kend; k0 += REF_BK) {
        __syncthreads();
        for (int e = t; e < REF_BK * D; e += 256) {
            int rr = e / D, d = e % D;
            bool in = k0 + rr < S;
            Ks[rr * ld + d] = in ? to_double<T>(K[kvbase + (size_t)(k0 + rr) * D + d]) : 0.0;
            Vs[rr * ld + d] = in ? to_double<T>(V[kvbase + (size_t)(k0 + rr) * D + d]) : 0.0;
        }
        __syncthreads();
        for (int c = 0; c < REF_BK / 8; c++) {
            int jj = sub + 8 * c, j = k0 + jj;
            double p = 0;
            if (i < S && j < S && !(causal && j > i)) {
                double s = 0;
                for (int d = 0; d < D; d++)
                    s = fma(Qs[r * ld + d], Ks[jj * ld + d], s);
                p = exp(s * scale - m) / l;
            }
            Ps[r * (REF_BK + 1) + jj] = p;
        }
        __syncthreads();
        for (int jj = 0; jj < REF_BK; jj++) {
            double p = Ps[r * (REF_BK + 1) + jj];
#pragma unroll
            for (int k = 0; k < REF_MAXD / 8; k++)
                if (sub + 8 * k < D)
                    acc[k] = fma(p, Vs[jj * ld + sub + 8 * k], acc[k]);
        }
    }
    if (i < S) {
#pragma unroll
        for (int k = 0; k < REF_MAXD / 8; k++)
            if (sub + 8 * k < D)
                O[qbase + (size_t)i * D + sub + 8 * k] = (float)acc[k];
    }
}

static size_t ref_smem(int D) { return sizeof(double) * ((size_t)(REF_BQ + 2 * REF_BK) * (D + 1) + REF_BQ * (REF_BK + 1)); }

/* maxerr (as ordered bits of a non-negative double) of |a - r|; bad += non-finite a */
__global__ void max_abs_err(const float *a, const float *r, size_t n, unsigned long long *maxbits,
                            unsigned long long *bad)
{
    double mx = 0;
    unsigned long long nb = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        if (!isfinite(a[i])) {
            nb++;
            continue;
        }
        mx = fmax(mx, fabs((double)a[i] - (double)r[i]));
    }
    for (int s = 16; s > 0; s >>= 1) {
        mx = fmax(mx, __shfl_down_sync(0xffffffffu, mx, s));
        nb += __shfl_down_sync(0xffffffffu, nb, s);
    }
    if ((threadIdx.x & 31) == 0) {
        atomicMax(maxbits, (unsigned long long)__double_as_longlong(mx));
        atomicAdd(bad, nb);
    }
}

/* ------------------------------------------------------------------------ */
/* the child's state for one shape                                            */

struct cand {
    void *lib;
    const struct spak_fmha_info *info;
    int (*fmha)(int, int, int, int, int, int, int, const void *, const void *, const void *, void *, float *, float,
                void *, size_t, cudaStream_t);
    size_t (*ws)(int, int, int, int, int, int, int);
    int (*kinfo)(int, int, int, int, int, int, int, struct spak_fmha_kinfo *);
};

struct bufs {
    void *Q, *K, *V, *O, *Q0, *K0, *V0, *Osnap, *Ob;
    float *Oref, *Lref, *L, *Lb;
    double *sums;
    unsigned long long *cnt;
    void *ws;
    size_t ws_bytes;
    void *flush;
    size_t flush_bytes;
};

struct child {
    const struct fc_shape *s;
    int dt;
    float scale;
    struct cand c;
    struct bufs b;
    cudaStream_t st;
    struct sdpa dnn;
    bool have_dnn;
    char err[512];
};

static int gen_inputs(struct child *ch, unsigned long long seed, float qamp)
{
    size_t nq = fc_q_elems(ch->s), nkv = fc_kv_elems(ch->s);
    unsigned long long sq = seed * 0x100000001B3ull ^ 0x51, sk = seed * 0x100000001B3ull ^ 0x4B,
                       sv = seed * 0x100000001B3ull ^ 0x56;
    if (ch->dt == SPAK_FMHA_F16) {
        gen_normal<__half><<<launch_grid(nq), 256, 0, ch->st>>>((__half *)ch->b.Q, nq, sq, qamp);
        gen_normal<__half><<<launch_grid(nkv), 256, 0, ch->st>>>((__half *)ch->b.K, nkv, sk, 1.0f);
        gen_normal<__half><<<launch_grid(nkv), 256, 0, ch->st>>>((__half *)ch->b.V, nkv, sv, 1.0f);
    } else {
        gen_normal<__nv_bfloat16><<<launch_grid(nq), 256, 0, ch->st>>>((__nv_bfloat16 *)ch->b.Q, nq, sq, qamp);
        gen_normal<__nv_bfloat16><<<launch_grid(nkv), 256, 0, ch->st>>>((__nv_bfloat16 *)ch->b.K, nkv, sk, 1.0f);
        gen_normal<__nv_bfloat16><<<launch_grid(nkv), 256, 0, ch->st>>>((__nv_bfloat16 *)ch->b.V, nkv, sv, 1.0f);
    }
    HCK(cudaGetLastError());
    return 0;
}

static int reference(struct child *ch)
{
    const struct fc_shape *s = ch->s;
    dim3 grid((unsigned)((s->s + REF_BQ - 1) / REF_BQ), (unsigned)s->h, (unsigned)s->b);
    size_t smem = ref_smem((int)s->d);
    double scale = 1.0 / sqrt((double)s->d);
    if (ch->dt == SPAK_FMHA_F16) {
        HCK(cudaFuncSetAttribute(ref_attention<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        ref_attention<__half><<<grid, 256, smem, ch->st>>>((const __half *)ch->b.Q, (const __half *)ch->b.K,
                                                           (const __half *)ch->b.V, ch->b.Oref, ch->b.Lref, (int)s->h,
                                                           (int)s->hkv, (int)s->s, (int)s->d, s->causal, scale);
    } else {
        HCK(cudaFuncSetAttribute(ref_attention<__nv_bfloat16>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        ref_attention<__nv_bfloat16><<<grid, 256, smem, ch->st>>>(
            (const __nv_bfloat16 *)ch->b.Q, (const __nv_bfloat16 *)ch->b.K, (const __nv_bfloat16 *)ch->b.V, ch->b.Oref,
            ch->b.Lref, (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal, scale);
    }
    HCK(cudaGetLastError());
    return 0;
}

static int rel_err(struct child *ch, const void *O, double *out, unsigned long long *nonfinite)
{
    size_t n = fc_q_elems(ch->s);
    if (ch->dt == SPAK_FMHA_F16)
        return rel_err_of(ch, (const __half *)O, ch->b.Oref, n, out, nonfinite);
    return rel_err_of(ch, (const __nv_bfloat16 *)O, ch->b.Oref, n, out, nonfinite);
}

static int lse_err(struct child *ch, double *out, unsigned long long *nonfinite)
{
    size_t n = fc_rows(ch->s);
    unsigned long long bits = 0;
    HCK(cudaMemsetAsync(ch->b.sums, 0, sizeof(double), ch->st));
    HCK(cudaMemsetAsync(ch->b.cnt, 0, sizeof(unsigned long long), ch->st));
    max_abs_err<<<launch_grid(n), 256, 0, ch->st>>>(ch->b.L, ch->b.Lref, n, (unsigned long long *)ch->b.sums, ch->b.cnt);
    HCK(cudaGetLastError());
    HCK(cudaMemcpyAsync(&bits, ch->b.sums, sizeof bits, cudaMemcpyDeviceToHost, ch->st));
    HCK(cudaMemcpyAsync(nonfinite, ch->b.cnt, sizeof *nonfinite, cudaMemcpyDeviceToHost, ch->st));
    HCK(cudaStreamSynchronize(ch->st));
    memcpy(out, &bits, sizeof *out);
    if (*nonfinite)
        *out = NAN;
    return 0;
}

static int cand_call(struct child *ch, float *lse, char *why, size_t whylen)
{
    const struct fc_shape *s = ch->s;
    int rc = ch->c.fmha((int)s->b, (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal ? 1 : 0, ch->dt, ch->b.Q,
                        ch->b.K, ch->b.V, ch->b.O, lse, ch->scale, ch->b.ws, ch->b.ws_bytes, ch->st);
    if (rc != 0) {
        snprintf(why, whylen, "candidate returned %d (%s)", rc, cudaGetErrorName((cudaError_t)rc));
        return -1;
    }
    return 0;
}

/* One check. 0 = ran (verdict in *ok, *why), -1 = harness failure (ch->err),
 * -2 = candidate fault (why). */
static int check_once(struct child *ch, unsigned long long seed, float qamp, bool want_lse, double *err_out,
                      double *lerr_out, double *berr_out, bool *ok, char *why, size_t whylen)
{
    const struct fc_shape *s = ch->s;
    size_t nq = fc_q_elems(s), nkv = fc_kv_elems(s), nr = fc_rows(s);
    size_t qb = nq * 2, kvb = nkv * 2;
    unsigned long long nf = 0;
    int r;

    *ok = false;
    *lerr_out = NAN;
    *berr_out = NAN;
    if (gen_inputs(ch, seed, qamp))
        return -1;
    HCK(cudaMemcpyAsync(ch->b.Q0, ch->b.Q, qb, cudaMemcpyDeviceToDevice, ch->st));
    HCK(cudaMemcpyAsync(ch->b.K0, ch->b.K, kvb, cudaMemcpyDeviceToDevice, ch->st));
    HCK(cudaMemcpyAsync(ch->b.V0, ch->b.V, kvb, cudaMemcpyDeviceToDevice, ch->st));
    if (reference(ch))
        return -1;
    if (ch->have_dnn) {
        HCK(cudaMemsetAsync(ch->b.Ob, 0xFF, qb, ch->st));
        if (!sdpa_run(&ch->dnn)) {
            ch->have_dnn = false; /* reported as baseline_error */
        } else if (rel_err(ch, ch->b.Ob, berr_out, &nf)) {
            return -1;
        }
    }
    HCK(cudaMemsetAsync(ch->b.O, 0xFF, qb, ch->st)); /* all-ones bits: NaN in fp16/bf16 */
    HCK(cudaMemsetAsync(ch->b.L, 0xFF, nr * sizeof(float), ch->st));
    HCK(cudaStreamSynchronize(ch->st));

    if (cand_call(ch, want_lse ? ch->b.L : NULL, why, whylen) || stream_fault(ch->st, why, whylen))
        return -2;
    HCK(cudaMemcpyAsync(ch->b.Osnap, ch->b.O, qb, cudaMemcpyDeviceToDevice, ch->st));
    {
        const void *now[3] = {ch->b.Q, ch->b.K, ch->b.V}, *was[3] = {ch->b.Q0, ch->b.K0, ch->b.V0};
        const size_t bytes[3] = {qb, kvb, kvb};
        const char *names[3] = {"Q", "K", "V"};
        r = after_snapshot(ch, ch->b.O, ch->b.Osnap, qb, 3, now, was, bytes, names, err_out, why, whylen);
        if (r != 0)
            return r > 0 ? 0 : r;
    }
    if (rel_err(ch, ch->b.O, err_out, &nf))
        return -1;
    if (!output_ok(*err_out, nf, nq, fc_tolerance(ch->dt), why, whylen))
        return 0;
    if (want_lse) {
        if (lse_err(ch, lerr_out, &nf))
            return -1;
        if (nf) {
            snprintf(why, whylen, "%llu of %zu LSE values are NaN/Inf (unwritten?)", nf, nr);
            return 0;
        }
        if (!(*lerr_out <= fc_lse_tolerance())) {
            snprintf(why, whylen, "LSE max error %.3g above tolerance %.3g", *lerr_out, fc_lse_tolerance());
            return 0;
        }
    }
    *ok = true;
    snprintf(why, whylen, "ok");
    return 0;
}

static void free_bufs(struct bufs *b)
{
    void *ps[] = {b->Q, b->K, b->V, b->O, b->Q0, b->K0, b->V0, b->Osnap, b->Ob, b->Oref, b->Lref, b->L, b->Lb,
                  b->sums, b->cnt, b->ws, b->flush};
    free_device(ps, sizeof ps / sizeof ps[0]);
    memset(b, 0, sizeof *b);
}

static int alloc_all(struct child *ch)
{
    const struct fc_shape *s = ch->s;
    size_t qb = fc_q_elems(s) * 2, kvb = fc_kv_elems(s) * 2, nr = fc_rows(s);
    struct bufs *b = &ch->b;
    HCK(cudaMalloc(&b->Q, qb));
    HCK(cudaMalloc(&b->K, kvb));
    HCK(cudaMalloc(&b->V, kvb));
    HCK(cudaMalloc(&b->O, qb));
    HCK(cudaMalloc(&b->Q0, qb));
    HCK(cudaMalloc(&b->K0, kvb));
    HCK(cudaMalloc(&b->V0, kvb));
    HCK(cudaMalloc(&b->Osnap, qb));
    HCK(cudaMalloc(&b->Ob, qb));
    HCK(cudaMalloc(&b->Oref, fc_q_elems(s) * sizeof(float)));
    HCK(cudaMalloc(&b->Lref, nr * sizeof(float)));
    HCK(cudaMalloc(&b->L, nr * sizeof(float)));
    HCK(cudaMalloc(&b->Lb, nr * sizeof(float)));
    HCK(cudaMalloc(&b->sums, 2 * sizeof(double)));
    HCK(cudaMalloc(&b->cnt, sizeof(unsigned long long)));
    b->ws_bytes = ch->c.ws ? ch->c.ws((int)s->b, (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal, ch->dt) : 0;
    if (b->ws_bytes)
        HCK(cudaMalloc(&b->ws, b->ws_bytes));
    b->flush_bytes = (size_t)(g_ceil.l2_bytes > 0 ? g_ceil.l2_bytes : 50 << 20) * 2;
    HCK(cudaMalloc(&b->flush, b->flush_bytes));
    return 0;
}

static int timing(struct child *ch, struct fc_performance *p, char *why, size_t whylen)
{
    float *lse = g_args.time_lse ? ch->b.L : NULL;
    struct timed t;
    int rc;

    t.have_base = ch->have_dnn;
    rc = time_interleaved(
        ch->st, ch->b.flush, ch->b.flush_bytes, g_args.reps, g_args.warmup, false,
        [&] { return cand_call(ch, lse, why, whylen); },
        [&](bool warmup) {
            if (sdpa_run(&ch->dnn))
                return 0;
            if (warmup) /* cuDNN cannot run this: timed without a baseline */
                return 1;
            snprintf(ch->err, sizeof ch->err, "harness: %.400s (while timing)", ch->dnn.err);
            return -1;
        },
        &t, ch->err, sizeof ch->err, why, whylen);
    if (rc != 0)
        return rc;
    p->cand = t.cand;
    if (t.have_base)
        p->base = t.base;
    p->have_base = t.have_base;
    p->reps = g_args.reps;
    p->with_lse = lse != NULL;
    put_clocks(p, &t);
    return 0;
}

static const char *g_baseline_error; /* the child's, for its records */

static void correctness_rec(const struct fc_shape *s, bool passed, bool skipped, double err, double lerr, double berr,
                            const char *reason)
{
    struct fc_correctness c;
    memset(&c, 0, sizeof c);
    c.shape = s;
    c.dtype = g_args.dtype;
    c.passed = passed;
    c.skipped = skipped;
    c.rel_err = err;
    c.tolerance = fc_tolerance(g_args.dtype);
    c.lse_err = lerr;
    c.baseline_rel_err = berr;
    c.baseline_error = g_baseline_error;
    c.seed = g_args.seed;
    c.reason = reason;
    c.candidate = g_args.candidate;
    emit(fc_record_correctness(&c));
}

static const char *constraint(const struct spak_fmha_info *info, const struct fc_shape *s, int dt, char *why,
                              size_t n)
{
    if (!(info->dtypes & SPAK_FMHA_DT_BIT(dt)))
        snprintf(why, n, "constraint: candidate does not declare dtype %s", dt == 1 ? "fp16" : "bf16");
    else if (!(info->head_dims & SPAK_FMHA_D_BIT(s->d)))
        snprintf(why, n, "constraint: candidate does not declare D=%ld", s->d);
    else if (info->s_multiple > 1 && s->s % info->s_multiple)
        snprintf(why, n, "constraint: candidate declares S %% %d == 0", info->s_multiple);
    else if (info->max_s > 0 && s->s > info->max_s)
        snprintf(why, n, "constraint: candidate declares S <= %d", info->max_s);
    else if (s->causal && !info->causal)
        snprintf(why, n, "constraint: candidate does not declare causal");
    else if (s->hkv != s->h && !info->gqa)
        snprintf(why, n, "constraint: candidate does not declare GQA (Hkv < H)");
    else if (info->min_sm > g_ceil.cc)
        snprintf(why, n, "constraint: candidate needs sm_%d, device is sm_%d", info->min_sm, g_ceil.cc);
    else
        return NULL;
    return why;
}

/* The shape child. Returns the process exit code. */
static int run_shape(const struct fc_shape *s)
{
    struct child chs, *ch = &chs;
    const struct spak_fmha_info *info;
    char why[512] = "";
    double e1 = NAN, e2 = NAN, l1 = NAN, l2 = NAN, b1 = NAN, b2 = NAN;
    bool ok1 = false, ok2 = false;
    int r;
    /* the failing record of a check or the timing that ended early (early_exit) */
    auto failed = [&](const char *reason) { correctness_rec(s, false, false, NAN, NAN, NAN, reason); };

    memset(ch, 0, sizeof *ch);
    ch->s = s;
    ch->dt = g_args.dtype;
    ch->scale = (float)(1.0 / sqrt((double)s->d));
    info = load_candidate<struct spak_fmha_info>(g_args.candidate, "spak_fmha", "spak_fmha_info", SPAK_FMHA_ABI_VERSION,
                                                 "candidate: missing spak_fmha/spak_fmha_info or wrong abi_version",
                                                 &ch->c.lib, (void **)&ch->c.fmha, why, sizeof why);
    if (!info) {
        correctness_rec(s, false, false, NAN, NAN, NAN, why);
        return HC_CHILD_OK;
    }
    *(void **)&ch->c.ws = dlsym(ch->c.lib, "spak_fmha_workspace");
    *(void **)&ch->c.kinfo = dlsym(ch->c.lib, "spak_fmha_kernel_info");
    ch->c.info = info;
    if (constraint(info, s, ch->dt, why, sizeof why)) {
        correctness_rec(s, false, true, NAN, NAN, NAN, why);
        return HC_CHILD_OK;
    }
    if (cudaSetDevice(0) != cudaSuccess || cudaStreamCreateWithFlags(&ch->st, cudaStreamNonBlocking) != cudaSuccess) {
        correctness_rec(s, false, false, NAN, NAN, NAN, "harness: CUDA setup failed");
        return HC_CHILD_HARNESS_ERR;
    }
    nvml_open(0);
    if (alloc_all(ch)) {
        correctness_rec(s, false, false, NAN, NAN, NAN, ch->err);
        return HC_CHILD_HARNESS_ERR;
    }
    if (g_args.no_baseline) {
        g_baseline_error = "not run (--no-baseline)";
    } else {
        ch->have_dnn = sdpa_build(&ch->dnn, s, ch->dt, g_args.time_lse, ch->st) &&
                       sdpa_bind(&ch->dnn, ch->b.Q, ch->b.K, ch->b.V, ch->b.Ob, g_args.time_lse ? ch->b.Lb : NULL,
                                 s->causal);
        if (!ch->have_dnn) {
            g_baseline_error = ch->dnn.err;
            fprintf(stderr, "spak-harness-cuda-fmha: baseline unavailable: %s\n", ch->dnn.err);
        }
    }

    {
        unsigned long long shape_seed = g_args.seed ^ ((unsigned long long)s->b * 0x9E3779B1ull) ^
                                        ((unsigned long long)s->h << 13) ^ ((unsigned long long)s->s << 23) ^
                                        ((unsigned long long)s->d << 45) ^ ((unsigned long long)s->hkv << 53) ^
                                        (s->causal ? 0x8000000000000000ull : 0);
        r = check_once(ch, shape_seed, 1.0f, info->lse != 0, &e1, &l1, &b1, &ok1, why, sizeof why);
        if (r == 0 && ok1)
            r = check_once(ch, shape_seed + 0x5851F42D4C957F2Dull, 4.0f, false, &e2, &l2, &b2, &ok2, why, sizeof why);
    }
    if (ch->have_dnn == false && !g_args.no_baseline && !g_baseline_error)
        g_baseline_error = ch->dnn.err;
    if (r < 0)
        return early_exit(r, ch->err, why, failed);
    if (!(ok1 && ok2)) {
        correctness_rec(s, false, false, ok1 ? e2 : e1, l1, ok1 ? b2 : b1, why);
        return HC_CHILD_OK;
    }
    correctness_rec(s, true, false, fmax(e1, e2), l1, isnan(b1) || isnan(b2) ? NAN : fmax(b1, b2),
                    info->lse ? "ok (2 checks, fp64 reference, LSE checked)" : "ok (2 checks, fp64 reference)");
    if (g_args.check_only)
        goto done;

    {
        struct fc_performance p;
        struct hc_perf_in in;
        struct hc_perf_out o;
        struct spak_fmha_kinfo ki;
        memset(&p, 0, sizeof p);
        p.shape = s;
        p.dtype = ch->dt;
        r = timing(ch, &p, why, sizeof why);
        if (r < 0)
            return early_exit(r, ch->err, why, failed);
        p.baseline_error = p.have_base ? NULL : (g_baseline_error ? g_baseline_error : ch->dnn.err);
        p.baseline_engine = p.have_base ? ch->dnn.engine : NULL;
        emit(fc_record_performance(&p));

        memset(&ki, 0, sizeof ki);
        if (ch->c.kinfo)
            ch->c.kinfo((int)s->b, (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal, ch->dt, &ki);
        perf_in_of(&in, &ki, &g_ceil, fc_flops(s), fc_bytes(s, ch->dt, p.with_lse), p.cand.median);
        hc_classify(&in, &o);
        emit(fc_record_analysis(s, ch->dt, &in, &o));
    }
done:
    if (ch->have_dnn || ch->dnn.api.lib)
        sdpa_destroy(&ch->dnn);
    free_bufs(&ch->b);
    return HC_CHILD_OK;
}

/* ------------------------------------------------------------------------ */
/* ceilings: the copy bandwidth (harness_device.cuh) and cuBLAS GEMM peak     */

/* cuBLAS 8192^3 GEMM in the dtype, fp32 accumulation: the tensor-core
 * ceiling the attention FLOPs are compared with (the GEMM harness's). */
static double measure_cublas_peak(int dt)
{
    const int n = 8192;
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t ty = dt == SPAK_FMHA_F16 ? CUDA_R_16F : CUDA_R_16BF;
    return cublas_peak_tflops(
        n, (size_t)n * n * 2,
        [&](void *a, void *b) {
            if (dt == SPAK_FMHA_F16) {
                gen_normal<__half><<<4096, 256>>>((__half *)a, (size_t)n * n, 1, 1.0f);
                gen_normal<__half><<<4096, 256>>>((__half *)b, (size_t)n * n, 2, 1.0f);
            } else {
                gen_normal<__nv_bfloat16><<<4096, 256>>>((__nv_bfloat16 *)a, (size_t)n * n, 1, 1.0f);
                gen_normal<__nv_bfloat16><<<4096, 256>>>((__nv_bfloat16 *)b, (size_t)n * n, 2, 1.0f);
            }
            cudaDeviceSynchronize();
            return true;
        },
        [&](cublasHandle_t h, void *a, void *b, void *c) {
            cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, b, ty, n, a, ty, n, &zero, c, ty, n,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        });
}

/* ------------------------------------------------------------------------ */
/* the parent's shape children (hc_run_child, harness_core.c)                */

static int shape_fn(int fd, const void *arg)
{
    (void)fd;
    return run_shape((const struct fc_shape *)arg);
}

int main(int argc, char **argv)
{
    char err[1024];
    int rc = args_exit(fc_parse_args(argc, argv, &g_args, err, sizeof err), err);
    const struct probe_args pa = {g_args.dtype, hc_dtype_name(g_args.dtype), measure_cublas_peak,
                                  g_args.ceilings_cache};

    if (rc >= 0)
        return rc;
    if (probe_device(&pa, g_args.timeout_s, g_args.dtype == 1 ? "fp16" : "bf16", &g_ceil) != 0)
        return 2;
    return run_shapes(shape_fn, g_args.shapes, g_args.nshapes, g_args.timeout_s, g_args.check_only,
                      [](const struct fc_shape *s, int done, const struct hc_child *, const char *why) {
                          if (done > 0)
                              correctness_rec(s, false, false, NAN, NAN, NAN, why);
                      });
}
