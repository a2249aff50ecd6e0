/*
 * kernels/cpu/common/judge.h - what the parts of the CPU harness's core
 * (judge.c, ceilings.c) share. Families see family.h only.
 */
#ifndef SPAK_CPU_JUDGE_H
#define SPAK_CPU_JUDGE_H

#include <jansson.h>

/* the machine's ceilings for the roofline */
typedef struct cpu_ceilings {
    double peak_gflops, peak_gbps;
    char isa[16];
    int threads;
} cpu_ceilings;

/* Fills c from the JSON cache at path cache when it names this CPU model and
 * thread count; otherwise measures (a few seconds) and, when cache is not
 * NULL, writes the cache (a warning on stderr when it cannot). */
void cpu_get_ceilings(const char *cache, cpu_ceilings *c);

/* seconds on CLOCK_MONOTONIC */
double cpu_now_s(void);

/* the online cores, 1 .. 64 */
int cpu_ncpus(void);

/* o[k] = v as a JSON number, or null when v is not finite */
void cpu_set_num(json_t *o, const char *k, double v);

#endif
