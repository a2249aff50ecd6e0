/*
 * kernels/cuda/common/cuda_judge.h - what both CUDA judges (the GEMM and
 * FMHA harnesses) do with a runner (spak-runner-cuda, runner_cuda.c): start
 * it in spak's sandbox and load a kernel .so in it, give it a device-memory
 * pool the judge also maps (cuMemCreate exported as a POSIX fd, passed with
 * SCM_RIGHTS: legacy CUDA IPC handles do not cross PID namespaces), ask it
 * for the kernel's declarations, and time batches of calls with the judge's
 * own host clock, from sending CALL (runner thawed) to receiving DONE (the
 * runner synchronized its stream and its device), freezing it again after.
 * Plain C11 over the CUDA driver API; everything a runner answers is
 * validated here.
 *
 * Ownership: a cj_side is the caller's; cj_side_stop ends its runner and
 * releases its pool.
 */
#ifndef SPAK_CUDA_JUDGE_H
#define SPAK_CUDA_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct spak_runner;

typedef struct cj_side {
    struct spak_runner *r;
    const char *label;       /* "candidate", "baseline" */
    char name[96];           /* the .so's self-description (untrusted text) */
    uint64_t pool;           /* the judge's mapping of the pool (a CUdeviceptr) */
    size_t pool_bytes;
    unsigned long long pool_handle;
    uint64_t ro_pool;        /* a declared kernel's inputs' pool (slot 1; 0: none) */
    size_t ro_bytes;
    unsigned long long ro_handle;
    bool ro_readonly;        /* the runner mapped it read-only (else read-write: the inputs' hash alone) */
    bool dead;               /* ended, faulted or broke the protocol: never called again */
    double late_s;           /* the last call's device synchronization after its stream's (cp_done.late_ns) */
    int confirmed;           /* batches repeated to confirm (jd_batch_with): at most one a shape */
} cj_side;

/* The runner binary beside the judge (spak-runner-cuda in the directory of
 * /proc/self/exe) into buf; 0, or -1 when it is not there. */
int cj_find_runner(char *buf, size_t n);

/* Starts the runner for so_path as family ("gemm", "fmha"); s->label must
 * be set. 0; 3 the .so cannot be loaded; 4 the runner could not start (why). */
int cj_side_start(cj_side *s, const char *runner_exe, const char *so_path, const char *family, char *why,
                  size_t nwhy);

/* A fresh pool of at least bytes, mapped here and in the runner. 0 or -1 (why). */
int cj_side_map(cj_side *s, size_t bytes, char *why, size_t nwhy);

/* A declared kernel's inputs' pool (slot 1) of at least bytes, mapped
 * here read-write and in the runner read-only where the device allows
 * (s->ro_readonly says which). 0 or -1 (why). */
int cj_side_map_ro(cj_side *s, size_t bytes, char *why, size_t nwhy);

/* A declared kernel's function looked up in its runner (KQUERY/KINFO):
 * out->rc 0 when it is there and takes the parameters q gives it. 0 when
 * the runner answered (look at out->rc), -1 when it did not (why). */
int cj_side_kquery(cj_side *s, const cp_kquery *q, cp_kinfo *out, char *why, size_t nwhy);

/* cj_side_call for a declared kernel's launches (KCALL). */
int cj_side_kcall(cj_side *s, const cp_kcall *c, double timeout_s, double *dt, int *rc, int *sync_err, char *why,
                  size_t nwhy);

/* The kernel's declarations for the problem q. 0 or -1 (why). */
int cj_side_query(cj_side *s, const cp_query *q, cp_info *out, char *why, size_t nwhy);

/* Thaws the runner, times c (send to DONE, CLOCK_MONOTONIC, seconds into
 * *dt), freezes it again. rc[0..n) and *sync_err get the runner's answer.
 * 0; -1 when the runner died, faulted, hung past timeout_s or answered out
 * of protocol (why; s->dead is set). */
int cj_side_call(cj_side *s, const cp_call *c, double timeout_s, double *dt, int *rc, int *sync_err, char *why,
                 size_t nwhy);

/* Whether the runner's sandbox denied it a system call (why names it). */
bool cj_side_denied(cj_side *s, char *why, size_t nwhy);

/* Ends the runner (its capped stdout/stderr go to our stderr as a log) and
 * releases the pool. 0, or -1 when its sandbox says its code must not be
 * trusted (a denied call, isolation below the minimum: why). */
int cj_side_stop(cj_side *s, char *why, size_t nwhy);

/* How freezing works for this side's runner ("cgroup-v2", "sigstop"...). */
const char *cj_side_freeze_how(const cj_side *s);

#ifdef __cplusplus
}
#endif

#endif
