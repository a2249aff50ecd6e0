/*
 * kernels/cpu/common/bound.c - the hardware bound the CPU judge holds every
 * measured rate against ("impossible is failure"): the online cores x the
 * highest clock x fp32 flops per cycle per core from the ISA:
 *
 *   AVX-512F        64 flop/cycle (2 FMA units x 16 lanes x 2)
 *   AVX2 + FMA      32 flop/cycle (2 FMA units x 8 lanes x 2)
 *   otherwise (SSE)  8 flop/cycle (4 lanes, a mul and an add)
 *
 * The clock: cpufreq's cpuinfo_max_freq, else the "@ x.xxGHz" of the model
 * name, else the highest "cpu MHz" in /proc/cpuinfo; and, when higher, the
 * clock the judge measures itself (a chain of dependent one-cycle adds,
 * timed on one core before the candidate's runner exists), because a VM
 * lists the nominal clock (2.1 GHz here) while turbo runs at 3+ GHz: a bound
 * from the listed clock alone would fail honest kernels. The judge allows a
 * 25% margin above the bound (CPU_BOUND_MARGIN). Never a library's measured
 * rate and never the cached roofline: both can be wrong in the candidate's
 * favour (a ceiling measured under load) or against it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"

/* the first line of /proc/cpuinfo that starts with key, its value in buf */
static bool cpuinfo_value(const char *key, char *buf, size_t n, double *max_num)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[1024];
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) continue;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        if (!found) snprintf(buf, n, "%s", v);
        found = true;
        if (max_num) {
            double x = strtod(v, NULL);
            if (x > *max_num) *max_num = x;
        }
    }
    fclose(f);
    return found;
}

static double ghz_cpufreq(void)
{
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    if (!f) return 0;
    double khz = 0;
    if (fscanf(f, "%lf", &khz) != 1) khz = 0;
    fclose(f);
    return khz / 1e6;
}

static double ghz_model(void)
{
    char model[512];
    if (!cpuinfo_value("model name", model, sizeof model, NULL)) return 0;
    const char *at = strstr(model, "GHz");
    if (!at) return 0;
    const char *p = at;
    while (p > model && (p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9'))) p--;
    return strtod(p, NULL);
}

/* the clock of this core: 100 dependent adds (1 cycle each on every x86
 * core since the P6) per iteration, the best of 5 runs of ~4 ms */
static double ghz_measured(void)
{
#if defined(__x86_64__)
    double best = 0;
    for (int run = 0; run < 5; run++) {
        unsigned long x = 0;
        long iters = 400000;
        double t0 = cpu_now_s();
        for (long i = 0; i < iters; i++)
            __asm__ volatile(".rept 100\n\tadd $1, %0\n\t.endr" : "+r"(x));
        double dt = cpu_now_s() - t0, ghz = dt > 0 ? 100.0 * (double)iters / dt * 1e-9 : 0;
        if (ghz > best) best = ghz;
    }
    return best;
#else
    return 0;
#endif
}

static bool has_flag(const char *flags, const char *flag)
{
    size_t l = strlen(flag);
    for (const char *p = flags; (p = strstr(p, flag)) != NULL; p += l)
        if ((p == flags || p[-1] == ' ') && (p[l] == ' ' || p[l] == '\n' || p[l] == 0)) return true;
    return false;
}

void cpu_get_bound(cpu_bound *b)
{
    memset(b, 0, sizeof *b);
    b->cores = cpu_ncpus();
    static char flags[8192];
    if (!cpuinfo_value("flags", flags, sizeof flags, NULL)) flags[0] = 0;
    if (has_flag(flags, "avx512f"))
        b->flops_cycle = 64, snprintf(b->isa, sizeof b->isa, "avx512f");
    else if (has_flag(flags, "avx2") && has_flag(flags, "fma"))
        b->flops_cycle = 32, snprintf(b->isa, sizeof b->isa, "avx2+fma");
    else
        b->flops_cycle = 8, snprintf(b->isa, sizeof b->isa, "sse");
    const char *from = "cpufreq";
    double ghz = ghz_cpufreq();
    if (!(ghz > 0)) ghz = ghz_model(), from = "model name";
    if (!(ghz > 0)) {
        char mhz[64];
        double mx = 0;
        cpuinfo_value("cpu MHz", mhz, sizeof mhz, &mx);
        ghz = mx / 1e3, from = "cpu MHz";
    }
    double m = ghz_measured();
    if (m > ghz) ghz = m, from = "measured";
    if (!(ghz > 0)) ghz = 5.0, from = "assumed";
    b->ghz = ghz;
    snprintf(b->ghz_from, sizeof b->ghz_from, "%s", from);
    b->gflops = b->cores * ghz * b->flops_cycle;
    b->scale = 1;
}

void cpu_bound_text(const cpu_bound *b, char *buf, size_t n)
{
    int l = snprintf(buf, n, "%d cores x %.2f GHz (%s) x %d flop/cycle (%s)", b->cores, b->ghz, b->ghz_from,
                     b->flops_cycle, b->isa);
    if (b->scale != 1 && l > 0 && (size_t)l < n) snprintf(buf + l, n - (size_t)l, " x %g (--bound-scale)", b->scale);
}
