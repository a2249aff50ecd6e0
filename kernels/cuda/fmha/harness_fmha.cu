/*
 * harness_fmha.cu - spak-harness-cuda-fmha, the trusted attention-forward
 * judge (issue 7, issue 13). The GEMM judge (kernels/cuda/gemm/harness.cu) is
 * its template: same process model, same records protocol, same habits.
 *
 *   spak-harness-cuda-fmha --family fmha --candidate PATH.so [--candidate PATH.so ...] --seed N
 *       [--dtype fp16|bf16] [--shapes BxHxSxD[gN][c],...] [--heldout ...]
 *       [--reps 30] [--warmup 5] [--batch-ms 3] [--check-only] [--lse] [--no-baseline]
 *       [--ceilings-cache PATH] [--timeout 600]
 *
 * --candidate more than once (up to 8): a session, the candidates timed side
 * by side with cuDNN, each in its own runner (session_device.cuh; docs/
 * trust-gpu.md, "A session").
 *
 * Shapes: B batch, H query heads, S sequence length, D head dim; "gN" = N
 * key/value heads (GQA; N divides H; g1 = MQA); "c" = causal. The function
 * and layouts are kernels/cuda/fmha/abi.h's.
 *
 * Output: "__SPAK_TRACE__ {json}" lines on stdout: Correctness for every
 * shape, then Performance and Analysis for the shapes that passed (unless
 * --check-only). Diagnostics on stderr. Exit 0 when the harness did its job
 * (whatever the candidate did), 2 on usage errors, without a CUDA device
 * ("no CUDA device" on stderr) or without spak-runner-cuda and
 * cuda/fmha/baseline-cudnn.so beside it, 1 when a harness step failed for
 * some shape.
 *
 * Process model: the parent never touches CUDA. A probe child finds the
 * device and the ceilings (cache shared with the GEMM harness); then one
 * child per shape, the judge of that shape. A crash, sticky CUDA error or
 * hang (--timeout) ends that child only: the parent writes its failed
 * Correctness record and goes on.
 *
 * The judge/runner split (issue 13; the GEMM judge, kernels/cuda/gemm/
 * harness.cu, is its twin): the judge never loads the candidate. The
 * candidate runs in spak-runner-cuda (kernels/cuda/common/runner_cuda.c)
 * inside spak's sandbox, cuDNN's SDPA in an identical runner
 * (baseline-cudnn.so, baseline_cudnn.cu). Each runner gets a device-memory
 * pool of the judge's (cuda_judge.c), frozen whenever it is not being
 * called; the judge fills inputs, times, checks and writes every record.
 * The seed is drawn from the OS (getrandom) in the parent; --seed is
 * accepted and ignored (a seed on the command line is one the candidate
 * could read); the records carry the drawn seed.
 *
 * Per shape, in the child:
 *  1. the idle probe measured alone, before any runner starts
 *     (judge_device.cuh);
 *  2. the candidate's runner started, QUERY: its declarations (abi_version,
 *     dtype, head dim, S multiple, max S, causal, GQA, LSE, min sm) checked
 *     against the shape; outside them: {"passed":false,"skipped":true}. Its
 *     workspace size is allocated in its pool;
 *  3. cuDNN's runner started and asked the same (unless --no-baseline):
 *     when it cannot run the shape the records carry "baseline_error" and
 *     ratios are null, the candidate is judged alone;
 *  4. pools sized for a batch: calls per batch ~3 ms of work, at most
 *     RP_MAX_BATCH and 8 GiB a side; each call its own Q, K, V, O, LSE;
 *  5. two full checks on the candidate's set 0 (normal(0,1) inputs from
 *     seeds drawn then; the second multiplies Q by 4 for a peaked softmax,
 *     where a missing max subtraction overflows): the reference is the
 *     judge's own fp64 kernel (ref_attention) on the same rounded inputs; O
 *     and the LSE poisoned (NaN) before the call, so unwritten elements
 *     fail; the LSE asked in the first check when the candidate declares it
 *     and checked against the reference's; the inputs' hash before and
 *     after. cuDNN gets the same inputs and its error is reported beside
 *     ours. A call the sandbox denied a system call fails the candidate;
 *  6. timing (unless --check-only or held out): warm-up, then reps rounds
 *     of a candidate batch and a cuDNN batch (which goes first alternates),
 *     fresh inputs for every call, each batch timed by the judge's host
 *     clock from CALL to DONE (the runner synchronized its stream and its
 *     device; a device synchronization that waited past the stream's by
 *     more than JD_LATE_S and 5% of the batch is work left outside the
 *     stream: a failure), the idle probe before (busy: "interference", with
 *     every runner frozen) and after (busy: the kernel left work running: a
 *     failure). Every call is checked after it returns: no NaN/Inf in O
 *     (nor in the LSE with --lse), the inputs' hash unchanged, and
 *     JR_ROWS (b, h, i) rows drawn after the call against their exact fp64
 *     attention (row_check) within the full check's tolerances. A failing
 *     timed call fails the shape; otherwise Correctness (passed), then
 *     Performance (verdict ok / impossible: above the chip's rate bound by
 *     JD_BOUND_MARGIN / interference) and Analysis;
 *  7. the candidate's runner stopped: a sandbox that says its code must
 *     not be trusted (a denied call) writes a failed Correctness last.
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
#include <vector>

#include "abi.h"
#include "fmha_core.h"

#define SPAK_HARNESS_PROG "spak-harness-cuda-fmha"
#include "../common/harness_device.cuh"
#include "../common/judge_device.cuh"
#include "../common/session_device.cuh"
#include "../common/cuda_judge.h"

static struct fc_args g_args;

static struct hc_device g_ceil; /* what the probe child measured */
static char g_runner[4096], g_baseline[4096]; /* spak-runner-cuda and the cuDNN baseline .so beside us */

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
    mx = block_reduce(mx, 0.0, op_max());
    nb = block_reduce(nb, 0ull, op_add());
    if (threadIdx.x == 0) {
        atomicMax(maxbits, (unsigned long long)__double_as_longlong(mx));
        if (nb) atomicAdd(bad, nb);
    }
}

/* ------------------------------------------------------------------------ */
/* the judge of one shape: the candidate and cuDNN each in a runner          */

/* The sampled-row check of a timed call: JR_ROWS rows (flat index
 * (b*H + h)*S + i of O's rows) drawn after the call returned. */
#define JR_ROWS 32
struct jr_rows {
    long long r[JR_ROWS];
};

/*
 * The exact (fp64) attention of one drawn row per block (256 threads), from
 * the call's own inputs, compared with the row the kernel wrote:
 * sums[0] += sum_d (O - R)^2, sums[1] += sum_d R^2 (the full check's
 * normwise error, pooled over the drawn rows); with lse: *lbits = max
 * |lse - ref| (ordered bits of a non-negative double), *bad += non-finite
 * lse. Pass 1: each thread takes keys t, t+256, ... (an online max and sum),
 * merged over the block; pass 2: tiles of 256 keys, P into shared memory,
 * thread t accumulates output column t (D <= REF_MAXD = 256).
 */
template <typename T>
__global__ void __launch_bounds__(256) row_check(const T *__restrict__ Q, const T *__restrict__ K,
                                                 const T *__restrict__ V, const T *__restrict__ O,
                                                 const float *__restrict__ lse, jr_rows rows, int H, int Hkv, int S,
                                                 int D, int causal, double scale, double *sums,
                                                 unsigned long long *lbits, unsigned long long *bad)
{
    __shared__ double q[REF_MAXD], p[256], rm[256], rl[256];
    const int t = threadIdx.x;
    const long long row = rows.r[blockIdx.x];
    const int i = (int)(row % S);
    const long long bh = row / S;
    const int h = (int)(bh % H), b = (int)(bh / H), hk = h / (H / Hkv);
    const T *Kb = K + ((size_t)b * Hkv + hk) * S * D, *Vb = V + ((size_t)b * Hkv + hk) * S * D;
    const int kend = causal ? i + 1 : S;
    double m = -INFINITY, l = 0;

    for (int d = t; d < D; d += 256)
        q[d] = to_double<T>(Q[(size_t)row * D + d]);
    __syncthreads();
    for (int j = t; j < kend; j += 256) {
        double s = 0;
        for (int d = 0; d < D; d++)
            s = fma(q[d], to_double<T>(Kb[(size_t)j * D + d]), s);
        s *= scale;
        if (s > m) {
            l = l * exp(m - s) + 1.0;
            m = s;
        } else {
            l += exp(s - m);
        }
    }
    rm[t] = m, rl[t] = l;
    __syncthreads();
    for (int w = 128; w > 0; w >>= 1) {
        if (t < w) {
            double m1 = rm[t], m2 = rm[t + w], mn = fmax(m1, m2);
            rl[t] = (m1 == -INFINITY ? 0.0 : rl[t] * exp(m1 - mn)) + (m2 == -INFINITY ? 0.0 : rl[t + w] * exp(m2 - mn));
            rm[t] = mn;
        }
        __syncthreads();
    }
    const double M = rm[0], L = rl[0];
    double acc = 0;
    for (int k0 = 0; k0 < kend; k0 += 256) {
        const int j = k0 + t, n = min(256, kend - k0);
        double pj = 0;
        if (j < kend) {
            double s = 0;
            for (int d = 0; d < D; d++)
                s = fma(q[d], to_double<T>(Kb[(size_t)j * D + d]), s);
            pj = exp(s * scale - M) / L;
        }
        __syncthreads(); /* the previous tile's P is used up */
        p[t] = pj;
        __syncthreads();
        if (t < D)
            for (int jj = 0; jj < n; jj++)
                acc = fma(p[jj], to_double<T>(Vb[(size_t)(k0 + jj) * D + t]), acc);
    }
    if (t < D) {
        double e = to_double<T>(O[(size_t)row * D + t]) - acc;
        atomicAdd(&sums[0], e * e); /* a non-finite output makes the error NaN: a failure */
        atomicAdd(&sums[1], acc * acc);
    }
    if (lse && t == 0) {
        double v = lse[row];
        if (!isfinite(v))
            atomicAdd(bad, 1ull);
        else
            atomicMax(lbits, (unsigned long long)__double_as_longlong(fabs(v - (M + log(L)))));
    }
}

enum { CAND = 0, BASE = 1 };

struct fjudge {
    const struct fc_shape *s;
    int dt;
    float scale;
    size_t nq, nkv, nr;                           /* elements of Q and O, of K and V each; LSE rows */
    size_t off_k, off_v, off_o, off_l, set_bytes; /* a set: Q at 0, K, V, O, LSE */
    size_t ws_off;                                /* each side's workspace: after its sets */
    size_t ws_bytes[JS_SIDES];
    int nsets;                                    /* input sets (and output slots) per side: one batch */
    bool have_base;                               /* cuDNN runs this shape (else base_err says why) */
    bool lse_timed;                               /* --lse and every candidate declares the LSE */
    char base_err[512];
    cj_side side[JS_SIDES];                       /* CAND, BASE, a session's other candidates (js_side) */
    jd_state j;
    float *Oref, *Lref;                           /* the full check's reference */
    double *sums;
    unsigned long long *cnt, *lbits;
    unsigned long long hash[JS_SIDES][RP_MAX_BATCH]; /* each set's inputs (Q, K, V) when filled */
    int checks[JS_SIDES];                         /* calls checked, per side */
};

#define FCK(call) JD_CK(&g->j, call)

static size_t align256(size_t b)
{
    return (b + 255) / 256 * 256;
}

static void *set_ptr(const struct fjudge *g, int side, int k, size_t off)
{
    return (void *)(uintptr_t)(g->side[side].pool + (size_t)k * g->set_bytes + off);
}

static const char *g_baseline_error; /* why cuDNN did not run (NULL when it did), for the records */

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
    c.seed = jd_seed;
    c.reason = reason;
    c.candidate = g_args.candidates[js_rival];
    js_emit(fc_record_correctness(&c));
}

/* The declarations (INFO: abi_version, dtypes, head_dims, s_multiple, max_s,
 * causal, gqa, lse, min_sm) against the shape. NULL when they hold, else
 * the reason in why. who: "candidate", "baseline". */
static const char *constraint(const cp_info *in, const struct fc_shape *s, int dt, const char *who, char *why,
                              size_t n)
{
    const int64_t *v = in->info;
    if (v[0] != SPAK_FMHA_ABI_VERSION)
        snprintf(why, n, "constraint: %s declares abi_version %lld, want %d", who, (long long)v[0],
                 SPAK_FMHA_ABI_VERSION);
    else if (!(v[1] & SPAK_FMHA_DT_BIT(dt)))
        snprintf(why, n, "constraint: %s does not declare dtype %s", who, dt == 1 ? "fp16" : "bf16");
    else if (!(v[2] & SPAK_FMHA_D_BIT(s->d)))
        snprintf(why, n, "constraint: %s does not declare D=%ld", who, s->d);
    else if (v[3] > 1 && s->s % v[3])
        snprintf(why, n, "constraint: %s declares S %% %lld == 0", who, (long long)v[3]);
    else if (v[4] > 0 && s->s > v[4])
        snprintf(why, n, "constraint: %s declares S <= %lld", who, (long long)v[4]);
    else if (s->causal && !v[5])
        snprintf(why, n, "constraint: %s does not declare causal", who);
    else if (s->hkv != s->h && !v[6])
        snprintf(why, n, "constraint: %s does not declare GQA (Hkv < H)", who);
    else if (v[8] > g_ceil.cc)
        snprintf(why, n, "constraint: %s needs sm_%lld, device is sm_%d", who, (long long)v[8], g_ceil.cc);
    else
        return NULL;
    return why;
}

/* Fresh inputs (seeds drawn now; Q scaled by qamp) into sets 0..n-1 of
 * side, O and the LSE poisoned (all-ones bits: NaN in fp16, bf16 and fp32),
 * the inputs' hashes kept (read back at once). 0 or -1 (g->j.err). */
static int fill_sets(struct fjudge *g, int side, int n, float qamp)
{
    int at; /* n words: the sets' hashes */
    if (jd_res_begin(&g->j) || (at = jd_res_take(&g->j, n)) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned long long sq = jd_draw(), sk = jd_draw(), sv = jd_draw();
        void *Q = set_ptr(g, side, k, 0), *K = set_ptr(g, side, k, g->off_k), *V = set_ptr(g, side, k, g->off_v);
        if (g->dt == SPAK_FMHA_F16) {
            jd_fill_normal<__half><<<launch_grid(g->nq), 256, 0, g->j.st>>>((__half *)Q, g->nq, sq, qamp);
            jd_fill_normal<__half><<<launch_grid(g->nkv), 256, 0, g->j.st>>>((__half *)K, g->nkv, sk, 1.0f);
            jd_fill_normal<__half><<<launch_grid(g->nkv), 256, 0, g->j.st>>>((__half *)V, g->nkv, sv, 1.0f);
        } else {
            jd_fill_normal<__nv_bfloat16><<<launch_grid(g->nq), 256, 0, g->j.st>>>((__nv_bfloat16 *)Q, g->nq, sq, qamp);
            jd_fill_normal<__nv_bfloat16><<<launch_grid(g->nkv), 256, 0, g->j.st>>>((__nv_bfloat16 *)K, g->nkv, sk,
                                                                                    1.0f);
            jd_fill_normal<__nv_bfloat16><<<launch_grid(g->nkv), 256, 0, g->j.st>>>((__nv_bfloat16 *)V, g->nkv, sv,
                                                                                    1.0f);
        }
        FCK(cudaGetLastError());
        FCK(cudaMemsetAsync(set_ptr(g, side, k, g->off_o), 0xFF, g->nq * 2, g->j.st));
        FCK(cudaMemsetAsync(set_ptr(g, side, k, g->off_l), 0xFF, g->nr * sizeof(float), g->j.st));
        if (jd_hash_to(&g->j, Q, g->off_o, g->j.res + at + k))
            return -1;
    }
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++)
        g->hash[side][k] = g->j.hres[at + k];
    return 0;
}

/* The fp64 reference (ref_attention) of set 0 of side cs (a candidate's) into Oref, Lref, done. */
static int reference(struct fjudge *g, int cs)
{
    const struct fc_shape *s = g->s;
    dim3 grid((unsigned)((s->s + REF_BQ - 1) / REF_BQ), (unsigned)s->h, (unsigned)s->b);
    size_t smem = ref_smem((int)s->d);
    double scale = 1.0 / sqrt((double)s->d);
    const void *Q = set_ptr(g, cs, 0, 0), *K = set_ptr(g, cs, 0, g->off_k), *V = set_ptr(g, cs, 0, g->off_v);
    if (g->dt == SPAK_FMHA_F16) {
        FCK(cudaFuncSetAttribute(ref_attention<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
        ref_attention<__half><<<grid, 256, smem, g->j.st>>>((const __half *)Q, (const __half *)K, (const __half *)V,
                                                             g->Oref, g->Lref, (int)s->h, (int)s->hkv, (int)s->s,
                                                             (int)s->d, s->causal, scale);
    } else {
        FCK(cudaFuncSetAttribute(ref_attention<__nv_bfloat16>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem));
        ref_attention<__nv_bfloat16><<<grid, 256, smem, g->j.st>>>(
            (const __nv_bfloat16 *)Q, (const __nv_bfloat16 *)K, (const __nv_bfloat16 *)V, g->Oref, g->Lref,
            (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal, scale);
    }
    FCK(cudaGetLastError());
    /* finished before any call: the idle probe before it must not see the judge's own work */
    FCK(cudaStreamSynchronize(g->j.st));
    return 0;
}

/* The normwise error of side's O in set 0 against Oref (*nf: its
 * non-finite count). 0 or -1 (g->j.err). */
static int o_err(struct fjudge *g, int side, double *out, unsigned long long *nf)
{
    struct { double *sums; unsigned long long *cnt; } bb = {g->sums, g->cnt};
    struct { decltype(bb) b; cudaStream_t st; char err[512]; } ch = {bb, g->j.st, ""};
    const void *O = set_ptr(g, side, 0, g->off_o);
    int r = g->dt == SPAK_FMHA_F16 ? rel_err_of(&ch, (const __half *)O, g->Oref, g->nq, out, nf)
                                   : rel_err_of(&ch, (const __nv_bfloat16 *)O, g->Oref, g->nq, out, nf);
    if (r)
        snprintf(g->j.err, sizeof g->j.err, "%s", ch.err);
    return r;
}

/* The LSE in set 0 of side cs (a candidate's) against Lref: max |error|
 * (*out, NaN when *nf, its non-finite count, is not 0). 0 or -1 (g->j.err). */
static int lse_err(struct fjudge *g, int cs, double *out, unsigned long long *nf)
{
    unsigned long long bits = 0;
    FCK(cudaMemsetAsync(g->lbits, 0, sizeof *g->lbits, g->j.st));
    FCK(cudaMemsetAsync(g->cnt, 0, sizeof *g->cnt, g->j.st));
    max_abs_err<<<reduce_grid(g->nr), 256, 0, g->j.st>>>((const float *)set_ptr(g, cs, 0, g->off_l), g->Lref, g->nr,
                                                          g->lbits, g->cnt);
    FCK(cudaGetLastError());
    FCK(cudaMemcpyAsync(&bits, g->lbits, sizeof bits, cudaMemcpyDeviceToHost, g->j.st));
    FCK(cudaMemcpyAsync(nf, g->cnt, sizeof *nf, cudaMemcpyDeviceToHost, g->j.st));
    FCK(cudaStreamSynchronize(g->j.st));
    memcpy(out, &bits, sizeof *out);
    if (*nf)
        *out = NAN;
    return 0;
}

/* One batch of n calls of side on sets 0..n-1 (with the LSE when lse),
 * timed by the judge, between two idle checks. 0: ran (*dt seconds); 1: the
 * side failed (why); 2: the device was busy before the call (interference,
 * why); -1: harness error (g->j.err). refill(): the sets made new for a
 * confirming repeat (jd_batch_with). */
template <typename Refill>
static int batch(struct fjudge *g, int side, int n, bool lse, double *dt, char *why, size_t nwhy, Refill refill)
{
    const struct fc_shape *s = g->s;
    static cp_call c;
    memset(&c, 0, sizeof c);
    c.h = (rp_head){RP_MAGIC, CP_CALL};
    c.d[0] = s->b, c.d[1] = s->h, c.d[2] = s->hkv, c.d[3] = s->s, c.d[4] = s->d;
    c.dtype = g->dt;
    c.causal = s->causal ? 1 : 0;
    c.n = n;
    c.scale = g->scale;
    c.ws_off = g->ws_bytes[side] ? g->ws_off : 0;
    c.ws_bytes = g->ws_bytes[side];
    for (int k = 0; k < n; k++) {
        uint64_t base = (uint64_t)k * g->set_bytes;
        c.item[k].in_off[0] = base;
        c.item[k].in_off[1] = base + g->off_k;
        c.item[k].in_off[2] = base + g->off_v;
        c.item[k].out_off = base + g->off_o;
        c.item[k].lse_off = lse ? (int64_t)(base + g->off_l) : -1;
    }
    return jd_batch(&g->j, &g->side[side], &c, g_args.timeout_s, dt, why, nwhy, refill);
}

/* Set 0's output and LSE of side poisoned (synchronized): before a full
 * check's call, and before its confirming repeat (the same inputs: the fp64
 * reference is theirs), so that the repeat's own answer is checked. 0 or -1
 * (g->j.err). */
static int repoison(struct fjudge *g, int side)
{
    FCK(cudaMemsetAsync(set_ptr(g, side, 0, g->off_o), 0xFF, g->nq * 2, g->j.st));
    FCK(cudaMemsetAsync(set_ptr(g, side, 0, g->off_l), 0xFF, g->nr * sizeof(float), g->j.st));
    FCK(cudaStreamSynchronize(g->j.st));
    return 0;
}

/* The sampled rows of set k of side, drawn now, checked (enqueued): their
 * squared errors and references into the doubles sums[0], sums[1], with lse
 * the largest LSE error among them into *lbits (bits of a non-negative
 * double) and their non-finite LSE count into *lbad (device words, zeroed).
 * 0 or -1 (g->j.err). */
static int sampled_rows(struct fjudge *g, int side, int k, bool lse, double *sums, unsigned long long *lbits,
                        unsigned long long *lbad)
{
    const struct fc_shape *s = g->s;
    jr_rows rows;
    for (int i = 0; i < JR_ROWS; i++)
        rows.r[i] = (long long)(jd_draw() % g->nr);
    const void *Q = set_ptr(g, side, k, 0), *K = set_ptr(g, side, k, g->off_k), *V = set_ptr(g, side, k, g->off_v),
               *O = set_ptr(g, side, k, g->off_o);
    const float *L = lse ? (const float *)set_ptr(g, side, k, g->off_l) : NULL;
    double scale = 1.0 / sqrt((double)s->d);
    if (g->dt == SPAK_FMHA_F16)
        row_check<__half><<<JR_ROWS, 256, 0, g->j.st>>>((const __half *)Q, (const __half *)K, (const __half *)V,
                                                         (const __half *)O, L, rows, (int)s->h, (int)s->hkv,
                                                         (int)s->s, (int)s->d, s->causal, scale, sums, lbits, lbad);
    else
        row_check<__nv_bfloat16><<<JR_ROWS, 256, 0, g->j.st>>>(
            (const __nv_bfloat16 *)Q, (const __nv_bfloat16 *)K, (const __nv_bfloat16 *)V, (const __nv_bfloat16 *)O, L,
            rows, (int)s->h, (int)s->hkv, (int)s->s, (int)s->d, s->causal, scale, sums, lbits, lbad);
    FCK(cudaGetLastError());
    return 0;
}

/* The checks every timed call gets, of the n calls of side's last batch
 * (sets 0..n-1), enqueued together and read back at once: nothing
 * non-finite in O (nor in the LSE when asked), inputs unchanged, JR_ROWS
 * rows drawn after the call against their exact fp64 attention, within the
 * full check's tolerances. 0 with *bad the first call that failed (why) or
 * -1; -1 harness error (g->j.err). */
enum { CK_NONFINITE, CK_LSE_NONFINITE, CK_HASH, CK_SUMS, CK_LSE_MAX = CK_SUMS + 2, CK_LSE_BAD, CK_WORDS };
static int check_calls(struct fjudge *g, int side, int n, bool lse, int *bad, char *why, size_t nwhy)
{
    *bad = -1;
    int at;
    if (jd_res_begin(&g->j) || (at = jd_res_take(&g->j, n * CK_WORDS)) < 0)
        return -1;
    for (int k = 0; k < n; k++) {
        unsigned long long *w = g->j.res + at + k * CK_WORDS;
        const void *O = set_ptr(g, side, k, g->off_o);
        int r = g->dt == SPAK_FMHA_F16 ? jd_nonfinite_to(&g->j, (const __half *)O, g->nq, w + CK_NONFINITE)
                                       : jd_nonfinite_to(&g->j, (const __nv_bfloat16 *)O, g->nq, w + CK_NONFINITE);
        if (r ||
            (lse && jd_nonfinite_to(&g->j, (const float *)set_ptr(g, side, k, g->off_l), g->nr, w + CK_LSE_NONFINITE)) ||
            jd_hash_to(&g->j, set_ptr(g, side, k, 0), g->off_o, w + CK_HASH) ||
            sampled_rows(g, side, k, lse, (double *)(w + CK_SUMS), w + CK_LSE_MAX, w + CK_LSE_BAD))
            return -1;
    }
    if (jd_res_read(&g->j))
        return -1;
    for (int k = 0; k < n; k++) {
        const unsigned long long *w = g->j.hres + at + k * CK_WORDS;
        double sums[2], e, le;
        memcpy(sums, w + CK_SUMS, sizeof sums);
        memcpy(&le, w + CK_LSE_MAX, sizeof le);
        e = sums[1] > 0 ? sqrt(sums[0] / sums[1]) : (sums[0] > 0 ? INFINITY : 0);
        if (sums[0] != sums[0])
            e = NAN;
        g->checks[side]++;
        if (w[CK_HASH] != g->hash[side][k])
            snprintf(why, nwhy, "the %s wrote its inputs (Q, K or V changed during the call)", g->side[side].label);
        else if (w[CK_NONFINITE])
            snprintf(why, nwhy, "%llu of %zu outputs are NaN/Inf (unwritten or overflowed)", w[CK_NONFINITE], g->nq);
        else if (w[CK_LSE_NONFINITE])
            snprintf(why, nwhy, "%llu of %zu LSE values are NaN/Inf (unwritten?)", w[CK_LSE_NONFINITE], g->nr);
        else if (!(e <= fc_tolerance(g->dt)))
            snprintf(why, nwhy, "sampled rows: relative error %.3g above tolerance %.3g (%d rows drawn after the "
                     "call, against their exact fp64 attention)", e, fc_tolerance(g->dt), JR_ROWS);
        else if (lse && (w[CK_LSE_BAD] || !(le <= fc_lse_tolerance())))
            snprintf(why, nwhy, "sampled rows: LSE max error %.3g above tolerance %.3g", w[CK_LSE_BAD] ? NAN : le,
                     fc_lse_tolerance());
        else
            continue;
        *bad = k;
        return 0;
    }
    return 0;
}

static void fj_free(struct fjudge *g)
{
    void *ps[] = {g->Oref, g->Lref, g->sums, g->cnt, g->lbits};
    free_device(ps, sizeof ps / sizeof ps[0]);
    jd_close(&g->j);
}

/* No baseline for this shape: "cudnn: " why (kept for the records), its
 * runner ended. */
static void drop_baseline(struct fjudge *g, const char *why)
{
    snprintf(g->base_err, sizeof g->base_err, "cudnn: %.480s", why);
    g_baseline_error = g->base_err;
    g->have_base = false;
    cj_side_stop(&g->side[BASE], NULL, 0);
    fprintf(stderr, "%s: baseline unavailable: %s\n", SPAK_HARNESS_PROG, why);
}

/* The judge's buffers, the pools (sized for the batch), the runners' maps. */
static int fj_setup(struct fjudge *g, char *why, size_t nwhy)
{
    const struct fc_shape *s = g->s;
    g->off_k = align256(g->nq * 2);
    g->off_v = g->off_k + align256(g->nkv * 2);
    g->off_o = g->off_v + align256(g->nkv * 2);
    g->off_l = g->off_o + align256(g->nq * 2);
    g->set_bytes = g->off_l + align256(g->nr * sizeof(float));
    size_t ws = 0;
    for (int i = 0; i < JS_SIDES; i++)
        ws = g->ws_bytes[i] > ws ? g->ws_bytes[i] : ws;
    /* calls per batch: ~--batch-ms (3) of work at 600 TFLOP/s, within 8 GiB a
     * side (sets + workspace; a session: 24 GiB over all its sides) */
    double est = fc_flops(s) / 600e12 + 5e-6;
    g->nsets = cs_calls_per_batch(est, g_args.batch_ms, g->set_bytes, align256(ws), g_args.ncand, RP_MAX_BATCH);
    if (g_args.check_only || s->heldout)
        g->nsets = 1;
    g->ws_off = (size_t)g->nsets * g->set_bytes;
    FCK(cudaMalloc(&g->Oref, g->nq * sizeof(float)));
    FCK(cudaMalloc(&g->Lref, g->nr * sizeof(float)));
    FCK(cudaMalloc(&g->sums, 2 * sizeof(double)));
    FCK(cudaMalloc(&g->cnt, sizeof(unsigned long long)));
    FCK(cudaMalloc(&g->lbits, sizeof(unsigned long long)));
    for (int k = 0; k < g_args.ncand; k++) {
        cj_side *c = &g->side[js_side(k)];
        if (!c->dead &&
            hd_timed("pools", [&] { return cj_side_map(c, g->ws_off + align256(g->ws_bytes[js_side(k)]), why, nwhy); }))
            return -2;
    }
    if (g->have_base &&
        hd_timed("pools", [&] { return cj_side_map(&g->side[BASE], g->ws_off + align256(g->ws_bytes[BASE]), why, nwhy); }))
        drop_baseline(g, why);
    return 0;
}

/* One check with the full fp64 reference on set 0 of the candidate on side
 * cs (Q scaled by qamp; the
 * LSE asked when want_lse): the candidate's error (*err, *lerr) and cuDNN's
 * on the same inputs (*berr, NaN without a baseline). 0: ran (*ok, why);
 * 1: the candidate failed (why); 2: interference; -1: harness error
 * (g->j.err). */
static int full_check(struct fjudge *g, int cs, float qamp, bool want_lse, double *err, double *lerr, double *berr, bool *ok,
                      char *why, size_t nwhy)
{
    unsigned long long nf = 0, h = 0;
    double dt;
    int r;
    *ok = false;
    *err = *lerr = *berr = NAN;
    if (fill_sets(g, cs, 1, qamp) || reference(g, cs))
        return -1;
    if (g->have_base) {
        /* the same inputs for cuDNN, in its own pool */
        FCK(cudaMemcpyAsync(set_ptr(g, BASE, 0, 0), set_ptr(g, cs, 0, 0), g->off_o, cudaMemcpyDeviceToDevice,
                            g->j.st));
        if (repoison(g, BASE))
            return -1;
        g->hash[BASE][0] = g->hash[cs][0];
        r = batch(g, BASE, 1, false, &dt, why, nwhy, [&] { return repoison(g, BASE); });
        if (r < 0 || r == 2)
            return r;
        if (r == 1)
            drop_baseline(g, why);
        else if (o_err(g, BASE, berr, &nf)) {
            return -1;
        }
    }
    r = batch(g, cs, 1, want_lse, &dt, why, nwhy, [&] { return repoison(g, cs); });
    if (r != 0)
        return r;
    g->checks[cs]++;
    if (o_err(g, cs, err, &nf) || jd_hash(&g->j, set_ptr(g, cs, 0, 0), g->off_o, &h))
        return -1;
    if (h != g->hash[cs][0]) {
        snprintf(why, nwhy, "the candidate wrote its inputs (Q, K or V changed during the call)");
        *err = NAN;
        return 0;
    }
    if (!output_ok(*err, nf, g->nq, fc_tolerance(g->dt), why, nwhy))
        return 0;
    if (want_lse) {
        if (lse_err(g, cs, lerr, &nf))
            return -1;
        if (nf) {
            snprintf(why, nwhy, "%llu of %zu LSE values are NaN/Inf (unwritten?)", nf, g->nr);
            return 0;
        }
        if (!(*lerr <= fc_lse_tolerance())) {
            snprintf(why, nwhy, "LSE max error %.3g above tolerance %.3g", *lerr, fc_lse_tolerance());
            return 0;
        }
    }
    *ok = true;
    return 0;
}


/* Candidate k's figures from the timed rounds R: its Correctness record
 * (passed, or impossible), Performance (the verdict: ok, impossible,
 * interference; the ratio with its interval, every sample, in a session
 * versus) and, for one candidate, Analysis. */
static void emit_timed(struct fjudge *g, const js_rounds *R, int k, const cp_info *ci, double err, double lerr,
                       double berr)
{
    const struct fc_shape *s = g->s;
    const char *verdict = R->verdict, *fail = R->all[0] ? R->all : NULL; /* here: interference */
    char why[512] = "", bt[160] = "";
    struct fc_performance p;
    memset(&p, 0, sizeof p);
    p.shape = s;
    p.dtype = g->dt;
    p.reps = R->done;
    p.have_base = g->have_base && !fail;
    if (!fail && R->done >= 1) {
        /* hc_stats sorts: copies, the rounds' order is the pairs' */
        std::vector<double> c(R->t[k], R->t[k] + R->done);
        hc_stats(c.data(), R->done, &p.cand);
        if (p.have_base) {
            std::vector<double> b(R->tb, R->tb + R->done);
            hc_stats(b.data(), R->done, &p.base);
        }
    } else
        p.cand.median = p.base.median = NAN;
    p.baseline_error = g->have_base ? NULL : g->base_err;
    p.baseline_engine = g->have_base ? g->side[BASE].name : NULL;
    p.with_lse = g->lse_timed;
    p.sm_clock_mhz = R->ck.sm_mhz, p.mem_clock_mhz = R->ck.mem_mhz, p.power_w = R->ck.power_w;
    p.throttle_mask = R->ck.reasons;
    p.l2_flushed = false;
    bool impossible = false;
    double bound = js_bound(g_ceil.cc, g->dt, fc_flops(s), p.cand.median, &impossible, bt, sizeof bt, why, sizeof why);
    if (!fail && impossible) {
        verdict = "impossible";
        fail = why;
        correctness_rec(s, false, false, NAN, NAN, berr, fail);
    } else {
        char ok[200];
        snprintf(ok, sizeof ok, "ok (%d calls checked: fp64 reference%s, then %d sampled rows of every timed call)",
                 g->checks[js_side(k)], lerr == lerr ? " with the LSE" : "", JR_ROWS);
        correctness_rec(s, true, false, err, lerr, berr, ok);
    }
    js_emit(with_fields(fc_record_performance(&p),
                        js_perf_fields(R, k, verdict, fail, bound, bt, &g->side[js_side(k)])));
    if (!fail && R->nc == 1) { /* a session ranks: the evaluations already classified */
        struct hc_perf_in in;
        struct hc_perf_out out;
        struct spak_fmha_kinfo ki;
        memset(&ki, 0, sizeof ki);
        if (ci->have_kinfo) {
            ki.registers = (int)ci->kinfo[0], ki.smem_bytes = (int)ci->kinfo[1], ki.local_bytes = (int)ci->kinfo[2];
            ki.block_threads = (int)ci->kinfo[3], ki.blocks_per_sm = (int)ci->kinfo[4], ki.grid_blocks = ci->kinfo[5];
        }
        perf_in_of(&in, &ki, &g_ceil, fc_flops(s), fc_bytes(s, g->dt, g->lse_timed), p.cand.median);
        hc_classify(&in, &out);
        js_emit(fc_record_analysis(s, g->dt, &in, &out));
    }
}

/* The timed rounds (js_run, session_device.cuh) of the candidates that
 * passed their checks (pass[k]) and cuDNN (when it runs the shape), every
 * call of every batch checked, until every ratio's interval reaches the
 * precision or the caps; then each candidate's records. Returns the child's
 * exit code. */
static int timed(struct fjudge *g, const bool *pass, const cp_info *ci, const double *err, const double *lerr,
                 const double *berr)
{
    static js_rounds R;
    memset(&R, 0, sizeof R);
    R.nc = g_args.ncand, R.n = g->nsets, R.between_runs = g_args.between_runs;
    memcpy(R.timed, pass, sizeof R.timed);
    char sn[96];
    fc_shape_str(g->s, sn, sizeof sn);
    R.stop_ms = g_args.ncand == 1 && g_args.stop_slower ? hc_stop_ms(g_args.stop_slower, sn) : 0;
    bool lse = g->lse_timed;
    int r = js_run(
        &R, &g->j, g->have_base ? BASE : -1, g_args.reps, g_args.warmup,
        [&](int side, int n) { return fill_sets(g, side, n, 1.0f); },
        [&](int side, int n, double *dt, char *why, size_t nw) {
            return batch(g, side, n, lse, dt, why, nw, [&] { return fill_sets(g, side, n, 1.0f); });
        },
        [&](int side, int n, int *bad, char *why, size_t nw) { return check_calls(g, side, n, lse, bad, why, nw); });
    hd_phase("records");
    if (r)
        snprintf(R.all, sizeof R.all, "harness: out of host memory"), R.rc = HC_CHILD_HARNESS_ERR;
    if (!r && R.stopped) { /* hopeless (--stop-slower-than): its full checks and warm-up calls passed */
        js_rival = 0;
        js_emit_stopped(json_pack("{s:s, s:s, s:b, s:s, s:b, s:s, s:I}", "type", "Performance", "shape", sn,
                                  "heldout", false, "dtype", g_args.dtype == 1 ? "fp16" : "bf16", "causal",
                                  g->s->causal, "candidate", g_args.candidates[0], "seed", (json_int_t)jd_seed),
                        &R);
        correctness_rec(g->s, true, false, err[0], lerr[0], berr[0],
                        "ok (2 full checks against the fp64 reference, its first batches' rows checked; stopped "
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
            correctness_rec(g->s, false, false, NAN, NAN, berr[k], fail);
        else
            emit_timed(g, &R, k, &ci[k], err[k], lerr[k], berr[k]);
    }
    int rc = R.rc;
    js_free(&R);
    return rc;
}

/* The problem of the shape, for QUERY. */
static cp_query query_of(const struct fjudge *g)
{
    cp_query q;
    memset(&q, 0, sizeof q);
    q.h = (rp_head){RP_MAGIC, CP_QUERY};
    q.d[0] = g->s->b, q.d[1] = g->s->h, q.d[2] = g->s->hkv, q.d[3] = g->s->s, q.d[4] = g->s->d;
    q.dtype = g->dt;
    q.causal = g->s->causal ? 1 : 0;
    return q;
}

/* cuDNN in its runner for this shape: started, asked, its declarations and
 * workspace checked. Without it (--no-baseline, or it cannot run the
 * shape) g->have_base is false and g->base_err says why. */
static void start_baseline(struct fjudge *g)
{
    char why[512] = "";
    cp_info bi;
    cp_query q = query_of(g);
    g->have_base = false;
    if (g_args.no_baseline) {
        snprintf(g->base_err, sizeof g->base_err, "not run (--no-baseline)");
        g_baseline_error = g->base_err;
        return;
    }
    if (g->s->heldout) { /* checked, never timed: cuDNN's graph build (about 2 s a shape on the H100,
                            2026-12-07) would buy only its error beside the candidate's */
        snprintf(g->base_err, sizeof g->base_err, "not run on a held-out shape (checked, not timed)");
        g_baseline_error = g->base_err;
        return;
    }
    g->have_base = true;
    if (hd_timed("spawn", [&] { return cj_side_start(&g->side[BASE], g_runner, g_baseline, "fmha", why, sizeof why); }) ||
        hd_timed("query", [&] { return cj_side_query(&g->side[BASE], &q, &bi, why, sizeof why); })) {
        drop_baseline(g, why);
    } else if (constraint(&bi, g->s, g->dt, "baseline", why, sizeof why)) {
        drop_baseline(g, why);
    } else if (bi.workspace == (uint64_t)SIZE_MAX) {
        drop_baseline(g, "no execution plan for this shape (the baseline's log on stderr says why)");
    } else if (bi.workspace > ((uint64_t)4 << 30)) {
        snprintf(why, sizeof why, "asks for a workspace of %llu bytes (over 4 GiB)", (unsigned long long)bi.workspace);
        drop_baseline(g, why);
    } else {
        g->ws_bytes[BASE] = (size_t)bi.workspace;
    }
}

/* Candidate k's runner started, its declarations and workspace checked.
 * 0: up; 1: not (its record written); 2: not, a harness error (its record
 * written). */
static int start_candidate(struct fjudge *g, int k, cp_info *ci)
{
    const struct fc_shape *s = g->s;
    char why[512] = "";
    cj_side *c = &g->side[js_side(k)];
    js_rival = k;
    int r = hd_timed("spawn", [&] { return cj_side_start(c, g_runner, g_args.candidates[k], "fmha", why, sizeof why); });
    if (r != 0) {
        correctness_rec(s, false, false, NAN, NAN, NAN, why);
        return r == 4 ? 2 : 1;
    }
    cp_query q = query_of(g);
    if (hd_timed("query", [&] { return cj_side_query(c, &q, ci, why, sizeof why); })) {
        correctness_rec(s, false, false, NAN, NAN, NAN, why);
        return 1;
    }
    if (constraint(ci, s, g->dt, "candidate", why, sizeof why)) {
        correctness_rec(s, false, true, NAN, NAN, NAN, why);
        return 1;
    }
    if (ci->workspace > ((uint64_t)4 << 30)) {
        snprintf(why, sizeof why, "the candidate asks for a workspace of %llu bytes (over 4 GiB)",
                 (unsigned long long)ci->workspace);
        correctness_rec(s, false, false, NAN, NAN, NAN, why);
        return 1;
    }
    g->ws_bytes[js_side(k)] = (size_t)ci->workspace;
    return 0;
}

/* Candidate k's two full checks. 1: passed (*err, *lerr, *berr); 0: failed
 * (its record written); -1: harness error (its record written). */
static int check_candidate(struct fjudge *g, int k, const cp_info *ci, double *err, double *lerr, double *berr)
{
    const struct fc_shape *s = g->s;
    char why[512] = "";
    double e[2] = {NAN, NAN}, l[2] = {NAN, NAN}, b[2] = {NAN, NAN};
    bool ok = false;
    int r = 0, i;
    js_rival = k;
    for (i = 0; i < 2; i++) {
        /* the second: Q x 4, a peaked softmax (a missing max subtraction overflows), no LSE */
        r = full_check(g, js_side(k), i ? 4.0f : 1.0f, i == 0 && ci->info[7] != 0, &e[i], &l[i], &b[i], &ok, why,
                       sizeof why);
        if (r != 0 || !ok)
            break;
    }
    if (r < 0) {
        correctness_rec(s, false, false, NAN, NAN, NAN, g->j.err);
        return -1;
    }
    if (r != 0 || !ok) { /* check i failed (its candidate error, NaN when it did not get that far) */
        char w[600];
        snprintf(w, sizeof w, "full check %d of 2 (fp64 reference%s): %.500s", i + 1, i ? ", Q x 4" : "", why);
        correctness_rec(s, false, false, e[i], l[0], b[i], w);
        return 0;
    }
    *err = fmax(e[0], e[1]), *lerr = l[0], *berr = b[0] != b[0] || b[1] != b[1] ? NAN : fmax(b[0], b[1]);
    if (cj_side_denied(&g->side[js_side(k)], why, sizeof why)) {
        correctness_rec(s, false, false, NAN, NAN, *berr, why);
        return 0;
    }
    return 1;
}

/* A failed Correctness record for every candidate k with up[k] (a step of
 * the judge failed for all of them). */
static void fail_all(const struct fc_shape *s, const bool *up, const char *why)
{
    for (int k = 0; k < g_args.ncand; k++)
        if (up[k]) {
            js_rival = k;
            correctness_rec(s, false, false, NAN, NAN, NAN, why);
        }
}

/* The checks of every candidate that is up and, unless --check-only or
 * held out, the timed rounds of those that passed. Returns the child's
 * exit code. */
static int judge_shape(struct fjudge *g, const bool *up, const cp_info *ci)
{
    double err[CS_MAX_CAND], lerr[CS_MAX_CAND], berr[CS_MAX_CAND];
    bool pass[CS_MAX_CAND] = {false};
    int npass = 0;
    for (int k = 0; k < g_args.ncand; k++) {
        if (!up[k])
            continue;
        int r = check_candidate(g, k, &ci[k], &err[k], &lerr[k], &berr[k]);
        if (r < 0) { /* the judge's own CUDA failed: nothing after it can be trusted */
            bool rest[CS_MAX_CAND] = {false};
            for (int j = k + 1; j < g_args.ncand; j++)
                rest[j] = up[j];
            fail_all(g->s, rest, "not checked: the judge failed on an earlier candidate of the session");
            return HC_CHILD_HARNESS_ERR;
        }
        pass[k] = r == 1, npass += r == 1;
    }
    if (g_args.check_only || g->s->heldout) {
        for (int k = 0; k < g_args.ncand; k++)
            if (pass[k]) {
                js_rival = k;
                correctness_rec(g->s, true, false, err[k], lerr[k], berr[k],
                                ci[k].info[7] ? "ok (2 checks, fp64 reference, LSE checked)"
                                              : "ok (2 checks, fp64 reference)");
            }
        return HC_CHILD_OK;
    }
    return npass ? timed(g, pass, ci, err, lerr, berr) : HC_CHILD_OK;
}

/* The shape child: the judge of one shape, for every --candidate (each in
 * its own runner; more than one: a session, timed side by side). Returns
 * the process exit code. */
static int run_shape(const struct fc_shape *s)
{
    static struct fjudge gs;
    static cp_info ci[CS_MAX_CAND];
    struct fjudge *g = &gs;
    char why[512] = "";
    bool up[CS_MAX_CAND] = {false};
    int r, rc = HC_CHILD_OK, nup = 0;
    memset(g, 0, sizeof *g);
    jd_seed_for(s->b * 1000003L + s->h * 10007L + s->hkv * 101L + s->s * 7919L * 7919L + s->d * 31L +
                (s->causal ? 1 : 0));
    g->s = s;
    g->dt = g_args.dtype;
    g->scale = (float)(1.0 / sqrt((double)s->d));
    g->nq = fc_q_elems(s), g->nkv = fc_kv_elems(s), g->nr = fc_rows(s);
    for (int i = 0; i < JS_SIDES; i++)
        g->side[i].dead = true, g->side[i].label = "candidate";
    for (int k = 0; k < g_args.ncand; k++)
        g->side[js_side(k)].label = js_label(k), up[k] = true;
    g->side[BASE].label = "baseline";
    char sn[96];
    hd_name_shape(fc_shape_str(s, sn, sizeof sn), s->heldout);
    /* the probe alone, before any runner exists (the phases of the Cost
     * record move on between the steps) */
    if (cudaSetDevice(0) != cudaSuccess || jd_open(&g->j) || (hd_phase("idle_calibrate"), jd_calibrate(&g->j))) {
        fail_all(s, up, g->j.err[0] ? g->j.err : "harness: CUDA setup failed");
        return HC_CHILD_HARNESS_ERR;
    }
    hd_phase("nvml");
    if (!g_args.check_only && !s->heldout) /* the clocks are read while timing only: not for a check */
        nvml_open(0);
    hd_phase("runners_start");
    g->lse_timed = g_args.time_lse; /* and every candidate declares the LSE (below) */
    for (int k = 0; k < g_args.ncand; k++) {
        r = start_candidate(g, k, &ci[k]);
        up[k] = r == 0, nup += r == 0;
        rc = r == 2 ? HC_CHILD_HARNESS_ERR : rc;
        g->lse_timed = g->lse_timed && (r != 0 || ci[k].info[7] != 0);
    }
    if (!nup)
        goto out;
    start_baseline(g);
    hd_phase("setup"); /* buffers, the sets' pools */
    r = fj_setup(g, why, sizeof why);
    hd_phase("checks");
    if (r) {
        fail_all(s, up, r == -1 ? g->j.err : why);
        rc = HC_CHILD_HARNESS_ERR;
        goto out;
    }
    r = judge_shape(g, up, ci);
    rc = r != HC_CHILD_OK ? r : rc;
out:
    hd_phase("teardown");
    for (int k = 0; k < g_args.ncand; k++) {
        char sw[300] = "";
        js_rival = k;
        if (cj_side_stop(&g->side[js_side(k)], sw, sizeof sw) != 0)
            correctness_rec(s, false, false, NAN, NAN, NAN, sw); /* the engine keeps the last verdict */
    }
    cj_side_stop(&g->side[BASE], NULL, 0);
    fj_free(g);
    return rc;
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
    hd_cost_begin("fmha");
    int rc = args_exit(fc_parse_args(argc, argv, &g_args, err, sizeof err), err);
    const struct probe_args pa = {g_args.dtype, hc_dtype_name(g_args.dtype), measure_cublas_peak,
                                  g_args.ceilings_cache};

    if (rc >= 0)
        return rc;
    if (!js_stop_names_ok(g_args.stop_slower, g_args.shapes, g_args.nshapes, fc_shape_str))
        return 2;
    if (find_judge_parts("fmha", "baseline-cudnn.so", g_runner, sizeof g_runner, g_baseline, sizeof g_baseline))
        return 2;
    if (probe_device(&pa, g_args.timeout_s, g_args.dtype == 1 ? "fp16" : "bf16", &g_ceil) != 0)
        return 2;
    if (g_args.ncand > 1 && js_open_session(g_args.ncand))
        return 2;
    return run_shapes(shape_fn, g_args.shapes, g_args.nshapes, g_args.timeout_s * g_args.ncand, g_args.check_only,
                      [](const struct fc_shape *s, int done, const struct hc_child *, const char *why) {
                          bool all[CS_MAX_CAND] = {true, true, true, true, true, true, true, true};
                          char sn[96];
                          if (done == 2) /* an earlier shape stopped the candidate early */
                              js_emit_not_checked(fc_shape_str(s, sn, sizeof sn), s->heldout);
                          else if (done > 0)
                              fail_all(s, all, why);
                      });
}
