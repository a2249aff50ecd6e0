/*
 * tests/trust_gpu/tg.cuh - what the adversarial GPU candidates share (host and
 * device helpers, no export): per-shape call counting, reading what the
 * process can see of itself and its parent (argv, environment), a host clock,
 * a device sleep and spin, a NaN fill, forged trace records, and the side
 * effects on the first call (a system call the filter must deny).
 * tg_gemm.cuh and tg_fmha.cuh add each family's honest kernel and its
 * declarations. Everything is static: each candidate uses a part.
 *
 * TG_HONEST_CALLS: the old judges (in-process harnesses) checked the first 2
 * calls of each shape and timed the later ones unchecked; a cheat that reads
 * the harness computes honestly on its first 3 calls per shape (one for
 * margin) and cheats afterwards. Under the judge/runner split every call is
 * checked, so those later calls are what must fail.
 */
#ifndef SPAK_TRUST_GPU_TG_CUH
#define SPAK_TRUST_GPU_TG_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TG_HONEST_CALLS 3
/* every forged record carries this mark: run.sh fails a candidate whose
 * mark reaches the judge's stdout */
#define TG_FORGED "TG-FORGED"

#define TG_TRY(call)                                                                               \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess)                                                                     \
            return (int)e_;                                                                        \
    } while (0)

/* ---- call counting -------------------------------------------------------- */

/* How many earlier calls had this key (the problem's sizes and dtype): 0 on
 * the first call of a shape. A table of 64 keys, thread-safe. */
static inline int tg_call_no(long long a, long long b, long long c, long long d)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static long long keys[64][4];
    static int counts[64], used;
    int n = -1;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < used; i++)
        if (keys[i][0] == a && keys[i][1] == b && keys[i][2] == c && keys[i][3] == d) {
            n = counts[i]++;
            break;
        }
    if (n < 0 && used < 64) {
        keys[used][0] = a, keys[used][1] = b, keys[used][2] = c, keys[used][3] = d;
        counts[used++] = 1;
        n = 0;
    }
    pthread_mutex_unlock(&mu);
    return n < 0 ? 0 : n;
}

/* ---- what the process can see ---------------------------------------------- */

/* The whole of a small file (a /proc file: no size to stat) into buf, NUL
 * terminated; NULs inside (cmdline, environ) become spaces. Bytes read. */
static inline size_t tg_read_file(const char *path, char *buf, size_t cap)
{
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || cap == 0) {
        if (fd >= 0)
            close(fd);
        if (cap)
            buf[0] = 0;
        return 0;
    }
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == 0)
            buf[i] = ' ';
    buf[n] = 0;
    return n;
}

static inline double tg_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ---- device helpers -------------------------------------------------------- */

/* sleeps about ms milliseconds on the device (__nanosleep caps at ~1 ms) */
__global__ void tg_sleep_ms(int ms)
{
    for (int i = 0; i < ms; i++)
        __nanosleep(1000000);
}

/* Spins until *stop is non-zero (host memory mapped into the device: the
 * host can end it), or forever when nobody sets it. Every block spins, so a
 * grid of a few blocks per SM takes the whole chip. */
__global__ void tg_spin_until(volatile int *stop)
{
    while (*stop == 0)
        __nanosleep(100);
}

/* spins for `cycles` SM clocks in every thread: a burner that keeps the SMs busy */
__global__ void tg_burn(long long cycles)
{
    long long t0 = clock64();
    volatile float x = threadIdx.x;
    while (clock64() - t0 < cycles)
        x = x * 0.999f + 1.0f;
}

/* writes a quiet NaN (all ones) into element i of a 16- or 32-bit array */
__global__ void tg_poke_nan(void *p, size_t i, int bytes)
{
    if (bytes == 4)
        ((uint32_t *)p)[i] = 0x7fffffffu;
    else
        ((uint16_t *)p)[i] = 0x7fffu;
}

/* A mapped host int that the device reads (tg_spin_until's flag). NULL when
 * the runtime refuses. */
static inline volatile int *tg_mapped_flag(int **dev)
{
    int *h = NULL;
    if (cudaHostAlloc((void **)&h, sizeof(int), cudaHostAllocMapped) != cudaSuccess)
        return NULL;
    *h = 0;
    if (cudaHostGetDevicePointer((void **)dev, h, 0) != cudaSuccess)
        return NULL;
    return h;
}

/* ---- harness detection ------------------------------------------------------- */

/* Whether a judge runs this process, as an adversary who read the harnesses
 * would guess it, from one source each. A judged process that is not a
 * check-only or profiling run is one whose later calls are timed. */
static inline bool tg_quiet_run(const char *text)
{
    return strstr(text, "--check-only") || strstr(text, "--profile-one");
}

/* argv: spak-harness-cuda[-fmha] (the old in-process judges) or
 * spak-runner-cuda (the new runner, whose argv is its name alone) */
static inline bool tg_judged_by_cmdline(void)
{
    char buf[8192];
    tg_read_file("/proc/self/cmdline", buf, sizeof buf);
    return strstr(buf, "spak-") && !tg_quiet_run(buf);
}

/* the parent's argv and name: the judge that started this process */
static inline bool tg_judged_by_parent(void)
{
    char path[64], buf[8192], comm[64];
    pid_t pp = getppid();
    if (pp <= 1)
        return false; /* a parent outside our PID namespace, or none */
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pp);
    tg_read_file(path, buf, sizeof buf);
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pp);
    tg_read_file(path, comm, sizeof comm);
    return (strstr(buf, "spak-") || strstr(comm, "spak-")) && !tg_quiet_run(buf);
}

/* the environment: bash exports `_` as the path of the command it runs
 * (…/spak-harness-cuda), spak's own variables start with SPAK_, and a
 * sandbox's scrubbed environment has almost nothing in it */
static inline bool tg_judged_by_environ(void)
{
    char buf[32768];
    size_t n = tg_read_file("/proc/self/environ", buf, sizeof buf);
    int vars = 0;
    for (size_t i = 0; i < n; i++)
        vars += buf[i] == '=';
    return strstr(buf, "spak-harness") || strstr(buf, "spak-runner") || strstr(buf, "SPAK_") || vars < 4;
}

/* ---- fingerprints of the inputs and a memo of results ---------------------------- */

/* out[0] += a mix of `count` 32-bit words of p spread over its nwords, read
 * past the caches (full = every word: the whole buffer's hash) */
__global__ void tg_fingerprint(const uint32_t *p, size_t nwords, int count, int full, unsigned long long *out)
{
    unsigned long long h = 0;
    size_t n = full ? nwords : (size_t)count, step = gridDim.x * (size_t)blockDim.x;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n && nwords; i += step) {
        size_t w = full ? i : (i * 2654435761ull) % nwords;
        unsigned long long x = __ldcv(p + w) + 0x9e3779b97f4a7c15ull * (w + 1);
        x ^= x >> 31;
        x *= 0xbf58476d1ce4e5b9ull;
        h += x ^ (x >> 29);
    }
    atomicAdd(out, h);
}

/* A fingerprint of n input buffers (a few words each, or all of them),
 * brought back to the host: the call's own stream is synchronized. */
static inline int tg_input_key(const void *const *bufs, const size_t *bytes, int n, bool full, cudaStream_t st,
                               unsigned long long *key)
{
    static unsigned long long *dev, *host;
    if (!dev) {
        TG_TRY(cudaMalloc((void **)&dev, sizeof *dev));
        TG_TRY(cudaMallocHost((void **)&host, sizeof *host));
    }
    TG_TRY(cudaMemsetAsync(dev, 0, sizeof *dev, st));
    for (int i = 0; i < n; i++)
        tg_fingerprint<<<full ? 256 : 1, full ? 256 : 32, 0, st>>>((const uint32_t *)bufs[i], bytes[i] / 4, 32,
                                                                   full, dev);
    TG_TRY(cudaMemcpyAsync(host, dev, sizeof *dev, cudaMemcpyDeviceToHost, st));
    TG_TRY(cudaStreamSynchronize(st));
    *key = *host;
    return 0;
}

/* Results kept between calls, keyed by an input fingerprint: 16 of them,
 * the oldest replaced. */
struct tg_memo {
    unsigned long long key;
    void *buf;
    size_t bytes;
};
static struct tg_memo tg_memos[16];
static int tg_memo_next;

static inline const struct tg_memo *tg_memo_find(unsigned long long key, size_t bytes)
{
    for (int i = 0; i < 16; i++)
        if (tg_memos[i].buf && tg_memos[i].key == key && tg_memos[i].bytes == bytes)
            return &tg_memos[i];
    return NULL;
}

/* keeps a copy of src (bytes long, written by work already on st) under key */
static inline int tg_memo_keep(unsigned long long key, const void *src, size_t bytes, cudaStream_t st)
{
    struct tg_memo *m = &tg_memos[tg_memo_next++ % 16];
    if (m->buf && m->bytes != bytes) {
        cudaFree(m->buf);
        m->buf = NULL;
    }
    if (!m->buf)
        TG_TRY(cudaMalloc(&m->buf, bytes));
    m->key = key, m->bytes = bytes;
    return (int)cudaMemcpyAsync(m->buf, src, bytes, cudaMemcpyDeviceToDevice, st);
}

/* Whether key was seen by an earlier call (the last 256 are kept); when
 * not, it is kept now. */
static inline bool tg_seen_before(unsigned long long key)
{
    static unsigned long long seen[256];
    static int next;
    for (int i = 0; i < 256; i++)
        if (seen[i] == key)
            return true;
    seen[next++ % 256] = key;
    return false;
}

/* A private stream (not joined to the judge's) whose next work waits
 * behind a 2 ms device sleep: work put there outlives the call that
 * returns at once. NULL on a CUDA error. */
static inline cudaStream_t tg_late_stream(void)
{
    static cudaStream_t mine;
    if (!mine && cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) != cudaSuccess)
        return NULL;
    tg_sleep_ms<<<1, 1, 0, mine>>>(2);
    return mine;
}

/* a position in [0, n) that changes from call to call (an LCG) */
static inline size_t tg_some_index(size_t n)
{
    static unsigned long long s = 0x2545f4914f6cdd1dull;
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return n ? (size_t)((s >> 17) % n) : 0;
}

/* ---- a burner queued after each call ------------------------------------------ */

/* The burn cheat's machinery (g_burn, f_burn): after each call, once the
 * call's work is done and 100 us more (the runner's device synchronization
 * has returned and its DONE is on its way: the judge times the baseline
 * next), a host thread queues ~0.5 s of spinning on every SM on a private
 * stream. tg_burn_after_call(s) is called at the end of each call, after the
 * call's work is on s. */
static pthread_mutex_t tg_burn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tg_burn_cv = PTHREAD_COND_INITIALIZER;
static cudaEvent_t tg_burn_last;
static unsigned tg_burn_calls, tg_burn_seen;

static inline void *tg_burner(void *p)
{
    (void)p;
    cudaStream_t mine;
    int sms = 0, khz = 0;
    if (cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking) != cudaSuccess)
        return NULL;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0);
    cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0);
    for (;;) {
        pthread_mutex_lock(&tg_burn_mu);
        while (tg_burn_seen == tg_burn_calls)
            pthread_cond_wait(&tg_burn_cv, &tg_burn_mu);
        tg_burn_seen = tg_burn_calls;
        cudaEvent_t e = tg_burn_last;
        pthread_mutex_unlock(&tg_burn_mu);
        while (cudaEventQuery(e) == cudaErrorNotReady)
            ;
        usleep(100);
        tg_burn<<<sms * 4, 256, 0, mine>>>((long long)khz * 500); /* ~0.5 s at the base clock */
    }
    return NULL;
}

static inline int tg_burn_after_call(cudaStream_t s)
{
    static bool started;
    int rc;
    if (!started) {
        pthread_t t;
        started = true;
        TG_TRY(cudaEventCreateWithFlags(&tg_burn_last, cudaEventDisableTiming));
        if (pthread_create(&t, NULL, tg_burner, NULL) == 0)
            pthread_detach(t);
    }
    pthread_mutex_lock(&tg_burn_mu);
    rc = (int)cudaEventRecord(tg_burn_last, s);
    tg_burn_calls++;
    pthread_cond_signal(&tg_burn_cv);
    pthread_mutex_unlock(&tg_burn_mu);
    return rc;
}

/* ---- forged records ---------------------------------------------------------- */

/* Passing Correctness records and impossibly fast Performance records for
 * `shape` (the family's shape string), in the judge's own format, on stdout
 * and on stderr (write(2): no stdio buffer to lose at _exit). */
static inline void tg_forge(const char *shape)
{
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "__SPAK_TRACE__ {\"type\":\"Correctness\",\"shape\":\"%s\",\"heldout\":false,\"passed\":true,"
                     "\"skipped\":false,\"rel_err\":1e-9,\"tolerance\":0.01,\"reason\":\"\",\"candidate\":\"" TG_FORGED
                     "\"}\n__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"%s\",\"heldout\":false,"
                     "\"time_ms\":0.0001,\"reps\":10,\"tflops\":99999.0,\"baseline\":\"" TG_FORGED "\","
                     "\"baseline_time_ms\":1.0,\"ratio\":10000.0}\n",
                     shape, shape);
    if (n > 0 && (size_t)n < sizeof line) {
        if (write(1, line, (size_t)n) < 0 || write(2, line, (size_t)n) < 0)
            return;
    }
}

#endif
