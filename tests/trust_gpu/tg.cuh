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
