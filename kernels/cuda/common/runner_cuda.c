/*
 * kernels/cuda/common/runner_cuda.c - spak-runner-cuda: the process that
 * hosts a CUDA kernel (a candidate, or a baseline wrapped as a .so: cuBLAS,
 * cuDNN) for a CUDA judge. The judge starts it inside spak's sandbox (PID,
 * network and mount namespaces, Landlock, rlimits, an unprivileged uid, the
 * syscall filter) with no arguments but its name; everything arrives on
 * fd 3 (cuda_proto.h):
 *
 *   LOAD   the .so as an fd (dlopen'ed through /proc/self/fd) and the family
 *   MAP    a device-memory pool as a POSIX fd: imported, mapped read-write
 *          (device memory cannot be mapped read-only for a kernel: the
 *          judge compares the inputs before and after every call)
 *   QUERY  the kernel's declarations for a problem
 *   CALL   n calls back to back on this runner's stream, each on its own
 *          inputs and output in the pool; then the stream and the whole
 *          device are synchronized (work the kernel left on another stream
 *          ends before DONE, inside the judge's clock) and DONE answers
 *
 * A declared kernel (family "declared", spak-judge-cuda): LOAD carries a
 * cubin or fatbin (never a .so: no host code of the candidate runs here),
 * kept until KQUERY loads it (cuModuleLoadData) and finds its entry; MAP's
 * slot 1 is the inputs' pool, mapped read-only (CU_MEM_ACCESS_FLAGS_PROT_READ:
 * a write to it is an illegal address) where the device allows it; KCALL
 * launches it n times with cuLaunchKernel and the parameter buffers the
 * judge packed, the buffers' offsets relocated into the pools here after a
 * bounds check. A "constant" argument's buffer is also copied, before each
 * launch and on the same stream, into the module's __constant__ symbol of
 * its name (found at KQUERY, its size checked against the argument's).
 *
 * The runner keeps no clock, no reference and no record: the judge times
 * from sending CALL to receiving DONE, checks every call itself, freezes
 * this process tree whenever it is not being called, and checks that the
 * device is idle of this runner's work before and after. Its stdout and
 * stderr are a capped log. Exit: 0 when the judge closes the socket, 1 on a
 * protocol error. C11 over the CUDA driver API (the pool) and the runtime
 * API (the stream the ABI passes).
 */
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../common/runner_io.h"
#include "../fmha/abi.h"
#include "../gemm/abi.h"
#include "cuda_proto.h"

/* one family's entry points, resolved at LOAD */
typedef struct family {
    const char *name, *entry, *info_sym;
    int abi;
} family;

static const family families[] = {
    {"gemm", "spak_gemm", "spak_gemm_info", SPAK_GEMM_ABI_VERSION},
    {"fmha", "spak_fmha", "spak_fmha_info", SPAK_FMHA_ABI_VERSION},
};

static const family *fam;
static void *lib, *entry;
static CUdeviceptr pool, ro_pool; /* slot 0; slot 1 (a declared kernel's inputs) */
static size_t pool_len, ro_len;
static cudaStream_t stream;
static void sync_done(cp_done *d, int n, uint64_t nonce);
/* a declared kernel: its image (from LOAD), module and function */
#define MAX_IMAGE ((size_t)512 << 20)
static bool declared;
static unsigned char *image;
static CUmodule kmod;
static CUfunction kfn;
/* its __constant__ arguments' symbols (0: the module has none of that
 * name and need not: the data reaches the kernel by its parameter) */
static int ncmem;
static CUdeviceptr cmem_ptr[CP_KMAX_CMEM];
static size_t cmem_size[CP_KMAX_CMEM];

static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx, (void)si;
    rp_fault f;
    memset(&f, 0, sizeof f);
    f.h.magic = RP_MAGIC;
    f.h.kind = RP_FAULT;
    f.sig = sig;
    send(RP_FD, &f, sizeof f, MSG_NOSIGNAL);
    _exit(128 + sig);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    size_t l = src ? strnlen(src, n - 1) : 0;
    if (l) memcpy(dst, src, l);
    dst[l] = 0;
}

/* data pointer -> function pointer (ISO C forbids the cast) */
#define AS_FN(fp, sym) memcpy(&(fp), &(sym), sizeof(sym))

/* A declared kernel's image read from fd into `image` (loaded into the
 * device at KQUERY, once the context exists). r says how it went. */
static void load_image(int fd, rp_ready *r)
{
    off_t len = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (len <= 0 || (size_t)len > MAX_IMAGE || lseek(fd, 0, SEEK_SET) != 0 || !(image = malloc((size_t)len + 1))) {
        snprintf(r->msg, sizeof r->msg, "runner: the kernel image is empty, unreadable or over %zu MiB",
                 MAX_IMAGE >> 20);
        return;
    }
    size_t got = 0;
    while (got < (size_t)len) {
        ssize_t k = read(fd, image + got, (size_t)len - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != (size_t)len) {
        snprintf(r->msg, sizeof r->msg, "runner: short read of the kernel image");
        free(image);
        image = NULL;
        return;
    }
    image[got] = 0; /* PTX text must end in NUL for cuModuleLoadData */
    declared = true;
    snprintf(r->name, sizeof r->name, "cubin (%zu bytes)", got);
    r->rc = 0;
}

static void do_load(const rp_load *m, int so_fd)
{
    rp_ready r;
    memset(&r, 0, sizeof r);
    r.h = (rp_head){RP_MAGIC, RP_READY};
    r.rc = 1;
    char famname[sizeof m->family + 1];
    copy_str(famname, sizeof famname, m->family);
    const family *f = NULL;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (!strcmp(families[i].name, famname)) f = &families[i];
    if (!strcmp(famname, "declared") && !lib && !image) {
        load_image(so_fd, &r);
        close(so_fd);
        rp_send(&r, sizeof r);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", so_fd);
    void *h = f && so_fd >= 0 && !lib ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    void *e = h ? dlsym(h, f->entry) : NULL, *isym = h ? dlsym(h, f->info_sym) : NULL;
    if (!f || lib)
        snprintf(r.msg, sizeof r.msg, "runner: bad LOAD (family '%s')", famname);
    else if (!h)
        snprintf(r.msg, sizeof r.msg, "%s", dlerror());
    else if (!e || !isym)
        snprintf(r.msg, sizeof r.msg, "does not export %s and %s", f->entry, f->info_sym);
    else {
        /* both info structs begin with abi_version, then name */
        const struct spak_gemm_info *(*info)(void);
        AS_FN(info, isym);
        const struct spak_gemm_info *inf = info();
        if (!inf || inf->abi_version != f->abi)
            snprintf(r.msg, sizeof r.msg, "%s: missing or wrong abi_version (want %d)", f->info_sym, f->abi);
        else {
            copy_str(r.name, sizeof r.name, inf->name);
            fam = f, lib = h, entry = e;
            r.rc = 0;
        }
    }
    if (so_fd >= 0) close(so_fd);
    rp_send(&r, sizeof r);
}

static const char *cu_name(CUresult e)
{
    const char *s = NULL;
    cuGetErrorName(e, &s);
    return s ? s : "?";
}

static void do_map(const cp_map *m, int fd)
{
    cp_mapped a;
    memset(&a, 0, sizeof a);
    a.h = (rp_head){RP_MAGIC, CP_MAPPED};
    a.rc = 1;
    CUresult e = CUDA_SUCCESS;
    const char *step = "";
    CUmemGenericAllocationHandle h = 0;
    bool have = false;
    int slot = m->slot;
    /* slot 1 and read-only only for a declared kernel (a .so's host code could remap it anyway) */
    if ((slot != 0 && slot != 1) || (slot == 1 && !declared) || (m->readonly && slot != 1) ||
        (slot == 0 ? pool : ro_pool) || fd < 0 || !m->bytes) {
        snprintf(a.msg, sizeof a.msg, "runner: bad MAP");
        goto out;
    }
    /* the runtime's primary context, which the kernel's runtime shares */
    if (!stream && (cudaSetDevice(0) != cudaSuccess || cudaFree(NULL) != cudaSuccess ||
                    cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess)) {
        snprintf(a.msg, sizeof a.msg, "runner: no CUDA device or context");
        goto out;
    }
#define STEP(call) (step = #call, (e = (call)) == CUDA_SUCCESS)
    CUmemAccessDesc acc;
    memset(&acc, 0, sizeof acc);
    acc.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    acc.location.id = 0;
    acc.flags = m->readonly ? CU_MEM_ACCESS_FLAGS_PROT_READ : CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    CUdeviceptr p = 0;
    if (STEP(cuMemImportFromShareableHandle(&h, (void *)(intptr_t)fd, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR)) &&
        (have = true) && STEP(cuMemAddressReserve(&p, m->bytes, 0, 0, 0)) && STEP(cuMemMap(p, m->bytes, 0, h, 0))) {
        bool ok = STEP(cuMemSetAccess(p, m->bytes, &acc, 1));
        a.readonly = ok && m->readonly;
        if (!ok && m->readonly) { /* the device cannot map it read-only: read-write, the judge's hash alone */
            acc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
            ok = STEP(cuMemSetAccess(p, m->bytes, &acc, 1));
        }
        if (ok) {
            *(slot == 0 ? &pool : &ro_pool) = p;
            *(slot == 0 ? &pool_len : &ro_len) = m->bytes;
            a.rc = 0;
        }
    }
    if (a.rc) snprintf(a.msg, sizeof a.msg, "runner: %s: %s", step, cu_name(e));
#undef STEP
    if (have) cuMemRelease(h); /* the mapping keeps the memory */
out:
    if (fd >= 0) close(fd);
    rp_send(&a, sizeof a);
}

/* cuFuncGetParamInfo (CUDA 12.4) from the driver when it has it: an older
 * driver launches the kernel without the signature check */
typedef CUresult (*param_info_fn)(CUfunction, size_t, size_t *, size_t *);
static param_info_fn param_info(void)
{
    void *p = dlsym(RTLD_DEFAULT, "cuFuncGetParamInfo");
    param_info_fn f;
    AS_FN(f, p);
    return p ? f : NULL;
}

/* Whether kfn takes exactly the parameters q gives it: 1 yes, 0 no (why),
 * -1 cannot tell (no cuFuncGetParamInfo) */
static int check_params(const cp_kquery *q, char *why, size_t n)
{
    param_info_fn pi = param_info();
    size_t off = 0, sz = 0;
    if (!pi) return -1;
    for (int i = 0; i < q->nparams; i++) {
        CUresult e = pi(kfn, (size_t)i, &off, &sz);
        if (e != CUDA_SUCCESS) {
            snprintf(why, n, "the kernel takes %d parameters, the decl gives %d", i, q->nparams);
            return 0;
        }
        if (off != q->poff[i] || sz != q->psize[i]) {
            snprintf(why, n, "parameter %d: the kernel's is %zu bytes at offset %zu, the decl's %u bytes at %u "
                     "(a buffer is a pointer, 8 bytes; a scalar its type's size)", i, sz, off, q->psize[i], q->poff[i]);
            return 0;
        }
    }
    if (pi(kfn, (size_t)q->nparams, &off, &sz) == CUDA_SUCCESS) {
        snprintf(why, n, "the kernel takes more than the %d parameters the decl gives", q->nparams);
        return 0;
    }
    return 1;
}

/* The module's symbol of each __constant__ argument q names, checked
 * against the argument's bytes (cp_cmem_verdict): 0, or -1 with why. */
static int find_cmem(const cp_kquery *q, char *why, size_t n)
{
    if (q->ncmem < 0 || q->ncmem > CP_KMAX_CMEM) {
        snprintf(why, n, "runner: bad KQUERY (%d constant arguments)", q->ncmem);
        return -1;
    }
    ncmem = q->ncmem;
    for (int k = 0; k < ncmem; k++) {
        char name[sizeof q->cmem_name[k] + 1];
        copy_str(name, sizeof name, q->cmem_name[k]);
        CUdeviceptr p = 0;
        size_t sz = 0;
        bool found = cuModuleGetGlobal(&p, &sz, kmod, name) == CUDA_SUCCESS;
        char msg[CP_CMEM_WHY];
        int v = cp_cmem_verdict(name, q->cmem_bytes[k], found, sz, q->cmem_required, msg, sizeof msg);
        if (v < 0) {
            copy_str(why, n, msg);
            return -1;
        }
        cmem_ptr[k] = v ? p : 0;
        cmem_size[k] = v ? sz : 0;
    }
    return 0;
}

/* Before launch i: each __constant__ argument's data, the buffer of its
 * parameter (relocated and bounds checked), copied into its symbol on the
 * stream, so the launch after it reads this call's inputs. A CUresult. */
static CUresult copy_cmem(const cp_kcall *c, const unsigned char *buf)
{
    for (int k = 0; k < ncmem; k++) {
        if (!cmem_ptr[k]) continue;
        int r = c->cmem_reloc[k];
        if (r < 0 || r >= c->nreloc || c->reloc[r].bytes > cmem_size[k]) return CUDA_ERROR_INVALID_VALUE;
        uint64_t src;
        memcpy(&src, buf + c->reloc[r].at, 8);
        CUresult e = cuMemcpyDtoDAsync(cmem_ptr[k], (CUdeviceptr)src, c->reloc[r].bytes, (CUstream)stream);
        if (e != CUDA_SUCCESS) return e;
    }
    return CUDA_SUCCESS;
}

static void do_kquery(cp_kquery *q)
{
    cp_kinfo a;
    memset(&a, 0, sizeof a);
    a.h = (rp_head){RP_MAGIC, CP_KINFO};
    a.rc = 1;
    CUresult e = CUDA_SUCCESS;
    q->entry[sizeof q->entry - 1] = 0;
    if (!declared || !stream || q->nparams < 0 || q->nparams > CP_KMAX_ARGS) {
        snprintf(a.msg, sizeof a.msg, "runner: bad KQUERY (no image, no pool yet, or %d parameters)", q->nparams);
        goto out;
    }
    /* the runtime's primary context (MAP made it) must be this thread's for the driver API */
    CUcontext ctx = NULL;
    CUdevice dev = 0;
    if (cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx) {
        if ((e = cuDeviceGet(&dev, 0)) != CUDA_SUCCESS || (e = cuDevicePrimaryCtxRetain(&ctx, dev)) != CUDA_SUCCESS ||
            (e = cuCtxSetCurrent(ctx)) != CUDA_SUCCESS) {
            snprintf(a.msg, sizeof a.msg, "runner: no current CUDA context: %s", cu_name(e));
            goto out;
        }
    }
    if (!kmod && (e = cuModuleLoadData(&kmod, image)) != CUDA_SUCCESS) {
        kmod = NULL;
        snprintf(a.msg, sizeof a.msg, "cuModuleLoadData: %s (not a cubin, fatbin or PTX for this device?)", cu_name(e));
        goto out;
    }
    if ((e = cuModuleGetFunction(&kfn, kmod, q->entry)) != CUDA_SUCCESS) {
        kfn = NULL;
        snprintf(a.msg, sizeof a.msg, "no kernel '%.100s' in the module (%s): declare it extern \"C\" __global__",
                 q->entry, cu_name(e));
        goto out;
    }
    if (find_cmem(q, a.msg, sizeof a.msg) != 0) goto out;
    int v[5] = {0, 0, 0, 0, 0}, bps = 0;
    static const CUfunction_attribute at[5] = {CU_FUNC_ATTRIBUTE_NUM_REGS, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                                               CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES,
                                               CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, CU_FUNC_ATTRIBUTE_BINARY_VERSION};
    for (int i = 0; i < 5; i++) cuFuncGetAttribute(&v[i], at[i], kfn);
    /* more dynamic shared memory than the default 48 KiB must be asked for */
    if (q->smem > 48 * 1024 &&
        (e = cuFuncSetAttribute(kfn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)q->smem)) != CUDA_SUCCESS) {
        snprintf(a.msg, sizeof a.msg, "%u bytes of dynamic shared memory: %s", q->smem, cu_name(e));
        goto out;
    }
    cuOccupancyMaxActiveBlocksPerMultiprocessor(&bps, kfn, (int)q->block_threads, q->smem);
    int64_t k[6] = {v[0], v[1], v[2], v[3], bps, v[4]};
    memcpy(a.kinfo, k, sizeof k);
    int c = check_params(q, a.msg, sizeof a.msg);
    a.sig_checked = c == 1;
    if (c == 0) goto out;
    a.msg[0] = 0;
    a.rc = 0;
out:
    rp_send(&a, sizeof a);
}

/* n launches of kfn: each parameter buffer's buffers relocated into the
 * pools (bounds checked), then the same synchronization and DONE as CALL. */
static int do_kcall(const cp_kcall *c)
{
    cp_done d;
    memset(&d, 0, sizeof d);
    d.h = (rp_head){RP_MAGIC, CP_DONE};
    if (!kfn || c->n < 1 || c->n > RP_MAX_BATCH || c->nreloc < 0 || c->nreloc > CP_KMAX_ARGS ||
        c->param_bytes > CP_KPARAM_BYTES || c->ncmem != ncmem)
        return 1;
    for (int i = 0; i < c->n; i++) {
        static unsigned char buf[CP_KPARAM_BYTES];
        memcpy(buf, c->param[i], CP_KPARAM_BYTES);
        for (int r = 0; r < c->nreloc; r++) {
            const cp_kreloc *x = &c->reloc[r];
            CUdeviceptr base = x->slot == 0 ? pool : x->slot == 1 ? ro_pool : 0;
            size_t len = x->slot == 0 ? pool_len : ro_len;
            uint64_t off;
            if (!base || c->param_bytes < 8 || x->at > c->param_bytes - 8 || x->at % 8 || !x->bytes || x->bytes > len) return 1;
            memcpy(&off, buf + x->at, 8);
            if (off > len - x->bytes) return 1;
            uint64_t addr = base + off;
            memcpy(buf + x->at, &addr, 8);
        }
        size_t bytes = c->param_bytes;
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &bytes, CU_LAUNCH_PARAM_END};
        CUresult ce = copy_cmem(c, buf);
        if (ce != CUDA_SUCCESS) {
            d.rc[i] = (int32_t)ce;
            continue;
        }
        d.rc[i] = (int32_t)cuLaunchKernel(kfn, c->grid[0], c->grid[1], c->grid[2], c->block[0], c->block[1],
                                          c->block[2], c->smem, (CUstream)stream, NULL, extra);
    }
    sync_done(&d, c->n, c->nonce);
    return 0;
}

static int64_t es_of(int dtype)
{
    return dtype == 0 ? 4 : 2;
}

static void do_query(const cp_query *q)
{
    cp_info a;
    memset(&a, 0, sizeof a);
    a.h = (rp_head){RP_MAGIC, CP_INFO};
    if (!fam) {
        a.rc = 1;
        rp_send(&a, sizeof a);
        return;
    }
    void *isym = dlsym(lib, fam->info_sym);
    if (!strcmp(fam->name, "gemm")) {
        const struct spak_gemm_info *(*info)(void);
        AS_FN(info, isym);
        const struct spak_gemm_info *g = info();
        int64_t v[] = {g->abi_version, g->dtypes, g->m_multiple, g->n_multiple, g->k_multiple, g->min_sm};
        memcpy(a.info, v, sizeof v);
        void *ks = dlsym(lib, "spak_gemm_kernel_info");
        struct spak_gemm_kinfo ki;
        memset(&ki, 0, sizeof ki);
        int (*kinfo)(int, int, int, int, struct spak_gemm_kinfo *);
        if (ks) {
            AS_FN(kinfo, ks);
            a.have_kinfo = kinfo((int)q->d[0], (int)q->d[1], (int)q->d[2], q->dtype, &ki) == 0;
        }
        int64_t k[] = {ki.registers, ki.smem_bytes, ki.local_bytes, ki.block_threads, ki.blocks_per_sm, ki.grid_blocks};
        memcpy(a.kinfo, k, sizeof k);
    } else {
        const struct spak_fmha_info *(*info)(void);
        AS_FN(info, isym);
        const struct spak_fmha_info *f = info();
        int64_t v[] = {f->abi_version, f->dtypes, f->head_dims, f->s_multiple, f->max_s,
                       f->causal,      f->gqa,    f->lse,       f->min_sm};
        memcpy(a.info, v, sizeof v);
        void *ws = dlsym(lib, "spak_fmha_workspace"), *ks = dlsym(lib, "spak_fmha_kernel_info");
        int B = (int)q->d[0], H = (int)q->d[1], Hkv = (int)q->d[2], S = (int)q->d[3], D = (int)q->d[4];
        if (ws) {
            size_t (*wf)(int, int, int, int, int, int, int);
            AS_FN(wf, ws);
            a.workspace = wf(B, H, Hkv, S, D, q->causal, q->dtype);
        }
        struct spak_fmha_kinfo ki;
        memset(&ki, 0, sizeof ki);
        if (ks) {
            int (*kf)(int, int, int, int, int, int, int, struct spak_fmha_kinfo *);
            AS_FN(kf, ks);
            a.have_kinfo = kf(B, H, Hkv, S, D, q->causal, q->dtype, &ki) == 0;
        }
        int64_t k[] = {ki.registers, ki.smem_bytes, ki.local_bytes, ki.block_threads, ki.blocks_per_sm, ki.grid_blocks};
        memcpy(a.kinfo, k, sizeof k);
    }
    rp_send(&a, sizeof a);
}

/* After n calls: the stream, then the whole device synchronized (work left
 * on another stream ends before DONE, inside the judge's clock; how long it
 * took is late_ns), DONE sent with the call's nonce. */
static void sync_done(cp_done *d, int n, uint64_t nonce)
{
    cudaError_t e = cudaStreamSynchronize(stream);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cudaError_t e2 = cudaDeviceSynchronize();
    clock_gettime(CLOCK_MONOTONIC, &t1);
    d->late_ns = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
    d->sync_err = e != cudaSuccess ? (int32_t)e : (int32_t)e2;
    d->n = n;
    d->nonce = nonce;
    rp_send(d, sizeof *d);
}

static bool in_pool(uint64_t off, int64_t bytes)
{
    return bytes > 0 && (uint64_t)bytes <= pool_len && off <= pool_len - (uint64_t)bytes && off % 256 == 0;
}

/* the byte sizes of a call's buffers: in[0..3), out, lse */
static bool sizes(const cp_call *c, int64_t sz[5])
{
    int64_t es = es_of(c->dtype);
    for (int i = 0; i < CP_DIMS; i++)
        if (c->d[i] < 0 || c->d[i] > (1 << 20)) return false;
    memset(sz, 0, 5 * sizeof *sz);
    if (!strcmp(fam->name, "gemm")) {
        int64_t M = c->d[0], N = c->d[1], K = c->d[2];
        sz[0] = M * K * es, sz[1] = N * K * es, sz[3] = M * N * es;
    } else {
        int64_t B = c->d[0], H = c->d[1], Hkv = c->d[2], S = c->d[3], D = c->d[4];
        sz[0] = sz[3] = B * H * S * D * es;
        sz[1] = sz[2] = B * Hkv * S * D * es;
        sz[4] = B * H * S * 4;
    }
    return true;
}

static int do_call(const cp_call *c)
{
    cp_done d;
    memset(&d, 0, sizeof d);
    d.h = (rp_head){RP_MAGIC, CP_DONE};
    int64_t sz[5];
    if (!entry || !pool || c->n < 1 || c->n > RP_MAX_BATCH || !sizes(c, sz)) return 1;
    if (c->ws_bytes && !in_pool(c->ws_off, (int64_t)c->ws_bytes)) return 1;
    void *ws = c->ws_bytes ? (void *)(uintptr_t)(pool + c->ws_off) : NULL;
    for (int i = 0; i < c->n; i++) {
        const cp_item *it = &c->item[i];
        void *p[5] = {NULL, NULL, NULL, NULL, NULL};
        for (int k = 0; k < 4; k++) {
            if (!sz[k]) continue;
            if (!in_pool(k < 3 ? it->in_off[k] : it->out_off, sz[k])) return 1;
            p[k] = (void *)(uintptr_t)(pool + (k < 3 ? it->in_off[k] : it->out_off));
        }
        if (!strcmp(fam->name, "gemm")) {
            int (*g)(int, int, int, int, const void *, const void *, void *, cudaStream_t);
            AS_FN(g, entry);
            d.rc[i] = g((int)c->d[0], (int)c->d[1], (int)c->d[2], c->dtype, p[0], p[1], p[3], stream);
        } else {
            if (it->lse_off >= 0) {
                if (!in_pool((uint64_t)it->lse_off, sz[4])) return 1;
                p[4] = (void *)(uintptr_t)(pool + (uint64_t)it->lse_off);
            }
            int (*f)(int, int, int, int, int, int, int, const void *, const void *, const void *, void *, float *,
                     float, void *, size_t, cudaStream_t);
            AS_FN(f, entry);
            d.rc[i] = f((int)c->d[0], (int)c->d[1], (int)c->d[2], (int)c->d[3], (int)c->d[4], c->causal, c->dtype,
                        p[0], p[1], p[2], p[3], (float *)p[4], c->scale, ws, (size_t)c->ws_bytes, stream);
        }
    }
    sync_done(&d, c->n, c->nonce);
    return 0;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    static union {
        rp_head h;
        rp_load load;
        cp_map map;
        cp_query query;
        cp_call call;
        cp_kquery kquery;
        cp_kcall kcall;
    } msg;
    for (;;) {
        int fd;
        ssize_t n = rp_recv(&msg, sizeof msg, &fd, 1);
        if (n == 0) return 0;
        bool ok = n >= (ssize_t)sizeof(rp_head) && msg.h.magic == RP_MAGIC;
        if (ok && msg.h.kind == RP_LOAD && n == (ssize_t)sizeof msg.load)
            do_load(&msg.load, fd);
        else if (ok && msg.h.kind == CP_MAP && n == (ssize_t)sizeof msg.map)
            do_map(&msg.map, fd);
        else if (ok && msg.h.kind == CP_QUERY && n == (ssize_t)sizeof msg.query)
            do_query(&msg.query);
        else if (ok && msg.h.kind == CP_CALL && n == (ssize_t)sizeof msg.call && !declared && do_call(&msg.call) == 0)
            ;
        else if (ok && msg.h.kind == CP_KQUERY && n == (ssize_t)sizeof msg.kquery)
            do_kquery(&msg.kquery);
        else if (ok && msg.h.kind == CP_KCALL && n == (ssize_t)sizeof msg.kcall && do_kcall(&msg.kcall) == 0)
            ;
        else {
            fprintf(stderr, "spak-runner-cuda: bad message (kind %u, %zd bytes)\n", ok ? msg.h.kind : 0u, n);
            return 1;
        }
        if (fd >= 0 && msg.h.kind != RP_LOAD && msg.h.kind != CP_MAP) close(fd);
    }
}
