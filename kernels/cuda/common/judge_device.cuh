/*
 * judge_device.cuh - the device side both CUDA judges share (included by
 * kernels/cuda/gemm/harness.cu and kernels/cuda/fmha/harness_fmha.cu after
 * harness_device.cuh): fresh inputs for every call, the inputs' hash, the
 * count of non-finite outputs, and the idle probe.
 *
 * The idle probe is how the judge sees work of another process on the
 * device: contexts of different processes never run at once (no MPS), they
 * share the GPU by time slices, so a fixed amount of the judge's own work
 * takes longer, by the host's clock, while a runner's kernel is still
 * running or queued. The judge measures the probe alone before any runner
 * starts (solo), then before and after every timed batch: a probe slower
 * than JD_IDLE_FACTOR x solo (+ JD_IDLE_SLACK_S) three times in a row means
 * the device is not idle.
 */
#ifndef SPAK_CUDA_JUDGE_DEVICE_CUH
#define SPAK_CUDA_JUDGE_DEVICE_CUH

#include <algorithm>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../../common/prf.h"
#include "cuda_judge.h"

#define JD_IDLE_FACTOR 1.6
#define JD_IDLE_SLACK_S 40e-6
/* how long the device may be busy before a batch (another process's work:
 * "interference") */
#define JD_IDLE_WAIT_S 2.0
/* a probe after DONE slower than this x solo is work left running, not a
 * one-off to confirm: honest sides were seen at 2.3-2.6x, work left running
 * at 8-30x */
#define JD_CONFIRM_MAX 4.0
/* before a repeat's fresh inputs go in, the device idle (every probe of
 * JD_SETTLED_N checks in a row within the limit) over at least this long */
#define JD_SETTLED_S 20e-3
#define JD_SETTLED_N 4
/* a device synchronization after the stream's longer than this (and than
 * 5% of the batch) means work left outside the stream */
#define JD_LATE_S 200e-6

/* x[i] ~ N(0,1) rounded to T (never 0): fresh inputs for a call, from a
 * seed the judge draws right before. Counter based, like gen_normal. */
template <typename T>
__global__ void jd_fill_normal(T *x, size_t n, unsigned long long seed, float scale)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        unsigned long long r = splitmix64(seed ^ splitmix64(i));
        float u1 = ((r >> 40) + 1) * (1.0f / 16777217.0f);
        float u2 = ((r >> 8) & 0xFFFFFF) * (1.0f / 16777216.0f);
        float z = sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
        x[i] = from_float<T>(z == 0.0f ? scale : z * scale);
    }
}

/* An order-independent 64-bit hash of n 32-bit words: the sum of a mix of
 * each word with its index. Any change of a word changes it (but with
 * probability 2^-64). */
__global__ void jd_hash_words(const unsigned *p, size_t n, unsigned long long *out)
{
    unsigned long long h = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        h += splitmix64(((unsigned long long)p[i] << 32) ^ (i * 0x9E3779B97F4A7C15ull));
    h = block_reduce(h, 0ull, op_add());
    if (threadIdx.x == 0)
        atomicAdd(out, h);
}

/* The count of non-finite elements (NaN: the poison, unwritten; Inf). */
template <typename T>
__global__ void jd_count_nonfinite(const T *p, size_t n, unsigned long long *cnt)
{
    unsigned long long c = 0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        c += !isfinite(to_double<T>(p[i]));
    c = block_reduce(c, 0ull, op_add());
    if (threadIdx.x == 0 && c)
        atomicAdd(cnt, c);
}

/* A fixed amount of arithmetic on every SM (no clock reads: a kernel
 * descheduled for another context's time slice must take longer). */
__global__ void jd_probe_kernel(float *sink, int iters)
{
    float a = threadIdx.x * 1e-3f, b = 1.0001f;
    for (int i = 0; i < iters; i++) a = fmaf(a, b, 1e-7f);
    if (a == 12345.678f) sink[0] = a; /* never true; keeps the loop */
}

static double jd_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Words of check results a batch may take (jd_res_take): a declared
 * kernel's 64 calls with 24 arguments, four words each, fit. */
#define JD_RES_WORDS 8192

/* The judge's scratch on the device and what it measured of the probe. */
struct jd_state {
    cudaStream_t st;
    unsigned long long *cnt; /* one counter */
    /* A batch's check results: the check kernels of all its calls add into
     * res (zeroed by jd_res_begin), read back into hres (pinned) with one
     * synchronization (jd_res_read), where each check had its own (four
     * a GEMM call). */
    unsigned long long *res, *hres;
    int nres;
    float *sink;
    int sms;
    double solo_s;           /* the probe alone, median */
    double after_s;          /* the last batch's probe after DONE (the best of three) */
    char err[512];
};

/* A CUDA call of the judge's: on an error, the jd_state jp's err says which
 * call failed and how, and the function returns -1. Every judge's checks
 * (JCK here, and each judge's own shorthand over its jd_state) are this. */
#define JD_CK(jp, call)                                                                            \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            snprintf((jp)->err, sizeof (jp)->err, "harness: %s failed: %s (%s)", #call,            \
                     cudaGetErrorName(e_), cudaGetErrorString(e_));                                \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)
#define JCK(call) JD_CK(j, call)

static int jd_open(jd_state *j)
{
    memset(j, 0, sizeof *j);
    JCK(cudaStreamCreateWithFlags(&j->st, cudaStreamNonBlocking));
    JCK(cudaMalloc(&j->cnt, sizeof *j->cnt));
    JCK(cudaMalloc(&j->sink, sizeof *j->sink));
    JCK(cudaMalloc(&j->res, JD_RES_WORDS * sizeof *j->res));
    JCK(cudaMallocHost(&j->hres, JD_RES_WORDS * sizeof *j->hres));
    JCK(cudaDeviceGetAttribute(&j->sms, cudaDevAttrMultiProcessorCount, 0));
    return 0;
}

static void jd_close(jd_state *j)
{
    cudaFree(j->cnt);
    cudaFree(j->sink);
    cudaFree(j->res);
    cudaFreeHost(j->hres);
    if (j->st) cudaStreamDestroy(j->st);
    memset(j, 0, sizeof *j);
}

/* One probe: launch to completion by the host's clock, seconds; < 0 on a
 * CUDA error (j->err). */
static double jd_probe_once(jd_state *j)
{
    double t0 = jd_now();
    jd_probe_kernel<<<j->sms * 2, 256, 0, j->st>>>(j->sink, 20000);
    cudaError_t e = cudaStreamSynchronize(j->st);
    if (e != cudaSuccess) {
        snprintf(j->err, sizeof j->err, "harness: the idle probe failed: %s", cudaGetErrorName(e));
        return -1;
    }
    return jd_now() - t0;
}

/* The probe alone (before any runner exists): median of 15 after 3. */
static int jd_calibrate(jd_state *j)
{
    double v[15];
    for (int i = 0; i < 18; i++) {
        double t = jd_probe_once(j);
        if (t < 0) return -1;
        if (i >= 3) v[i - 3] = t;
    }
    std::sort(v, v + 15);
    j->solo_s = v[7];
    return 0;
}

/* Whether the device is idle of other work: three probes within
 * JD_IDLE_FACTOR x solo + slack, the best of them (every: the slowest).
 * *seen gets the one compared (seconds). 1 idle, 0 not, -1 a CUDA error
 * (j->err). */
static int jd_probes(jd_state *j, bool every, double *seen)
{
    double best = 1e30, worst = 0;
    for (int i = 0; i < 3; i++) {
        double t = jd_probe_once(j);
        if (t < 0) return -1;
        best = std::min(best, t);
        worst = std::max(worst, t);
    }
    *seen = every ? worst : best;
    return *seen <= j->solo_s * JD_IDLE_FACTOR + JD_IDLE_SLACK_S;
}
static int jd_idle(jd_state *j, double *seen) { return jd_probes(j, false, seen); }

/* Waits up to wait_s for the device to be settled: JD_SETTLED_N strict idle
 * checks in a row, the first and the last at least JD_SETTLED_S apart
 * (probing every few ms). A kernel left resident (a poller waiting for the
 * next inputs) keeps some probe slow; a lucky best of three is not enough.
 * 1 settled, 0 not by the end (*seen: the last slowest), -1 error. */
static int jd_wait_settled(jd_state *j, double wait_s, double *seen)
{
    double end = jd_now() + wait_s, first = 0;
    int run = 0;
    for (;;) {
        int r = jd_probes(j, true, seen);
        if (r < 0)
            return -1;
        double now = jd_now();
        if (r == 0)
            run = 0;
        else if (run++ == 0)
            first = now;
        if (run >= JD_SETTLED_N && now - first >= JD_SETTLED_S)
            return 1;
        if (now > end)
            return 0;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

/* Waits up to wait_s for the device to become idle (probing every few ms).
 * 1 idle, 0 still busy at the end (*seen: the last best), -1 error. */
static int jd_wait_idle(jd_state *j, double wait_s, double *seen)
{
    double end = jd_now() + wait_s;
    for (;;) {
        int r = jd_idle(j, seen);
        if (r != 0 || jd_now() > end) return r;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
}

/* A batch's results: jd_res_begin zeroes them, jd_res_take(words) hands
 * out words (an index into res and hres; -1 with j->err when they run
 * out), kernels add into &res[i] on the judge's stream, and jd_res_read
 * brings all of them back into hres at once. 0 or -1 (j->err). */
static int jd_res_begin(jd_state *j)
{
    JCK(cudaMemsetAsync(j->res, 0, JD_RES_WORDS * sizeof *j->res, j->st));
    j->nres = 0;
    return 0;
}

static int jd_res_take(jd_state *j, int words)
{
    if (words < 0 || j->nres + words > JD_RES_WORDS) {
        snprintf(j->err, sizeof j->err, "harness: a batch's checks need more than %d result words", JD_RES_WORDS);
        return -1;
    }
    j->nres += words;
    return j->nres - words;
}

static int jd_res_read(jd_state *j)
{
    if (j->nres)
        JCK(cudaMemcpyAsync(j->hres, j->res, j->nres * sizeof *j->res, cudaMemcpyDeviceToHost, j->st));
    JCK(cudaStreamSynchronize(j->st));
    return 0;
}

/* *slot (device, zeroed) += the hash of bytes at p (a multiple of 4),
 * enqueued. 0 or -1 (j->err). */
static int jd_hash_to(jd_state *j, const void *p, size_t bytes, unsigned long long *slot)
{
    jd_hash_words<<<reduce_grid(bytes / 4), 256, 0, j->st>>>((const unsigned *)p, bytes / 4, slot);
    JCK(cudaGetLastError());
    return 0;
}

/* *slot (device, zeroed) += the count of non-finite elements of n at p,
 * enqueued. 0 or -1 (j->err). */
template <typename T> static int jd_nonfinite_to(jd_state *j, const T *p, size_t n, unsigned long long *slot)
{
    jd_count_nonfinite<T><<<reduce_grid(n), 256, 0, j->st>>>(p, n, slot);
    JCK(cudaGetLastError());
    return 0;
}

/* The hash of bytes at p (a multiple of 4), alone. 0 or -1 (j->err). */
static int jd_hash(jd_state *j, const void *p, size_t bytes, unsigned long long *out)
{
    JCK(cudaMemsetAsync(j->cnt, 0, sizeof *j->cnt, j->st));
    if (jd_hash_to(j, p, bytes, j->cnt))
        return -1;
    JCK(cudaMemcpyAsync(out, j->cnt, sizeof *out, cudaMemcpyDeviceToHost, j->st));
    JCK(cudaStreamSynchronize(j->st));
    return 0;
}

/* The judge's draws (each call's input seeds, each check's seed, the rows a
 * check samples): SipHash-2-4 keyed by the judge's seed and the shape, of a
 * counter (kernels/common/prf.h). A candidate that solved one call's seed
 * from the inputs it was given learns nothing of the next call's inputs or
 * of the check's vector: splitmix64's stream, used before, runs forward
 * from any one of its outputs. */
static uint64_t jd_rng_key[2], jd_rng_ctr;
static unsigned long long jd_draw(void)
{
    return spak_siphash_u64(jd_rng_key, jd_rng_ctr++);
}

/* The judge's seed: drawn from the OS (getrandom) once, in the parent;
 * --seed is ignored (a seed on the command line is one the candidate could
 * read). It is written only into the finished records. */
static unsigned long long jd_seed;
static int jd_draw_seed(void)
{
    return getrandom(&jd_seed, sizeof jd_seed, 0) == (ssize_t)sizeof jd_seed ? 0 : -1;
}
/* Each shape's child: its own stream of draws, from the seed and the shape. */
static void jd_seed_for(long shape_key)
{
    jd_rng_key[0] = jd_seed;
    jd_rng_key[1] = splitmix64((unsigned long long)shape_key);
    jd_rng_ctr = 0;
}

/* The runner and the family's baseline .so beside the judge (this
 * executable's folder: spak-runner-cuda, cuda/<family>/<base_so>). 0, or -1
 * with a message on stderr. */
static int find_judge_parts(const char *family, const char *base_so, char *runner, size_t nr, char *base, size_t nb)
{
    if (cj_find_runner(runner, nr)) {
        fprintf(stderr, "%s: spak-runner-cuda is missing beside the harness\n", SPAK_HARNESS_PROG);
        return -1;
    }
    size_t l = strlen(runner) - strlen("spak-runner-cuda");
    if (snprintf(base, nb, "%.*scuda/%s/%s", (int)l, runner, family, base_so) >= (int)nb || access(base, R_OK)) {
        fprintf(stderr, "%s: the baseline %s is missing beside the harness\n", SPAK_HARNESS_PROG, base);
        return -1;
    }
    if (jd_draw_seed()) {
        fprintf(stderr, "%s: getrandom failed\n", SPAK_HARNESS_PROG);
        return -1;
    }
    return 0;
}

/* A record's JSON with extra fields set (takes rec, returns a new string). */
static char *with_fields(char *rec, json_t *extra)
{
    json_t *o = rec ? json_loads(rec, 0, NULL) : NULL;
    free(rec);
    if (!o) {
        json_decref(extra);
        return NULL;
    }
    json_object_update(o, extra);
    json_decref(extra);
    return hc_dump(o);
}

/* The chip's rate bound for the impossible-result check: SMs x the highest
 * SM clock x dense tensor flop/cycle/SM of the dtype (0 fp32, computed at
 * most at the TF32 rate; 1, 2 fp16/bf16), by compute capability. 0 when the
 * architecture is not in the table (then nothing is failed as impossible,
 * and the record says so). text gets how it was computed. */
static double jd_bound_tflops(int cc, int sms, int max_mhz, int dtype, char *text, size_t n)
{
    int major = cc / 10, fpc = 0;
    if (major == 8) fpc = dtype == 0 ? 1024 : 2048;
    else if (major == 9) fpc = dtype == 0 ? 2048 : 4096;
    else if (major == 10) fpc = dtype == 0 ? 4096 : 8192;
    if (!fpc || sms <= 0 || max_mhz <= 0) {
        snprintf(text, n, "no bound for sm_%d", cc);
        return 0;
    }
    snprintf(text, n, "%d SMs x %d MHz x %d flop/cycle (%s tensor, sm_%d)", sms, max_mhz, fpc,
             dtype == 0 ? "tf32" : "fp16/bf16", cc);
    return (double)sms * max_mhz * 1e6 * fpc / 1e12;
}
#define JD_BOUND_MARGIN 1.25

/* One batch: the call (ncalls calls on the sets its items name: call(rc,
 * &sync_err) sends it, cj_side_call's codes) of side, timed by the judge
 * between two idle checks. 0: ran (*dt seconds); 1: the side failed (why);
 * 2: the device was busy before the call (interference, why); 3: work
 * seemed left outside the given stream; 4: the device seemed busy after
 * DONE (3 and 4: why; jd_batch_with confirms them); -1: harness error
 * (j->err). */
template <typename Call>
static int jd_batch_once(jd_state *j, cj_side *side, int ncalls, double *dt, char *why, size_t nwhy, Call call,
                         double idle_wait_s)
{
    int rc[RP_MAX_BATCH], sync_err = 0;
    double seen = 0, t0 = hc_now_s(), t1;
    int r = jd_wait_idle(j, idle_wait_s, &seen);
    hd_part("idle_before", (t1 = hc_now_s()) - t0);
    if (r < 0)
        return -1;
    if (r == 0) {
        snprintf(why, nwhy, "interference: the device was busy before the %s's call with every runner frozen "
                 "(probe %.0f us, alone %.0f us): another process uses the GPU", side->label, seen * 1e6,
                 j->solo_s * 1e6);
        return 2;
    }
    r = call(rc, &sync_err);
    hd_part("calls", (t0 = hc_now_s()) - t1);
    if (r)
        return 1;
    for (int k = 0; k < ncalls; k++)
        if (rc[k] != 0) {
            snprintf(why, nwhy, "the %s returned %d (%s) on call %d of the batch", side->label, rc[k],
                     cudaGetErrorName((cudaError_t)rc[k]), k + 1);
            return 1;
        }
    if (sync_err) {
        snprintf(why, nwhy, "CUDA error in the %s's process after its calls: %s", side->label,
                 cudaGetErrorName((cudaError_t)sync_err));
        return 1;
    }
    r = jd_idle(j, &seen);
    hd_part("idle_after", hc_now_s() - t0);
    j->after_s = seen;
    if (r < 0)
        return -1;
    if (r == 0) {
        struct clocks ck = nvml_sample();
        snprintf(why, nwhy, "work of the %s was still running on the device after its call returned (probe "
                 "%.0f us, alone %.0f us; SM clock %d MHz)", side->label, seen * 1e6, j->solo_s * 1e6, ck.sm_mhz);
        return 4;
    }
    /* the ABI: all work on the given stream. Work left elsewhere was timed
     * (the runner synchronized the device before DONE), but it is a
     * contract violation and the shape of an early-return cheat */
    if (side->late_s > JD_LATE_S && side->late_s > 0.05 * *dt) {
        snprintf(why, nwhy, "work left outside the given stream after the call returned: the device "
                 "synchronization waited %.0f us after the stream was done (the ABI: all work on `stream`)",
                 side->late_s * 1e6);
        return 3;
    }
    return 0;
}

/* jd_batch_once, confirmed when it saw a contract violation that a
 * one-off can also look like: work left outside the given stream (3: the
 * device synchronization after the stream's is a host clock in the
 * candidate's process, and a descheduled runner thread, seen: 470 us for an
 * honest FMHA rung on the H100, reads like work left on another stream) and
 * the device busy after DONE (4: seen on honest rungs and on cuBLAS itself
 * after long batches of large shapes on the H100, probe 150-170 us against
 * 65 us alone; cause not found). Either is a property of the code, so it
 * trips again. The confirmation, at most once a side and shape (a side that
 * could redo any batch it liked would keep the fast ones):
 *  - a 4 whose probe is over JD_CONFIRM_MAX x solo is work left running:
 *    it fails at once;
 *  - after a 4 the device must settle within 2 s (JD_SETTLED_N strict idle
 *    checks in a row over JD_SETTLED_S: the runner is frozen, so nothing of
 *    it can start more work, and a resident kernel keeps probes slow); not
 *    settled, the side fails;
 *  - refill() writes fresh inputs and poisons the outputs (the repeat must
 *    compute again: the first batch's outputs, or a copy kept of them, are
 *    no answer to new inputs);
 *  - the repeat's idle check before its call does not wait: work there now
 *    was the side's (every runner frozen, the device settled before the
 *    refill), so a busy device fails the side, as does a second 3 or 4;
 *  - the time kept is the slower of the two attempts (nothing to gain from
 *    a repeat of a batch that ran fast).
 * Every kind of call comes here, so every protection of a timed batch is
 * one code. Returns as jd_batch_once, 2 only from the first attempt, 3 and
 * 4 never. */
template <typename Call, typename Refill>
static int jd_batch_with(jd_state *j, cj_side *side, int ncalls, double *dt, char *why, size_t nwhy, Call call,
                         Refill refill)
{
    int r = jd_batch_once(j, side, ncalls, dt, why, nwhy, call, JD_IDLE_WAIT_S);
    if (r != 3 && r != 4)
        return r;
    size_t l = strlen(why);
    if (side->confirmed) {
        snprintf(why + l, nwhy - l, "; a second time in this shape (one repeat to confirm a side and shape)");
        return 1;
    }
    if (r == 4 && j->after_s > JD_CONFIRM_MAX * j->solo_s)
        return 1;
    side->confirmed++;
    double first_dt = *dt, seen = 0;
    if (r == 4) {
        int settled = jd_wait_settled(j, JD_IDLE_WAIT_S, &seen);
        if (settled < 0)
            return -1;
        if (settled == 0) {
            snprintf(why + l, nwhy - l, ", and the device not settled 2 s later (probe %.0f us)", seen * 1e6);
            return 1;
        }
    }
    fprintf(stderr, "spak judge: %s; the batch repeated on fresh inputs to confirm\n", why);
    char first[512];
    snprintf(first, sizeof first, "%s", why);
    if (refill())
        return -1;
    r = jd_batch_once(j, side, ncalls, dt, why, nwhy, call, 0.0);
    if (r == 2 || r == 3 || r == 4) {
        char both[1100];
        snprintf(both, sizeof both, "%s; confirmed by a repeat on fresh inputs: %s", first,
                 r == 2 ? "the device busy before the repeat's call" : why);
        size_t m = std::min(strlen(both), nwhy - 1); /* as much as why holds */
        memcpy(why, both, m);
        why[m] = '\0';
        return 1;
    }
    if (r == 0)
        *dt = std::max(*dt, first_dt);
    return r;
}

/* jd_batch_with for a family's CALL; refill() as there (0 or -1 with
 * j->err). */
template <typename Refill>
static int jd_batch(jd_state *j, cj_side *side, const cp_call *c, double timeout_s, double *dt, char *why,
                    size_t nwhy, Refill refill)
{
    return jd_batch_with(
        j, side, c->n, dt, why, nwhy,
        [&](int *rc, int *sync_err) { return cj_side_call(side, c, timeout_s, dt, rc, sync_err, why, nwhy); }, refill);
}

/* jd_batch for a declared kernel's launches (KCALL) */
template <typename Refill>
static inline int jd_kbatch(jd_state *j, cj_side *side, const cp_kcall *c, double timeout_s, double *dt, char *why,
                            size_t nwhy, Refill refill)
{
    return jd_batch_with(
        j, side, c->n, dt, why, nwhy,
        [&](int *rc, int *sync_err) { return cj_side_kcall(side, c, timeout_s, dt, rc, sync_err, why, nwhy); },
        refill);
}

#endif
