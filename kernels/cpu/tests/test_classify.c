/*
 * kernels/cpu/tests/test_classify.c - the CPU bottleneck class
 * (kernels/cpu/common/classify.h) on kernels of known character, timed here
 * for real: a streaming copy (memory), a dense FMA loop (compute), a
 * pointer chase through a random cycle (latency), a tiny kernel that starts
 * a thread on every call (overhead) and the FMA loop on one core of a
 * machine declared to have more (parallelism). Each kernel's flops and
 * traffic are known from its code (what the judge gets from a traffic
 * model); its time, and the ceilings it is held against, are measured, on
 * one core: the FMA peak by 6 independent FMA chains (the kernel has 4), the bandwidth by a
 * read-only sum, neither of them the kernel under test. Then the classifier
 * on fixed inputs: the compulsory traffic as a lower bound says "unknown"
 * rather than a class it cannot prove, and the matmul traffic models
 * (kernels/cpu/matmul/traffic.c) reread what the rung's loops reread.
 * Built as $(O)/tests/test_cpu_classify (kernels/cpu/cpu.mk).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/classify.h"
#include "../matmul/traffic.h"
#include "tap.h"

typedef float v8 __attribute__((vector_size(32)));

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static volatile float sink;

/* the best (least) time of one call of fn(arg) over reps calls: the least
 * disturbed by the other processes of a shared machine */
static double best_of(void (*fn)(void *), void *arg, int reps)
{
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fn(arg);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

/* ---- the ceilings (one core) ------------------------------------------- */

typedef struct fma_job {
    long iters;
    int chains; /* 6: the peak; 4: the kernel under test (x 2 SSE registers each, of 16) */
} fma_job;

static void fma_loop(void *p)
{
    const fma_job *j = p;
    v8 m = {0.999999f, 0.999999f, 0.999999f, 0.999999f, 0.999999f, 0.999999f, 0.999999f, 0.999999f};
    v8 c = m * 1e-6f, a0 = m, a1 = m + 1, a2 = m + 2, a3 = m + 3, a4 = m + 4, a5 = m + 5;
    if (j->chains == 6)
        for (long t = 0; t < j->iters; t++) {
            a0 = a0 * m + c, a1 = a1 * m + c, a2 = a2 * m + c;
            a3 = a3 * m + c, a4 = a4 * m + c, a5 = a5 * m + c;
        }
    else
        for (long t = 0; t < j->iters; t++) a0 = a0 * m + c, a1 = a1 * m + c, a2 = a2 * m + c, a3 = a3 * m + c;
    v8 s = a0 + a1 + a2 + a3 + a4 + a5;
    sink = s[0] + s[7];
}

typedef struct buf_job {
    float *src, *dst;
    size_t n;
} buf_job;

static void read_sum(void *p)
{
    const buf_job *j = p;
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    const v8 *v = (const v8 *)j->src;
    for (size_t i = 0; i + 4 <= j->n / 8; i += 4) s0 += v[i], s1 += v[i + 1], s2 += v[i + 2], s3 += v[i + 3];
    v8 s = s0 + s1 + s2 + s3;
    sink = s[0];
}

static void stream_copy(void *p)
{
    const buf_job *j = p;
    memcpy(j->dst, j->src, j->n * sizeof(float));
}

/* ---- a pointer chase: one random cycle through n slots of a cache line -- */

typedef struct chase_job {
    size_t *next; /* 8 per line: next[8 * i] is the line after line i */
    size_t lines, steps;
} chase_job;

static void chase(void *p)
{
    const chase_job *j = p;
    size_t at = 0;
    for (size_t s = 0; s < j->steps; s++) at = j->next[8 * at];
    sink = (float)at;
}

/* ---- a tiny kernel that starts a thread on every call ------------------ */

typedef struct tiny_job {
    long iters;
} tiny_job;

static void *tiny_work(void *p)
{
    fma_job j = {((tiny_job *)p)->iters, 4};
    fma_loop(&j);
    return NULL;
}

static void tiny_call(void *p)
{
    pthread_t t;
    if (pthread_create(&t, NULL, tiny_work, p) == 0)
        pthread_join(t, NULL);
    else
        tiny_work(p);
}

static cpu_class_out classify(double flops, double t, double bytes, const char *src, double peak_gf, double bw,
                              double fixed, int threads, int used)
{
    cpu_class_in in = {.flops = flops, .time_s = t, .bytes = bytes, .traffic_source = src, .peak_gflops = peak_gf,
                       .peak_gbps = bw, .fixed_s = fixed, .threads = threads, .threads_used = used};
    cpu_class_out o;
    cpu_classify(&in, &o);
    printf("#   %s\n", o.why);
    return o;
}

static void measured_kernels(void)
{
    /* ceilings on one core */
    fma_job peak = {8000000, 6};
    double t_peak = best_of(fma_loop, &peak, 5), peak_gf = 6.0 * 8 * 2 * (double)peak.iters / t_peak * 1e-9;
    size_t n = (size_t)32 << 20; /* 128 MiB of floats per buffer: beyond the L2 of any core */
    buf_job b = {aligned_alloc(64, n * 4), aligned_alloc(64, n * 4), n};
    if (!b.src || !b.dst) {
        TAP_OK(0, "128 MiB buffers");
        return;
    }
    for (size_t i = 0; i < n; i++) b.src[i] = (float)(i & 1023), b.dst[i] = 0;
    double t_read = best_of(read_sum, &b, 5), bw = 4.0 * (double)n / t_read * 1e-9;
    printf("# ceilings, one core: %.1f GFLOP/s (6 FMA chains), %.1f GB/s (a read-only sum of 128 MiB)\n", peak_gf,
           bw);
    TAP_OK(peak_gf > 1 && bw > 0.5, "the ceilings were measured (%.1f GFLOP/s, %.1f GB/s)", peak_gf, bw);

    /* a streaming copy: no flops, 8 bytes (read + write) per float */
    double t = best_of(stream_copy, &b, 5);
    cpu_class_out o = classify(0, t, 8.0 * (double)n, CPU_TRAFFIC_MODELLED, peak_gf, bw, NAN, 1, 0);
    TAP_STREQ(o.cls, "memory", "a streaming copy is memory-bound (%.0f%% of the bandwidth)", 100 * o.frac_bw);

    /* a dense FMA loop: 4 chains in registers, no traffic */
    fma_job dense = {8000000, 4};
    t = best_of(fma_loop, &dense, 5);
    o = classify(4.0 * 8 * 2 * (double)dense.iters, t, 256, CPU_TRAFFIC_MODELLED, peak_gf, bw, NAN, 1, 0);
    TAP_STREQ(o.cls, "compute", "a dense FMA loop is compute-bound (%.0f%% of the FMA peak)", 100 * o.frac_flops);

    /* the same loop on one core of a machine of 4 (the ceilings x 4, as the
     * judge's would be): the core it uses is busy, the others idle */
    o = classify(4.0 * 8 * 2 * (double)dense.iters, t, 256, CPU_TRAFFIC_MODELLED, 4 * peak_gf, 4 * bw, NAN, 4, 1);
    TAP_STREQ(o.cls, "parallelism", "the FMA loop on 1 core of 4 is parallelism-bound");

    /* a pointer chase: one dependent load per step, a cache line each */
    size_t lines = n * 4 / 64; /* the 128 MiB source buffer as lines */
    size_t *next = (size_t *)b.src, *order = malloc(lines * sizeof *order);
    if (!order) {
        TAP_OK(0, "chase order");
        return;
    }
    for (size_t i = 0; i < lines; i++) order[i] = i;
    uint64_t x = 88172645463325252ull;
    for (size_t i = lines - 1; i > 0; i--) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t k = (size_t)(x % (i + 1)), tmp = order[i];
        order[i] = order[k], order[k] = tmp;
    }
    for (size_t i = 0; i < lines; i++) next[8 * order[i]] = order[(i + 1) % lines];
    chase_job cj = {next, lines, 2000000};
    t = best_of(chase, &cj, 3);
    o = classify(0, t, 64.0 * (double)cj.steps, CPU_TRAFFIC_MODELLED, peak_gf, bw, NAN, 1, 0);
    TAP_STREQ(o.cls, "latency", "a pointer chase is latency-bound (%.0f ns a step, %.0f%% of the bandwidth)",
              t / (double)cj.steps * 1e9, 100 * o.frac_bw);
    free(order);

    /* a tiny kernel that starts a thread per call, at two sizes: the fixed
     * cost from the pair (cpu_fixed_cost) is most of the small call */
    tiny_job small = {64}, big = {8192};
    double ts[2] = {best_of(tiny_call, &small, 200), best_of(tiny_call, &big, 200)};
    double fl[2] = {4.0 * 8 * 2 * 64, 4.0 * 8 * 2 * 8192};
    double fixed = cpu_fixed_cost(fl, ts, NULL, 2);
    o = classify(fl[0], ts[0], 256, CPU_TRAFFIC_MODELLED, peak_gf, bw, fixed, 1, 0);
    TAP_STREQ(o.cls, "overhead", "a tiny kernel that starts a thread per call is overhead-bound (fixed %.1f us of "
              "%.1f us)", fixed * 1e6, ts[0] * 1e6);
    free(b.src);
    free(b.dst);
}

static void fixed_inputs(void)
{
    /* the fixed cost: none when time scales with the work, none when the
     * small shape is faster per flop (cache), unknown from one shape */
    double fl[3] = {1e6, 8e6, 64e6}, scaling[3] = {1e-3, 8e-3, 64e-3}, cached[3] = {0.5e-3, 8e-3, 64e-3};
    double fixed[3] = {1e-3 + 1e-3, 1e-3 + 8e-3, 1e-3 + 64e-3};
    TAP_OK(cpu_fixed_cost(fl, scaling, NULL, 3) < 1e-9, "time proportional to work: no fixed cost");
    TAP_OK(cpu_fixed_cost(fl, cached, NULL, 3) == 0, "a small shape faster per flop is no fixed cost");
    TAP_OK(fabs(cpu_fixed_cost(fl, fixed, NULL, 3) - 1e-3) < 1e-9, "a 1 ms fixed cost is found from the two least shapes");
    TAP_OK(isnan(cpu_fixed_cost(fl, scaling, NULL, 1)), "one shape: the fixed cost is unknown");
    /* a causal shape counts half the flops of its plain twin; a kernel that
     * computes the masked half anyway takes the same time for both: that is
     * no fixed cost (seen: naive attention read "overhead, fixed cost 100%") */
    double fl_c[2] = {2e9, 1e9}, same[2] = {1.45, 1.45};
    int conv_c[2] = {0, 1};
    TAP_OK(isnan(cpu_fixed_cost(fl_c, same, conv_c, 2)), "a plain and a causal shape are not a pair: unknown");
    TAP_OK(fabs(cpu_fixed_cost(fl_c, same, NULL, 2) - 1.45) < 1e-9,
           "the same two as one convention would read the whole call as fixed (what the convention prevents)");
    double fl4[4] = {1e6, 0.5e6, 8e6, 4e6}, t4[4] = {1e-3 + 1e-3, 1e-3 + 1e-3, 1e-3 + 8e-3, 1e-3 + 8e-3};
    int conv4[4] = {0, 1, 0, 1};
    TAP_OK(fabs(cpu_fixed_cost(fl4, t4, conv4, 4) - 1e-3) < 1e-9,
           "with both conventions, the plain pair gives the fixed cost (1 ms)");

    /* the naive matmul at 1024^3 running at 2 GFLOP/s: its modelled
     * traffic (B reread for every row of C) against 10 GB/s is memory; the
     * compulsory traffic alone proves nothing, and the class says so */
    cpu_shape sh = {.d = {1024, 1024, 1024}};
    char desc[200];
    double l2 = 2 << 20, flops = 2.0 * 1024 * 1024 * 1024, t = flops / 2e9;
    double naive = matmul_traffic(&sh, "naive", "", l2, desc, sizeof desc);
    double compulsory = 4.0 * 3 * 1024 * 1024;
    cpu_class_out o = classify(flops, t, naive, CPU_TRAFFIC_MODELLED, 200, 10, NAN, 2, 0);
    TAP_STREQ(o.cls, "memory", "naive 1024^3 at 2 GFLOP/s, modelled traffic %.0f MB: memory", naive * 1e-6);
    o = classify(flops, t, compulsory, CPU_TRAFFIC_COMPULSORY, 200, 10, NAN, 2, 0);
    TAP_STREQ(o.cls, "unknown", "the same with the compulsory traffic only: unknown, not latency");
    o = classify(flops, flops / 180e9, compulsory, CPU_TRAFFIC_COMPULSORY, 200, 10, NAN, 2, 0);
    TAP_STREQ(o.cls, "compute", "90%% of the FMA peak with the compulsory traffic only: compute");
    o = classify(1e6, 1e-3, 8e6, CPU_TRAFFIC_COMPULSORY, 200, 10, NAN, 2, 0);
    TAP_STREQ(o.cls, "memory", "minimum traffic at 80%% of the bandwidth: memory, whatever the rest");
    o = classify(flops, t, naive, CPU_TRAFFIC_MODELLED, 0, 0, NAN, 2, 0);
    TAP_STREQ(o.cls, "unknown", "no ceilings: unknown");

    /* the models: what each rung rereads */
    double reorder = matmul_traffic(&sh, "reorder", "", l2, desc, sizeof desc);
    double blocked = matmul_traffic(&sh, "blocked", "TILE_K=128", l2, desc, sizeof desc);
    double packed = matmul_traffic(&sh, "packed", "tile_k=384,THREADS=2", l2, desc, sizeof desc);
    printf("# 1024^3, L2 2 MiB: compulsory %.1f MB, naive %.0f, reorder %.0f, blocked %.1f, packed %.1f\n",
           compulsory * 1e-6, naive * 1e-6, reorder * 1e-6, blocked * 1e-6, packed * 1e-6);
    TAP_OK(naive >= 1024 * 4.0 * 1024 * 1024, "naive rereads B once per row of C (%.0f MB)", naive * 1e-6);
    TAP_OK(reorder > 100 * compulsory && blocked < reorder / 10 && packed < blocked && packed >= compulsory,
           "blocking cuts the traffic: naive/reorder >> blocked > packed >= compulsory");
    TAP_OK(matmul_traffic(&sh, "blocked", "TILE_M=16", l2, desc, sizeof desc) > blocked,
           "smaller row tiles reread B more often");
    cpu_shape small = {.d = {64, 64, 64}};
    TAP_OK(fabs(matmul_traffic(&small, "naive", "", l2, desc, sizeof desc) - 4.0 * 3 * 64 * 64) < 1,
           "operands that fit in L2: every model is the compulsory traffic");
    TAP_OK(matmul_traffic(&sh, "strassen", "", l2, desc, sizeof desc) < 0, "an unknown model is refused");
    TAP_OK(cpu_traffic_param("tile_k=384,THREADS=2", "TILE_K", 1) == 384 &&
               cpu_traffic_param("tile_k=384,THREADS=2", "threads", 1) == 2 &&
               cpu_traffic_param("TILE_K=x", "TILE_K", 7) == 7 && cpu_traffic_param("", "TILE_K", 7) == 7,
           "model parameters: case-blind keys, defaults for absent or bad values");
}

int main(void)
{
    fixed_inputs();
    measured_kernels();
    printf("1..%d\n", tap_n);
    return tap_failed != 0;
}
