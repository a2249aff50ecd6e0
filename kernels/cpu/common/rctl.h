/*
 * kernels/cpu/common/rctl.h - the CPU judge's side of a runner (runner.c),
 * on kernels/common/runner_ctl.h: start spak-runner-cpu in spak's sandbox
 * with a socketpair as its fd 3, load a .so in it, share the inputs (a
 * sealed memfd the runner can only read) and the output (a memfd), time batches of calls with the judge's own clock, freeze
 * and thaw it, end it. Everything a runner sends is validated here; a runner
 * that dies, hangs or answers nonsense gives an error with a reason, never a
 * number.
 *
 * Ownership: a cpu_runner is the caller's from cpu_runner_start until
 * cpu_runner_stop; the mappings returned by cpu_runner_map are the runner's
 * (valid until the next map or the stop).
 */
#ifndef SPAK_CPU_RCTL_H
#define SPAK_CPU_RCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "../../common/runner_ctl.h"
#include "proto.h"

typedef struct cpu_runner cpu_runner;

/* Starts runner_exe (no arguments but its name) in the sandbox with env
 * ("KEY=VALUE", NULL-terminated, may be NULL) and loads the .so at so_path
 * (copied by the judge into a sealed memfd, so the file's permissions and
 * later changes do not matter) as family. On 0, *out is the runner, frozen,
 * and name/prec hold the .so's self-description ("" when it has none:
 * untrusted text, for the records only). On failure returns 3 (the .so
 * cannot be loaded: why says why) or 4 (the runner could not be started). */
int cpu_runner_start(const char *runner_exe, const char *so_path, const char *family, const char *const *env,
                     cpu_runner **out, char *name, size_t nname, char *prec, size_t nprec, char *why, size_t nwhy);

/* New input and output memory of in_bytes and out_bytes: *in (writable here;
 * sealed so the runner maps it read-only) and *out. 0, or -1 with why. */
int cpu_runner_map(cpu_runner *r, size_t in_bytes, size_t out_bytes, float **in, float **out, char *why,
                   size_t nwhy);

/* Thaws the runner, then times from sending c to receiving its DONE on
 * CLOCK_MONOTONIC (*dt, seconds), then freezes it again when freeze_after.
 * rc[0..c->n) get the calls' return codes. Returns 0; or -1 when the runner
 * died, faulted, hung past timeout_s or answered out of protocol: why says
 * which, and *input_write is set when it faulted writing its inputs. */
int cpu_runner_call(cpu_runner *r, const rp_call *c, int *rc, double timeout_s, bool freeze_after, double *dt,
                    bool *input_write, char *why, size_t nwhy);

/* Lets r run again after the stop it puts itself in after each DONE
 * (runner.c): a checked call's settle wait then sees any thread that is
 * still busy (cpu_runner_late). */
void cpu_runner_resume(cpu_runner *r);
/* Marks r as a candidate's runner: CPU its processes use after a call has
 * returned (its DONE) fails the call. A baseline's runner is only measured. */
void cpu_runner_strict(cpu_runner *r);
/* The CPU time (*late_us) r's processes used since the last DONE, over
 * *window_s seconds of the judge's clock; called once per DONE (by
 * cpu_runner_call itself after the freeze when freeze_after, else by the
 * caller after its settle wait). Returns -1 with why when r is strict and
 * that is more than a runner idle in its recv() uses (the ABI's contract:
 * all work finished, no thread busy, when the call returns); 0 otherwise,
 * also when the CPU time could not be read (then *late_us is 0). */
int cpu_runner_late(cpu_runner *r, double *late_us, double *window_s, char *why, size_t nwhy);
/* The most CPU (us) a window after a DONE saw so far, how many windows were
 * measured, and the source ("cpuclock", "cgroup-cpu.stat", "schedstat",
 * "none"). */
void cpu_runner_late_stats(const cpu_runner *r, double *max_us, long *windows, const char **how);
/* The byte offset in the input memory of the write that faulted in the
 * last call that failed with *input_write (the runner reports it), or -1. */
long long cpu_runner_fault_offset(const cpu_runner *r);

/* Freezes (frozen = true) or thaws every process and thread of the runner. */
int cpu_runner_freeze(cpu_runner *r, bool frozen);

/* How freezing works for this runner ("cgroup-v1", "cgroup-v2", "sigstop"). */
const char *cpu_runner_freeze_how(const cpu_runner *r);

/* Whether the runner's sandbox has denied it a system call so far; why[n]
 * names it ("the <label>'s syscall denied: bpf"). 1 yes, 0 no. */
int cpu_runner_denied(cpu_runner *r, const char *label, char *why, size_t n);

/* The CPU time (*s, seconds) of every runner this judge started, the
 * stopped ones' up to their stop included; false when some live runner's
 * could not be read, or read lower than before (a process of it exited and
 * took its time along: its work cannot be told from foreign work). */
bool cpu_runners_cpu_s(double *s);

/* Ends the runner (killed) and frees r; its stdout and stderr, capped, are
 * copied to the judge's stderr prefixed with label, as a log. Returns 0, or
 * -1 when its sandbox says the code it ran must not be trusted: a call the
 * syscall filter denied (the candidate may have carried on after the
 * EPERM), or isolation below the sandbox's minimum; why[nwhy] says which.
 * r NULL: 0. */
int cpu_runner_stop(cpu_runner *r, const char *label, char *why, size_t nwhy);

#endif
