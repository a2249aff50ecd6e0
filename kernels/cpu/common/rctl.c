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
#include <unistd.h>

#include "judge.h"
#include "rctl.h"

struct cpu_runner {
    spak_runner *r;
    float *in, *out; /* the judge's mappings of the current memfds */
    size_t in_bytes, out_bytes;
};

int cpu_runner_start(const char *runner_exe, const char *so_path, const char *family, const char *const *env,
                     cpu_runner **out, char *name, size_t nname, char *prec, size_t nprec, char *why, size_t nwhy)
{
    *out = NULL;
    cpu_runner *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, nwhy, "out of memory");
        return 4;
    }
    spak_runner_opts o = {.env = env, .gpu = false, .log_prog = "spak-harness-cpu"};
    int rc = spak_runner_start(runner_exe, so_path, family, &o, &c->r, name, nname, prec, nprec, why, nwhy);
    if (rc) {
        free(c);
        return rc;
    }
    *out = c;
    return 0;
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
    double t0 = cpu_now_s();
    ssize_t n = spak_runner_send(r->r, c, sizeof *c, NULL, 0) == 0 ? spak_runner_recv(r->r, &ans, sizeof ans, timeout_s) : -1;
    double t1 = cpu_now_s();
    *dt = t1 - t0;
    if (freeze_after) spak_runner_freeze(r->r, true);
    if (n == (ssize_t)sizeof ans.d && ans.h.magic == RP_MAGIC && ans.h.kind == RP_DONE && ans.d.n == c->n) {
        for (int i = 0; i < c->n; i++) rc[i] = ans.d.rc[i];
        return 0;
    }
    if (n == (ssize_t)sizeof ans.f && ans.h.magic == RP_MAGIC && ans.h.kind == RP_FAULT) {
        *input_write = ans.f.input_write != 0;
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
    int bad = spak_runner_stop(r->r, label, why, nwhy);
    if (r->in) munmap(r->in, r->in_bytes);
    if (r->out) munmap(r->out, r->out_bytes);
    free(r);
    return bad;
}
