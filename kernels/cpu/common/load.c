/*
 * kernels/cpu/common/load.c - how much of the judge's CPUs went to work that
 * is not the judge's: what tells a baseline slowed down by the candidate
 * from one slowed down by the machine.
 *
 * The interference test (timing.c) compares the baseline's time beside the
 * candidates with its time alone. On a machine that other work shares (a
 * build beside the run, another test suite, a neighbour VM), a burst of that
 * work while the baseline is timed beside a candidate reads exactly like a
 * candidate that slows the baseline: an honest candidate failed
 * "interference" beside another test suite (CI, 2026-12-06: the baseline at
 * 1.571 ms a call beside a naive matmul, 0.238 ms alone, twice). So the
 * judge measures, over each phase it compares, the busy time of the CPUs it
 * may run on (/proc/stat: the time each was neither idle nor waiting for
 * I/O, steal included: a hypervisor's other guests are other work too) and
 * takes away its own CPU time and its runners' (the candidates', the
 * baseline's, its twin's: every process of their sandboxes). What is left
 * is foreign: other processes, and the kernel's own threads.
 *
 * The idle time in /proc/stat is the kernel's exact idle accounting (with a
 * tickless idle, the default), printed in clock ticks: the measured share is
 * exact to one tick per CPU at each end of a phase.
 */
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "judge.h"

/* the CPUs this judge may run on (read once: its runners inherit them) */
static cpu_set_t judge_cpus;
static int judge_ncpus = -1;

static void read_affinity(void)
{
    if (judge_ncpus >= 0) return;
    CPU_ZERO(&judge_cpus);
    if (sched_getaffinity(0, sizeof judge_cpus, &judge_cpus) != 0) {
        judge_ncpus = 0;
        return;
    }
    judge_ncpus = CPU_COUNT(&judge_cpus);
}

/* the idle + iowait seconds of the judge's CPUs since boot, summed; false
 * when /proc/stat cannot be read or misses one of them */
static bool idle_s(double *out)
{
    FILE *f = fopen("/proc/stat", "re");
    if (!f) return false;
    long hz = sysconf(_SC_CLK_TCK);
    char line[512];
    unsigned long long idle = 0;
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[5];
        if (strncmp(line, "cpu", 3) != 0 || line[3] < '0' || line[3] > '9') continue;
        if (sscanf(line + 3, "%d %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4]) != 6) continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &judge_cpus)) continue;
        idle += v[3] + v[4]; /* idle, iowait */
        seen++;
    }
    fclose(f);
    *out = (double)idle / (double)(hz > 0 ? hz : 100);
    return seen == judge_ncpus && hz > 0;
}

void cpu_load_mark_now(cpu_load_mark *m)
{
    read_affinity();
    struct timespec t = {0, 0};
    double runners = 0;
    m->ok = judge_ncpus > 0 && idle_s(&m->idle) && clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0 &&
            cpu_runners_cpu_s(&runners);
    m->own = (double)t.tv_sec + (double)t.tv_nsec * 1e-9 + runners;
    m->wall = cpu_now_s();
}

double cpu_load_foreign(const cpu_load_mark *a, const cpu_load_mark *b)
{
    double wall = b->wall - a->wall;
    if (!a->ok || !b->ok || !(wall > 0)) return NAN;
    double busy = wall * judge_ncpus - (b->idle - a->idle), foreign = busy - (b->own - a->own);
    double share = foreign / (wall * judge_ncpus);
    return share < 0 ? 0 : share > 1 ? 1 : share;
}

double cpu_load_quiet_max(const cpu_load_mark *a, const cpu_load_mark *b)
{
    double wall = b->wall - a->wall;
    long hz = sysconf(_SC_CLK_TCK);
    /* one tick per CPU at each end: 2 / (hz * wall) of the share */
    return CPU_LOAD_QUIET + (wall > 0 && hz > 0 ? 2.0 / ((double)hz * wall) : 1.0);
}

/* seconds this judge has spent waiting for quiet, over every shape, and the
 * most it may (CPU_LOAD_WAIT_TOTAL_S, or --busy-wait) */
static double waited_s, wait_total_s = CPU_LOAD_WAIT_TOTAL_S;

void cpu_load_wait_budget(double s)
{
    wait_total_s = s;
}

/* whether any of the budget is left */
static bool may_wait(void)
{
    return waited_s < wait_total_s;
}

/* the foreign share of one quarter second, the judge idle */
static bool busy_quarter(void)
{
    cpu_load_mark a, b;
    cpu_load_mark_now(&a);
    struct timespec d = {0, 250 * 1000 * 1000};
    nanosleep(&d, NULL);
    cpu_load_mark_now(&b);
    return cpu_load_foreign(&a, &b) > cpu_load_quiet_max(&a, &b); /* NAN: not busy */
}

bool cpu_load_busy_outside(double max_s)
{
    if (!may_wait()) return false;
    double start = cpu_now_s();
    if (max_s > wait_total_s - waited_s) max_s = wait_total_s - waited_s;
    bool outside = busy_quarter();
    while (outside && cpu_now_s() - start < max_s && busy_quarter()) {
    }
    waited_s += cpu_now_s() - start;
    return outside;
}
