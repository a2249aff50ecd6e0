/*
 * kernels/cpu/common/rctl.c - the CPU judge's side of a runner (rctl.h):
 * the target-independent part (starting it in the sandbox, loading the
 * .so, freezing, ending it) is kernels/common/runner_ctl.c; here are the
 * CPU's messages: the inputs and the output shared as memfds, and timed
 * batches of calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "judge.h"
#include "rctl.h"

struct cpu_runner {
    spak_runner *r;
    float *in, *out; /* the judge's mappings of the current memfds */
    size_t in_bytes, out_bytes;
    bool strict;        /* a candidate: CPU used after DONE fails the call */
    bool done_ok;       /* done_ns was read at the last DONE */
    uint64_t done_ns;   /* the runner's CPU time at the last DONE */
    double done_t;      /* and when (the judge's clock) */
    const char *how;    /* where the CPU time comes from ("none": unreadable) */
    double late_max_us; /* the most CPU any window after a DONE saw */
    long windows;       /* windows measured */
    long long fault_off; /* the byte offset in the inputs of the last faulting write, -1 none */
    struct cpu_runner *next; /* the judge's live runners (cpu_runners_cpu_s) */
    uint64_t seen_ns;        /* the most CPU time read of it so far (cpu_runners_cpu_s) */
};

/* every live runner of this judge, and the CPU time of those stopped: what
 * the judge's own work is, next to the machine's (load.c) */
static cpu_runner *live;
static uint64_t stopped_ns;

bool cpu_runners_cpu_s(double *s)
{
    uint64_t sum = stopped_ns, ns;
    bool ok = true;
    /* a runner's time read lower than before (a process of it that exited
     * took its time along, or the runner ended) cannot be told from foreign
     * work: unmeasured */
    for (cpu_runner *r = live; r; r = r->next) {
        if (spak_runner_cpu_usage(r->r, &ns, NULL) == 0 && ns >= r->seen_ns) sum += ns, r->seen_ns = ns;
        else ok = false;
    }
    *s = (double)sum * 1e-9;
    return ok;
}

/* The CPU a runner that went straight back to its recv() uses between a
 * DONE and its freeze or the end of the settle wait: its main thread's
 * send and recv, and every thread's few microseconds in the freezer's wake-up
 * (measured on this 2-core machine: 0-22 us a window, honest pthreads and
 * OpenMP kernels alike). The allowance is several times that, plus 20 us a
 * core for the freezer's wake-up of one worker thread per core on larger
 * machines, and 2% of the window a core: an honest kernel that started and
 * joined its own threads in the call was seen using 164 us in a 20 ms
 * settle wait at load 9 on 2 cores (its threads' exit still being accounted
 * and scheduled late), while a thread left busy uses most of the window it
 * gets a core in (milliseconds in a 20 ms wait, even at a tenth of a core);
 * the timed windows (DONE to frozen) are a millisecond or so, where the
 * term adds tens of microseconds. More is work after the call returned.
 * Sources that lag a running thread by up to a scheduler tick get a tick
 * (10 ms at HZ=100) a core on top. */
#define LATE_ALLOW_US 100.0
#define LATE_PER_CORE_US 20.0
#define LATE_WINDOW_FRAC 0.02
#define LATE_TICK_US 10000.0

static double late_allow_us(const cpu_runner *r, double window_s)
{
    double a = LATE_ALLOW_US + LATE_PER_CORE_US * cpu_ncpus() + LATE_WINDOW_FRAC * window_s * 1e6 * cpu_ncpus();
    return strcmp(r->how, "cpuclock") == 0 ? a : a + LATE_TICK_US * cpu_ncpus();
}

int cpu_runner_start(const char *runner_exe, const char *so_path, const char *family, const char *const *env,
                     cpu_runner **out, char *name, size_t nname, char *prec, size_t nprec, char *why, size_t nwhy)
{
    *out = NULL;
    cpu_runner *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, nwhy, "out of memory");
        return 4;
    }
    /* OpenMP's workers wait passively (a futex, no spinning) after a
     * parallel region: the ABI wants no thread busy once a call returns, and
     * libgomp's default spins them for up to 300,000 rounds, which the
     * judge would count as work after return. The same for both sides. */
    const char *all[16];
    int n = 0;
    all[n++] = "OMP_WAIT_POLICY=PASSIVE";
    for (const char *const *e = env; e && *e && n < 15; e++) all[n++] = *e;
    all[n] = NULL;
    spak_runner_opts o = {.env = all, .gpu = false, .log_prog = "spak-harness-cpu"};
    int rc = spak_runner_start(runner_exe, so_path, family, &o, &c->r, name, nname, prec, nprec, why, nwhy);
    if (rc) {
        free(c);
        return rc;
    }
    c->how = "none";
    c->fault_off = -1;
    c->next = live;
    live = c;
    *out = c;
    return 0;
}

void cpu_runner_resume(cpu_runner *r)
{
    spak_runner_continue(r->r);
}

void cpu_runner_strict(cpu_runner *r)
{
    r->strict = true;
}

int cpu_runner_late(cpu_runner *r, double *late_us, double *window_s, char *why, size_t nwhy)
{
    uint64_t now_ns;
    *late_us = *window_s = 0;
    if (!r->done_ok || spak_runner_cpu_usage(r->r, &now_ns, NULL)) return 0; /* unmeasured: nothing to hold */
    *window_s = cpu_now_s() - r->done_t;
    *late_us = now_ns > r->done_ns ? (double)(now_ns - r->done_ns) / 1e3 : 0;
    r->done_ok = false;
    r->windows++;
    if (*late_us > r->late_max_us) r->late_max_us = *late_us;
    if (!r->strict || *late_us <= late_allow_us(r, *window_s)) return 0;
    snprintf(why, nwhy,
             "work after return: the candidate's processes used %.0f us of CPU in the %.1f ms after its call "
             "returned (allowed %.0f us, %s; a runner back in its recv() uses tens): the ABI wants all work "
             "finished and no thread busy when the call returns",
             *late_us, *window_s * 1e3, late_allow_us(r, *window_s), r->how);
    return -1;
}

void cpu_runner_late_stats(const cpu_runner *r, double *max_us, long *windows, const char **how)
{
    *max_us = r->late_max_us;
    *windows = r->windows;
    *how = r->how;
}

int cpu_runner_map(cpu_runner *r, size_t in_bytes, size_t out_bytes, float **in, float **out, char *why,
                   size_t nwhy)
{
    int fi = memfd_create("inputs", MFD_CLOEXEC | MFD_ALLOW_SEALING), fo = memfd_create("output", MFD_CLOEXEC);
    void *a = MAP_FAILED, *b = MAP_FAILED;
    int rc = -1;
    if (fi < 0 || fo < 0 || ftruncate(fi, (off_t)in_bytes) || ftruncate(fo, (off_t)out_bytes)) goto out;
    a = mmap(NULL, in_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fi, 0);
    b = mmap(NULL, out_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fo, 0);
    if (a == MAP_FAILED || b == MAP_FAILED) goto out;
    /* our writable mapping exists before the seal; after it nobody (the
     * runner included) can map it writable, write() it or resize it */
    if (fcntl(fi, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)) goto out;
    rp_map m = {{RP_MAGIC, RP_MAP}, in_bytes, out_bytes};
    int fds[2] = {fi, fo};
    struct {
        rp_head h;
        int32_t rc;
    } ans;
    bool thaw = spak_runner_frozen(r->r);
    if (thaw && spak_runner_freeze(r->r, false)) goto out;
    ssize_t n = spak_runner_send(r->r, &m, sizeof m, fds, 2) == 0 ? spak_runner_recv(r->r, &ans, sizeof ans, 60) : -1;
    if (thaw) spak_runner_freeze(r->r, true);
    if (n != (ssize_t)sizeof ans || ans.h.magic != RP_MAGIC || ans.h.kind != RP_MAPPED || ans.rc != 0) goto out;
    if (r->in) munmap(r->in, r->in_bytes);
    if (r->out) munmap(r->out, r->out_bytes);
    r->in = *in = a;
    r->out = *out = b;
    r->in_bytes = in_bytes;
    r->out_bytes = out_bytes;
    a = b = MAP_FAILED;
    rc = 0;
out:
    if (rc) snprintf(why, nwhy, "cannot share %zu + %zu bytes with the runner (%s)", in_bytes, out_bytes,
                     errno ? strerror(errno) : "it refused them");
    if (a != MAP_FAILED) munmap(a, in_bytes);
    if (b != MAP_FAILED) munmap(b, out_bytes);
    if (fi >= 0) close(fi);
    if (fo >= 0) close(fo);
    return rc;
}

/* Every element of each call's output slot holds no poison (the judge
 * poisons every output before its call): a scan of the whole output, at
 * memory speed (about 0.3 ms for 1024x1024 floats), not a sample, so a call
 * that answered with any of its work left undone fails for certain. */
static bool outputs_complete(const cpu_runner *r, const rp_call *c)
{
    if (!r->out) return true;
    for (int i = 0; i < c->n; i++) {
        const rp_item *it = &c->item[i];
        if (!c->out_n || it->out_off / 4 + c->out_n > r->out_bytes / 4) continue;
        const uint32_t *o = (const uint32_t *)(const void *)((const char *)r->out + it->out_off);
        uint32_t hit = 0;
        for (uint64_t k = 0; k < c->out_n; k++) hit |= o[k] == POISON_BITS;
        if (hit) return false;
    }
    return true;
}

/* A runner that just stopped itself, once the kernel has accounted all of
 * its time: the stop shows in /proc a moment before its last thread has
 * left the CPU, and a thread's time on a CPU reaches what another process
 * reads (its process clock, the cgroup's usage) only at a tick or when it
 * leaves, so a read in that moment missed the call's last stretch (up to a
 * tick), which then counted as work after return: an honest one-thread
 * naive matmul failed "574 us of CPU in the 0.3 ms after its call returned
 * (allowed 153 us)" in a fresh-clone test run (scale_local, 2026-12-06),
 * once evaluations held 20-40x more batches than before (timing.c's
 * eviction). The candidate process's own clock (not its children's, which
 * may be working after return and are counted from the first read) is read
 * again until two reads SETTLE_US apart agree (at most SETTLE_READS): a
 * stopped process cannot use CPU, so a change is the accounting catching
 * up, added to *done_ns. Called after the outputs were scanned, so what the
 * process did in those microseconds (resumed by a SIGCONT from a child of
 * its own) cannot finish the call's output. */
#define SETTLE_US 50
#define SETTLE_READS 8
static void settle_child(cpu_runner *r, uint64_t first, uint64_t *done_ns)
{
    uint64_t last = first;
    for (int i = 1; i < SETTLE_READS; i++) {
        struct timespec ts = {0, SETTLE_US * 1000L};
        nanosleep(&ts, NULL);
        uint64_t again;
        if (spak_runner_child_cpu(r->r, &again)) return;
        if (again == last) break;
        last = again;
    }
    if (last > first) *done_ns += last - first;
}

int cpu_runner_call(cpu_runner *r, const rp_call *c, int *rc, double timeout_s, bool freeze_after, double *dt,
                    bool *input_write, char *why, size_t nwhy)
{
    *input_write = false;
    *dt = 0;
    if (spak_runner_frozen(r->r) && spak_runner_freeze(r->r, false)) {
        snprintf(why, nwhy, "cannot thaw the runner");
        return -1;
    }
    union {
        rp_head h;
        rp_done d;
        rp_fault f;
    } ans;
    memset(&ans, 0, sizeof ans);
    static rp_call m; /* c with a fresh nonce */
    m = *c;
    m.nonce = cpu_judge_secret(); /* the runner sees it: not from the inputs' generator */
    double t0 = cpu_now_s();
    ssize_t n = spak_runner_send(r->r, &m, sizeof m, NULL, 0) == 0 ? spak_runner_recv(r->r, &ans, sizeof ans, timeout_s) : -1;
    double t1 = cpu_now_s();
    *dt = t1 - t0;
    bool done = n == (ssize_t)sizeof ans.d && ans.h.magic == RP_MAGIC && ans.h.kind == RP_DONE && ans.d.n == c->n &&
                ans.d.nonce == m.nonce;
    /* the runner stops itself right after DONE (runner.c): wait for it,
     * so that nothing of it ran between its answer and what follows; one
     * that does not stop was tampered with */
    if (done && spak_runner_wait_stopped(r->r, 2.0)) {
        if (freeze_after) spak_runner_freeze(r->r, true);
        snprintf(why, nwhy, "work after return: the runner did not stop within 2 s of its DONE (a thread of the "
                 "candidate kept it from stopping itself, or it ended)");
        return -1;
    }
    /* the runner's CPU time now, and again once it is frozen (or, for a
     * checked call, after the settle wait: cpu_runner_late): what it used
     * in between is work after the call returned */
    r->done_ok = done && spak_runner_cpu_usage(r->r, &r->done_ns, &r->how) == 0;
    uint64_t child0;
    bool settle = r->done_ok && spak_runner_child_cpu(r->r, &child0) == 0;
    r->done_t = cpu_now_s();
    if (done && !r->done_ok) r->how = "none";
    /* before the freeze: the outputs must be complete when DONE arrives, not
     * finished in the moment it takes to freeze the runner */
    bool incomplete = done && !outputs_complete(r, c);
    if (settle) settle_child(r, child0, &r->done_ns);
    if (freeze_after) spak_runner_freeze(r->r, true);
    if (incomplete) {
        snprintf(why, nwhy, "NaN or unwritten output when its DONE arrived (the call answered before its work was done)");
        return -1;
    }
    double late_us, window_s;
    if (done && freeze_after && cpu_runner_late(r, &late_us, &window_s, why, nwhy)) return -1;
    if (done) {
        for (int i = 0; i < c->n; i++) rc[i] = ans.d.rc[i];
        return 0;
    }
    if (n == (ssize_t)sizeof ans.d && ans.h.magic == RP_MAGIC && ans.h.kind == RP_DONE) {
        snprintf(why, nwhy, "the candidate's process answered out of protocol (a DONE for another call)");
        return -1;
    }
    if (n == (ssize_t)sizeof ans.f && ans.h.magic == RP_MAGIC && ans.h.kind == RP_FAULT) {
        *input_write = ans.f.input_write != 0;
        ans.f.msg[sizeof ans.f.msg - 1] = 0;
        char *end;
        r->fault_off = *input_write ? strtoll(ans.f.msg, &end, 10) : -1;
        if (*input_write && (end == ans.f.msg || *end)) r->fault_off = -1;
        snprintf(why, nwhy, "the candidate's process faulted (signal %d%s)", ans.f.sig,
                 ans.f.input_write ? ", a write to its read-only inputs" : "");
    } else if (n == 0)
        snprintf(why, nwhy, "the candidate's process ended during the call (crash or exit)");
    else if (n < 0 && t1 - t0 >= timeout_s)
        snprintf(why, nwhy, "the call did not return within %.0f s", timeout_s);
    else
        snprintf(why, nwhy, "the candidate's process answered out of protocol");
    return -1;
}

long long cpu_runner_fault_offset(const cpu_runner *r)
{
    return r->fault_off;
}

int cpu_runner_freeze(cpu_runner *r, bool frozen)
{
    return spak_runner_freeze(r->r, frozen);
}

const char *cpu_runner_freeze_how(const cpu_runner *r)
{
    return spak_runner_freeze_how(r->r);
}

int cpu_runner_denied(cpu_runner *r, const char *label, char *why, size_t n)
{
    return r ? spak_runner_denied(r->r, label, why, n) : 0;
}

int cpu_runner_stop(cpu_runner *r, const char *label, char *why, size_t nwhy)
{
    if (why && nwhy) why[0] = '\0';
    if (!r) return 0;
    uint64_t ns;
    if (spak_runner_cpu_usage(r->r, &ns, NULL) == 0) stopped_ns += ns; /* its time stays the judge's */
    for (cpu_runner **p = &live; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            break;
        }
    int bad = spak_runner_stop(r->r, label, why, nwhy);
    if (r->in) munmap(r->in, r->in_bytes);
    if (r->out) munmap(r->out, r->out_bytes);
    free(r);
    return bad;
}
