/*
 * kernels/cuda/common/cuda_judge.c - a CUDA judge's side of a runner
 * (cuda_judge.h), on kernels/common/runner_ctl.c.
 */
#include <cuda.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "../../common/runner_ctl.h"
#include "cuda_judge.h"

/* The driver API, resolved from libcuda.so.1 at the first pool: a judge
 * linked against libcuda could not even start on a machine without the
 * driver, where it must say "no CUDA device" and exit 2 (its device probe,
 * through the runtime, which loads the driver itself). */
#define DRV(fn) __typeof__(&fn) fn
static struct {
    void *lib;
    DRV(cuInit);
    DRV(cuGetErrorName);
    DRV(cuMemGetAllocationGranularity);
    DRV(cuMemCreate);
    DRV(cuMemExportToShareableHandle);
    DRV(cuMemAddressReserve);
    DRV(cuMemMap);
    DRV(cuMemSetAccess);
    DRV(cuMemUnmap);
    DRV(cuMemAddressFree);
    DRV(cuMemRelease);
} drv;
#undef DRV

/* One entry point into *dst (a function pointer: ISO C forbids the cast
 * from dlsym's void *). 1 found, 0 not. */
static int drv_sym(void *h, const char *name, void *dst)
{
    void *p = dlsym(h, name);
    memcpy(dst, &p, sizeof p);
    return p != NULL;
}

/* 0 when every entry point of drv is there, else -1. */
static int drv_load(void)
{
    if (drv.lib) return 0;
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) return -1;
#define SYM(fn) drv_sym(h, #fn, &drv.fn)
    if (!(SYM(cuInit) && SYM(cuGetErrorName) && SYM(cuMemGetAllocationGranularity) && SYM(cuMemCreate) &&
          SYM(cuMemExportToShareableHandle) && SYM(cuMemAddressReserve) && SYM(cuMemMap) && SYM(cuMemSetAccess) &&
          SYM(cuMemUnmap) && SYM(cuMemAddressFree) && SYM(cuMemRelease))) {
        dlclose(h);
        return -1;
    }
#undef SYM
    drv.lib = h;
    return 0;
}

int cj_find_runner(char *buf, size_t n)
{
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) return -1;
    exe[l] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return -1;
    *slash = 0;
    if (snprintf(buf, n, "%s/spak-runner-cuda", exe) >= (int)n) return -1;
    return access(buf, X_OK) == 0 ? 0 : -1;
}

int cj_side_start(cj_side *s, const char *runner_exe, const char *so_path, const char *family, char *why,
                  size_t nwhy)
{
    char prec[16];
    spak_runner_opts o = {.env = NULL, .gpu = true, .log_prog = "spak-harness-cuda"};
    s->dead = false;
    s->pool = 0;
    s->pool_handle = 0;
    s->pool_bytes = 0;
    s->ro_pool = 0;
    s->ro_handle = 0;
    s->ro_bytes = 0;
    s->ro_readonly = false;
    int rc = spak_runner_start(runner_exe, so_path, family, &o, &s->r, s->name, sizeof s->name, prec, sizeof prec,
                               why, nwhy);
    if (rc) s->r = NULL, s->dead = true;
    return rc;
}

static const char *cu_name(CUresult e)
{
    const char *p = NULL;
    if (drv.cuGetErrorName) drv.cuGetErrorName(e, &p);
    return p ? p : "?";
}

/* A pool of at least bytes for slot (0, or 1 read-only in the runner when
 * readonly), mapped here and sent to the runner: *ptr, *handle, *mapped_bytes,
 * *ro (the runner's answer). 0 or -1 (why). */
static int map_pool(cj_side *s, size_t bytes, int slot, bool readonly, uint64_t *ptr_out, unsigned long long *handle,
                    size_t *mapped_bytes, bool *ro, char *why, size_t nwhy)
{
    CUmemAllocationProp p;
    memset(&p, 0, sizeof p);
    p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.location.id = 0;
    p.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
    size_t g = 0;
    CUresult e;
    const char *step = "";
    CUmemGenericAllocationHandle h = 0;
    CUdeviceptr ptr = 0;
    int fd = -1, rc = -1;
    bool created = false, reserved = false, mapped = false;
    if (drv_load()) {
        snprintf(why, nwhy, "harness: device memory for the %s: libcuda.so.1 (the driver API) cannot be loaded",
                 s->label);
        return -1;
    }
#define STEP(call) (step = #call, (e = (call)) == CUDA_SUCCESS)
    if (!STEP(drv.cuInit(0)) || !STEP(drv.cuMemGetAllocationGranularity(&g, &p, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED)))
        goto fail;
    bytes = (bytes + g - 1) / g * g;
    if (!STEP(drv.cuMemCreate(&h, bytes, &p, 0))) goto fail;
    created = true;
    if (!STEP(drv.cuMemExportToShareableHandle(&fd, h, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0))) goto fail;
    if (!STEP(drv.cuMemAddressReserve(&ptr, bytes, 0, 0, 0))) goto fail;
    reserved = true;
    if (!STEP(drv.cuMemMap(ptr, bytes, 0, h, 0))) goto fail;
    mapped = true;
    CUmemAccessDesc acc;
    memset(&acc, 0, sizeof acc);
    acc.location = p.location;
    acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    if (!STEP(drv.cuMemSetAccess(ptr, bytes, &acc, 1))) goto fail;
#undef STEP
    {
        cp_map m;
        memset(&m, 0, sizeof m);
        m.h = (rp_head){RP_MAGIC, CP_MAP};
        m.bytes = bytes, m.slot = slot, m.readonly = readonly;
        cp_mapped a;
        memset(&a, 0, sizeof a);
        bool thaw = spak_runner_frozen(s->r);
        if (thaw && spak_runner_freeze(s->r, false)) goto proto;
        ssize_t n = spak_runner_send(s->r, &m, sizeof m, &fd, 1) == 0 ? spak_runner_recv(s->r, &a, sizeof a, 60) : -1;
        if (thaw) spak_runner_freeze(s->r, true);
        if (n != (ssize_t)sizeof a || a.h.magic != RP_MAGIC || a.h.kind != CP_MAPPED) goto proto;
        if (a.rc != 0) {
            a.msg[sizeof a.msg - 1] = 0;
            snprintf(why, nwhy, "the %s's runner could not map the device memory: %s", s->label, a.msg);
            goto out;
        }
        *ro = a.readonly == 1;
    }
    *ptr_out = ptr;
    *mapped_bytes = bytes;
    *handle = h;
    rc = 0;
    goto out;
fail:
    snprintf(why, nwhy, "harness: device memory for the %s: %s: %s", s->label, step, cu_name(e));
    goto out;
proto:
    snprintf(why, nwhy, "the %s's runner ended or answered out of protocol while mapping its memory", s->label);
    s->dead = true;
out:
    if (fd >= 0) close(fd);
    if (rc) {
        if (mapped) drv.cuMemUnmap(ptr, bytes);
        if (reserved) drv.cuMemAddressFree(ptr, bytes);
        if (created) drv.cuMemRelease(h);
    }
    return rc;
}

int cj_side_map(cj_side *s, size_t bytes, char *why, size_t nwhy)
{
    bool ro = false;
    return map_pool(s, bytes, 0, false, &s->pool, &s->pool_handle, &s->pool_bytes, &ro, why, nwhy);
}

int cj_side_map_ro(cj_side *s, size_t bytes, char *why, size_t nwhy)
{
    return map_pool(s, bytes, 1, true, &s->ro_pool, &s->ro_handle, &s->ro_bytes, &s->ro_readonly, why, nwhy);
}

int cj_side_kquery(cj_side *s, const cp_kquery *q, cp_kinfo *out, char *why, size_t nwhy)
{
    memset(out, 0, sizeof *out);
    bool thaw = spak_runner_frozen(s->r);
    if (thaw && spak_runner_freeze(s->r, false)) goto proto;
    /* the module's load and the function's lookup may take a while for a large fatbin (JIT from PTX) */
    ssize_t n = spak_runner_send(s->r, q, sizeof *q, NULL, 0) == 0 ? spak_runner_recv(s->r, out, sizeof *out, 120) : -1;
    if (thaw) spak_runner_freeze(s->r, true);
    if (n == (ssize_t)sizeof *out && out->h.magic == RP_MAGIC && out->h.kind == CP_KINFO) {
        out->msg[sizeof out->msg - 1] = 0;
        return 0;
    }
proto:
    snprintf(why, nwhy, "the %s's runner ended or answered out of protocol when asked for its kernel", s->label);
    s->dead = true;
    return -1;
}

int cj_side_query(cj_side *s, const cp_query *q, cp_info *out, char *why, size_t nwhy)
{
    memset(out, 0, sizeof *out);
    bool thaw = spak_runner_frozen(s->r);
    if (thaw && spak_runner_freeze(s->r, false)) goto proto;
    ssize_t n = spak_runner_send(s->r, q, sizeof *q, NULL, 0) == 0 ? spak_runner_recv(s->r, out, sizeof *out, 60) : -1;
    if (thaw) spak_runner_freeze(s->r, true);
    if (n == (ssize_t)sizeof *out && out->h.magic == RP_MAGIC && out->h.kind == CP_INFO && out->rc == 0) return 0;
proto:
    snprintf(why, nwhy, "the %s's runner ended or answered out of protocol when asked for its declarations",
             s->label);
    s->dead = true;
    return -1;
}

/* The timed exchange of one CALL or KCALL message m (len bytes, n calls,
 * its nonce at *nonce: drawn here): thaw, send, DONE, freeze. */
static int timed_call(cj_side *s, void *m, size_t len, uint64_t *nonce, int ncalls, double timeout_s, double *dt,
                      int *rc, int *sync_err, char *why, size_t nwhy)
{
    *dt = 0;
    *sync_err = 0;
    if (s->dead) {
        snprintf(why, nwhy, "the %s's runner has ended", s->label);
        return -1;
    }
    if (spak_runner_frozen(s->r) && spak_runner_freeze(s->r, false)) {
        snprintf(why, nwhy, "cannot thaw the %s's runner", s->label);
        s->dead = true;
        return -1;
    }
    union {
        rp_head h;
        cp_done d;
        rp_fault f;
    } a;
    memset(&a, 0, sizeof a);
    if (getrandom(nonce, sizeof *nonce, 0) != (ssize_t)sizeof *nonce) {
        snprintf(why, nwhy, "harness: getrandom failed");
        return -1;
    }
    double t0 = spak_runner_now();
    ssize_t n = spak_runner_send(s->r, m, len, NULL, 0) == 0 ? spak_runner_recv(s->r, &a, sizeof a, timeout_s) : -1;
    double t1 = spak_runner_now();
    *dt = t1 - t0;
    spak_runner_freeze(s->r, true);
    if (n == (ssize_t)sizeof a.d && a.h.magic == RP_MAGIC && a.h.kind == CP_DONE && a.d.n == ncalls &&
        a.d.nonce == *nonce) {
        for (int i = 0; i < ncalls; i++) rc[i] = a.d.rc[i];
        *sync_err = a.d.sync_err;
        s->late_s = a.d.late_ns > 0 ? (double)a.d.late_ns * 1e-9 : 0;
        return 0;
    }
    s->dead = true;
    if (n == (ssize_t)sizeof a.d && a.h.magic == RP_MAGIC && a.h.kind == CP_DONE)
        snprintf(why, nwhy, "the %s's process answered out of protocol (a DONE for another call)", s->label);
    else if (n == (ssize_t)sizeof a.f && a.h.magic == RP_MAGIC && a.h.kind == RP_FAULT)
        snprintf(why, nwhy, "the %s's process faulted (signal %d)", s->label, a.f.sig);
    else if (n == 0)
        snprintf(why, nwhy, "the %s's process ended during the call (crash or exit)", s->label);
    else if (n < 0 && t1 - t0 >= timeout_s)
        snprintf(why, nwhy, "the %s's call did not return within %.0f s", s->label, timeout_s);
    else
        snprintf(why, nwhy, "the %s's process answered out of protocol", s->label);
    return -1;
}

int cj_side_call(cj_side *s, const cp_call *c, double timeout_s, double *dt, int *rc, int *sync_err, char *why,
                 size_t nwhy)
{
    static cp_call m; /* c with a fresh nonce */
    m = *c;
    return timed_call(s, &m, sizeof m, &m.nonce, c->n, timeout_s, dt, rc, sync_err, why, nwhy);
}

int cj_side_kcall(cj_side *s, const cp_kcall *c, double timeout_s, double *dt, int *rc, int *sync_err, char *why,
                  size_t nwhy)
{
    static cp_kcall m;
    m = *c;
    return timed_call(s, &m, sizeof m, &m.nonce, c->n, timeout_s, dt, rc, sync_err, why, nwhy);
}

bool cj_side_denied(cj_side *s, char *why, size_t nwhy)
{
    return s->r && spak_runner_denied(s->r, s->label, why, nwhy);
}

int cj_side_stop(cj_side *s, char *why, size_t nwhy)
{
    int bad = 0;
    if (s->r) bad = spak_runner_stop(s->r, s->label, why, nwhy);
    s->r = NULL;
    s->dead = true;
    if (s->pool) {
        drv.cuMemUnmap((CUdeviceptr)s->pool, s->pool_bytes);
        drv.cuMemAddressFree((CUdeviceptr)s->pool, s->pool_bytes);
        drv.cuMemRelease((CUmemGenericAllocationHandle)s->pool_handle);
    }
    if (s->ro_pool) {
        drv.cuMemUnmap((CUdeviceptr)s->ro_pool, s->ro_bytes);
        drv.cuMemAddressFree((CUdeviceptr)s->ro_pool, s->ro_bytes);
        drv.cuMemRelease((CUmemGenericAllocationHandle)s->ro_handle);
    }
    s->pool = 0;
    s->ro_pool = 0;
    return bad;
}

const char *cj_side_freeze_how(const cj_side *s)
{
    return s->r ? spak_runner_freeze_how(s->r) : "none";
}
