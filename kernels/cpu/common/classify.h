/*
 * kernels/cpu/common/classify.h - the CPU judge's bottleneck class: which
 * resource bounds a candidate's measured time, from the numbers behind it.
 * Pure functions (no clock, no I/O), so that the class can be tested on
 * measured inputs of kernels of known character (kernels/cpu/tests/).
 *
 * The classes of the CPU target (docs/analysis.md lists every target's):
 *
 *   overhead     a fixed cost per call (thread start, allocation, setup) is
 *                at least half of the call's time
 *   parallelism  the cores the kernel runs on are saturated (FMA fraction per
 *                used core >= CPU_CLASS_SAT) but it uses fewer than there are
 *   memory       traffic / time is the larger fraction of its ceiling (the
 *                measured stream bandwidth) and at least CPU_CLASS_SAT of it
 *   compute      flops / time is the larger fraction of its ceiling (the
 *                measured FMA peak) and at least CPU_CLASS_SAT of it
 *   latency      neither ceiling is near (both fractions below
 *                CPU_CLASS_SAT with the candidate's traffic known): dependency
 *                chains, cache misses or synchronisation dominate
 *   unknown      the candidate's traffic is not known and the problem's
 *                minimum traffic does not decide (see below)
 *
 * Traffic. The class is judged on the candidate's traffic, never on the
 * problem's compulsory (minimum) traffic alone: a naive matmul rereads B
 * once per row of C. With a modelled traffic (a named model of the
 * candidate's loop nest and blocking, e.g. kernels/cpu/matmul/traffic.c)
 * every class can be decided. With only the compulsory traffic, a lower
 * bound of the real one, only what the bound proves is said: memory when
 * even the minimum traffic saturates the bandwidth more than the FMA units,
 * compute when the kernel reaches CPU_CLASS_COMPUTE_SURE of the FMA peak
 * whatever its traffic, else unknown, never latency (more traffic could
 * make it memory).
 */
#ifndef SPAK_CPU_CLASSIFY_H
#define SPAK_CPU_CLASSIFY_H

#include <stddef.h>

#define CPU_CLASS_SAT 0.3           /* a ceiling this close is "the" bound */
#define CPU_CLASS_FIXED 0.5         /* a fixed cost this large a part of a call: overhead */
#define CPU_CLASS_COMPUTE_SURE 0.8  /* compute-bound whatever the traffic */

/* where the traffic of a class comes from */
#define CPU_TRAFFIC_MODELLED "modelled"     /* a named model of the candidate's loops */
#define CPU_TRAFFIC_COMPULSORY "compulsory" /* the problem's minimum: a lower bound */

typedef struct cpu_class_in {
    double flops;               /* one call */
    double time_s;              /* one call, measured (median) */
    double bytes;               /* traffic of one call beyond the private caches */
    const char *traffic_source; /* CPU_TRAFFIC_MODELLED or CPU_TRAFFIC_COMPULSORY */
    double peak_gflops;         /* measured FMA peak, every core */
    double peak_gbps;           /* measured stream bandwidth, every core */
    double fixed_s;             /* fixed cost per call (cpu_fixed_cost); NAN: unknown */
    int threads;                /* cores the ceilings were measured on */
    int threads_used;           /* cores the kernel runs on; 0: unknown */
} cpu_class_in;

typedef struct cpu_class_out {
    const char *cls;   /* one of the classes above (static text) */
    double frac_flops; /* flops / time over the FMA peak */
    double frac_bw;    /* bytes / time over the bandwidth */
    double fixed_frac; /* fixed cost over the time; NAN: unknown */
    double ai;         /* flops / bytes */
    char why[600];     /* the numbers and the rule that decided */
} cpu_class_out;

/* The class of one measured call (see above); fills *out. */
void cpu_classify(const cpu_class_in *in, cpu_class_out *out);

/*
 * The fixed cost per call of a kernel timed on n shapes (flops[i], time_s[i],
 * i < n): the intercept a of time = a + b * flops through the two shapes of
 * least work whose flops differ at least twofold, clamped at 0 (a smaller
 * shape that runs faster per flop, from cache, is no fixed cost). Two shapes
 * of least work because noise on a large shape's time would swamp the
 * intercept at the small one. Only shapes of the same counting convention
 * (conv[i]: 1 where the counted flops leave out work by convention, e.g. the
 * masked half of a causal attention, else 0) form a pair: a kernel that does
 * the masked work anyway takes the same time for half the counted flops,
 * and across conventions that would read as a fixed cost of the whole call.
 * conv NULL: all one convention. NAN when no such pair exists (one timed
 * shape, or one of each convention).
 */
double cpu_fixed_cost(const double *flops, const double *time_s, const int *conv, int n);

/*
 * The value of KEY in a traffic model's parameters, "KEY=VALUE,KEY=VALUE"
 * (the part of --traffic after the model's name; keys without regard to
 * case, so a spec's tile_k names TILE_K), or dflt when KEY is absent or its
 * value is not a positive integer.
 */
long cpu_traffic_param(const char *params, const char *key, long dflt);

#endif
