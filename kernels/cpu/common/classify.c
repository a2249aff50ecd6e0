/*
 * kernels/cpu/common/classify.c - the CPU bottleneck class (classify.h).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "classify.h"

/* The pair of least work within convention c: *a the least, *b the least
 * at twice its flops or more; false when there is none. */
static bool least_pair(const double *flops, const double *time_s, const int *conv, int n, int c, int *a, int *b)
{
    *a = *b = -1;
    for (int i = 0; i < n; i++)
        if ((conv ? conv[i] : 0) == c && flops[i] > 0 && time_s[i] > 0 && (*a < 0 || flops[i] < flops[*a])) *a = i;
    if (*a < 0) return false;
    for (int i = 0; i < n; i++)
        if ((conv ? conv[i] : 0) == c && flops[i] >= 2 * flops[*a] && time_s[i] > 0 &&
            (*b < 0 || flops[i] < flops[*b]))
            *b = i;
    return *b >= 0;
}

double cpu_fixed_cost(const double *flops, const double *time_s, const int *conv, int n)
{
    int a, b;
    /* the plain convention first (its flops are all the work), then the other */
    if (!least_pair(flops, time_s, conv, n, 0, &a, &b) && !least_pair(flops, time_s, conv, n, 1, &a, &b))
        return NAN;
    double f1 = flops[a], f2 = flops[b], t1 = time_s[a], t2 = time_s[b];
    double fixed = (t1 * f2 - t2 * f1) / (f2 - f1);
    return fixed > 0 ? fixed : 0;
}

static const char *larger(double fc, double fm)
{
    return fm >= fc ? "memory" : "compute";
}

void cpu_classify(const cpu_class_in *in, cpu_class_out *o)
{
    memset(o, 0, sizeof *o);
    const bool modelled = in->traffic_source && !strcmp(in->traffic_source, CPU_TRAFFIC_MODELLED);
    double t = in->time_s > 0 ? in->time_s : NAN;
    o->frac_flops = in->peak_gflops > 0 ? in->flops / t * 1e-9 / in->peak_gflops : NAN;
    o->frac_bw = in->peak_gbps > 0 ? in->bytes / t * 1e-9 / in->peak_gbps : NAN;
    o->fixed_frac = in->fixed_s >= 0 ? in->fixed_s / t : NAN;
    o->ai = in->bytes > 0 ? in->flops / in->bytes : NAN;
    double fc = o->frac_flops, fm = o->frac_bw;
    double per_core = in->threads_used > 0 && in->threads > in->threads_used
                          ? fc * in->threads / in->threads_used
                          : NAN;
    char rule[240];
    if (!(t > 0) || !(fc >= 0) || !(fm >= 0)) {
        o->cls = "unknown";
        snprintf(rule, sizeof rule, "no time or no ceilings to hold it against");
    } else if (o->fixed_frac >= CPU_CLASS_FIXED) {
        o->cls = "overhead";
        snprintf(rule, sizeof rule, "a fixed cost of %.3g ms a call is %.0f%% of the call (>= %.0f%%)",
                 in->fixed_s * 1e3, 100 * o->fixed_frac, 100 * CPU_CLASS_FIXED);
    } else if (per_core >= CPU_CLASS_SAT && per_core >= fm) {
        o->cls = "parallelism";
        snprintf(rule, sizeof rule, "%.0f%% of the FMA peak of the %d core(s) it runs on, of %d", 100 * per_core,
                 in->threads_used, in->threads);
    } else if (modelled && (fc >= CPU_CLASS_SAT || fm >= CPU_CLASS_SAT)) {
        o->cls = larger(fc, fm);
        snprintf(rule, sizeof rule, "the larger fraction, %s, is >= %.0f%%", fm >= fc ? "bandwidth" : "FMA peak",
                 100 * CPU_CLASS_SAT);
    } else if (modelled) {
        o->cls = "latency";
        snprintf(rule, sizeof rule, "neither ceiling reaches %.0f%%: dependency chains, cache misses, "
                                    "synchronisation or overhead dominate", 100 * CPU_CLASS_SAT);
    } else if (fm >= CPU_CLASS_SAT && fm >= fc) {
        o->cls = "memory";
        snprintf(rule, sizeof rule, "even the minimum traffic takes %.0f%% of the bandwidth", 100 * fm);
    } else if (fc >= CPU_CLASS_COMPUTE_SURE) {
        o->cls = "compute";
        snprintf(rule, sizeof rule, "%.0f%% of the FMA peak whatever the traffic (>= %.0f%%)", 100 * fc,
                 100 * CPU_CLASS_COMPUTE_SURE);
    } else {
        o->cls = "unknown";
        snprintf(rule, sizeof rule, "the candidate's traffic is not known (the minimum traffic is a lower bound "
                                    "and decides nothing here)");
    }
    char fixed[64] = "unknown";
    if (o->fixed_frac >= 0) snprintf(fixed, sizeof fixed, "%.0f%% of the call", 100 * o->fixed_frac);
    snprintf(o->why, sizeof o->why,
             "%s: %.1f GFLOP/s = %.0f%% of the FMA peak %.1f; %s traffic %.3g MB a call = %.1f GB/s = %.0f%% of "
             "%.1f GB/s (AI %.2f flop/B); fixed cost %s: %s",
             o->cls, in->flops / t * 1e-9, 100 * fc, in->peak_gflops, in->traffic_source ? in->traffic_source : "?",
             in->bytes * 1e-6, in->bytes / t * 1e-9, 100 * fm, in->peak_gbps, o->ai, fixed, rule);
}

long cpu_traffic_param(const char *params, const char *key, long dflt)
{
    size_t kl = strlen(key);
    for (const char *p = params; p && *p;) {
        size_t l = strcspn(p, ",");
        const char *eq = memchr(p, '=', l);
        if (eq && (size_t)(eq - p) == kl && !strncasecmp(p, key, kl)) {
            char *end;
            long v = strtol(eq + 1, &end, 10);
            return end != eq + 1 && (end == p + l) && v > 0 ? v : dflt;
        }
        p += l + (p[l] == ',');
    }
    return dflt;
}
