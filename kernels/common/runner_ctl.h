/*
 * kernels/common/runner_ctl.h - a judge's side of one runner, for every
 * target: start a runner binary in spak's sandbox with a socketpair as its
 * fd 3, load a kernel .so in it (LOAD/READY, runner_proto.h), exchange
 * messages (the judge validates every answer), freeze and thaw it as a
 * whole, end it. The targets' own messages (memory, calls) are built on
 * spak_runner_send/spak_runner_recv: kernels/cpu/common/rctl.c,
 * kernels/cuda/common/cuda_judge.c.
 *
 * Ownership: a spak_runner is the caller's from spak_runner_start until
 * spak_runner_stop.
 */
#ifndef SPAK_RUNNER_CTL_H
#define SPAK_RUNNER_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct spak_runner spak_runner;

/* How to start a runner. */
typedef struct spak_runner_opts {
    const char *const *env; /* "KEY=VALUE" for the runner, NULL-terminated; may be NULL */
    bool gpu;               /* a CUDA runner: no address-space limit (the driver reserves far
                               more virtual memory than it uses), the GPU's device nodes */
    const char *log_prog;   /* the judge's name for its log lines ("spak-harness-cpu") */
} spak_runner_opts;

/* The judge's clock (CLOCK_MONOTONIC), seconds. */
double spak_runner_now(void);

/* Starts runner_exe (no arguments but its name) in the sandbox and loads
 * the .so at so_path (copied by the judge into a sealed memfd, so the
 * file's permissions and later changes do not matter) as family. On 0, *out
 * is the runner, frozen, and name/prec hold the .so's self-description (""
 * when it has none: untrusted text, for the records only). On failure
 * returns 3 (the .so cannot be loaded: why says why) or 4 (the runner could
 * not be started). */
int spak_runner_start(const char *runner_exe, const char *so_path, const char *family, const spak_runner_opts *o,
                      spak_runner **out, char *name, size_t nname, char *prec, size_t nprec, char *why, size_t nwhy);

/* Sends one message (n bytes) with fds[0..nfd) (nfd <= 4). 0 or -1. */
int spak_runner_send(spak_runner *r, const void *m, size_t n, const int *fds, int nfd);

/* Receives one message into buf (cap bytes) within timeout_s: its length,
 * 0 when the runner closed its socket (it ended), -1 on timeout or error.
 * Fds it sent are closed: a runner has no business sending any. */
ssize_t spak_runner_recv(spak_runner *r, void *buf, size_t cap, double timeout_s);

/* Freezes (frozen = true) or thaws every process and thread of the runner;
 * returns once it took effect. 0 or -1. */
int spak_runner_freeze(spak_runner *r, bool frozen);
bool spak_runner_frozen(const spak_runner *r);

/* The CPU time (ns) the runner's processes have used so far (libspak's
 * spak_sandbox_cpu_usage: exact per-process CPU clocks where they can be
 * read); *how (may be NULL) names the source. 0, or -1 when none could be
 * read. */
int spak_runner_cpu_usage(spak_runner *r, uint64_t *ns, const char **how);

/* The candidate process's own CPU clock (ns), without its children's or
 * the supervisor's (spak_sandbox_child_cpu). 0, or -1 unread. */
int spak_runner_child_cpu(spak_runner *r, uint64_t *ns);

/* Waits (timeout_s at most) until the runner process has stopped itself
 * (a CPU runner raises SIGSTOP right after each DONE; spak_runner_send
 * continues it). 0, or -1 when it did not stop in time. */
int spak_runner_wait_stopped(spak_runner *r, double timeout_s);
/* Undoes that stop (SIGCONT) without a message: the runner goes back to its
 * recv(), and whatever else of it still wants to run runs. */
void spak_runner_continue(spak_runner *r);

/* How freezing works for this runner ("cgroup-v1", "cgroup-v2", "sigstop"). */
const char *spak_runner_freeze_how(const spak_runner *r);

/* Whether the runner's sandbox has denied it a system call so far; why[n]
 * names it ("the <label>'s syscall denied: bpf"). 1 yes, 0 no. */
int spak_runner_denied(spak_runner *r, const char *label, char *why, size_t n);

/* Ends the runner (killed) and frees r; its stdout and stderr, capped, are
 * copied to the judge's stderr prefixed with label, as a log. Returns 0, or
 * -1 when its sandbox says the code it ran must not be trusted: a call the
 * syscall filter denied (the candidate may have carried on after the
 * EPERM), or isolation below the sandbox's minimum; why[nwhy] says which.
 * r NULL: 0. */
int spak_runner_stop(spak_runner *r, const char *label, char *why, size_t nwhy);

#endif
