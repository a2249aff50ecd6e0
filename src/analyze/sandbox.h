/*
 * sandbox.h - run one candidate evaluation in a confined child process.
 *
 * spak_sandbox_run() starts argv in a child (fork/exec, never a shell) and
 * supervises it until it ends or a limit ends it: a wall-clock timeout that
 * kills everything the child started, rlimits (CPU time, address space, file
 * size, open files, processes), capped stdout/stderr, its own working
 * directory, a scrubbed environment, no network, and no writes outside its
 * directory. Whatever the child does, the run ends with a filled
 * spak_sandbox_result that says how it ended (`why`) in a form a trace record
 * can store; spak_sandbox_run() itself fails only when the child could not be
 * started or supervised at all (bad arguments, exec failed, fork failed).
 *
 * Isolation, strongest first, each used when the kernel allows it (see
 * docs/sandbox.md; what was not available is listed in result.warnings):
 *   - a new PID namespace whose init is a tiny supervisor of ours: killing it
 *     kills every descendant, also those that called setsid() or double-forked
 *     (it mounts its own /proc, which the CUDA driver needs); otherwise a
 *     process group (descendants that leave it may survive);
 *   - a new network namespace (no interfaces but a down loopback); otherwise,
 *     Landlock TCP rules (ABI >= 4) deny TCP bind/connect;
 *   - Landlock filesystem rules: writes allowed only beneath workdir, the
 *     extra read-write dirs, and to existing files in /dev and /proc; otherwise a mount
 *     namespace with / remounted read-only except those dirs (root only);
 *     otherwise nothing prevents writes (a warning says so);
 *   - when spak runs as root, the child runs as an unprivileged uid (default
 *     65534), because the kernel does not enforce RLIMIT_NPROC for root;
 *   - a byte budget: a size-capped tmpfs over workdir in the run's mount
 *     namespace (PID namespace shape only), copied in and back;
 *   - a syscall filter (seccomp, src/analyze/seccomp.h), installed last
 *     before execve: a denied call (ptrace, mount, a new socket, ...) fails
 *     the run with why = SPAK_SANDBOX_SYSCALL_DENIED, named where the kernel
 *     has user notification, else the process is killed by SIGSYS.
 *
 * Fail closed: a layer the kernel refuses is a warning here, not an error.
 * spak_sandbox_isolation_ok() says whether a finished run met the
 * documented minimum; a caller that needs a trusted result refuses one that
 * did not.
 *
 * Threads: spak_sandbox_run() may be called from several threads at once; it
 * changes no process-wide state (no signal handlers, no subreaper). It waits
 * for its own child by pid: the host program must not ignore SIGCHLD nor
 * reap children it did not start (waitpid(-1)), or the run fails with
 * SPAK_ERR_SANDBOX ("exit status was lost").
 */
#ifndef SPAK_SANDBOX_H
#define SPAK_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "spak.h"

/* Limits and environment of one run. Get defaults with
 * spak_sandbox_limits_default() and change what you need. All pointers are
 * borrowed: they must stay valid for the duration of spak_sandbox_run(). A
 * value of 0 means "no limit" for the numeric limits except where noted. */
typedef struct spak_sandbox_limits {
    double wall_timeout_s;       /* kill everything after this (default 60) */
    double cpu_s;                /* RLIMIT_CPU per process, rounded up (default 60) */
    size_t address_space_bytes;  /* RLIMIT_AS (default 8 GiB). Set 0 for CUDA
                                    programs: the driver reserves far more
                                    virtual address space than it uses (8 GiB
                                    fails on an H100, 64 GiB works). */
    size_t file_size_bytes;      /* RLIMIT_FSIZE (default 1 GiB) */
    long max_open_files;         /* RLIMIT_NOFILE (default 256) */
    long max_processes;          /* RLIMIT_NPROC (default 64): counts threads too,
                                    and every process of the run-as uid on the
                                    machine (concurrent runs share it) */
    size_t stdout_cap_bytes;     /* bytes of stdout kept (default 1 MiB; 0 keeps none) */
    size_t stderr_cap_bytes;     /* bytes of stderr kept (default 256 KiB; 0 keeps none) */
    size_t output_kill_bytes;    /* stdout+stderr bytes after which the child is
                                    killed for spew (default 64 MiB; 0 = never:
                                    output over the caps is drained and dropped) */
    double closed_stdout_grace_s;/* stdout closed but the child still runs: kill
                                    it after this long (default 2; 0 = never) */
    bool network;                /* false (default): no network */
    long run_as_uid;             /* -1: keep ours; default 65534 when we are root,
                                    else -1. workdir is chowned to it. */
    long run_as_gid;             /* as above, default 65534 when root */
    /* Environment: the child gets only HOME=workdir, TMPDIR=workdir, LANG=C,
     * LC_ALL=C, PATH (ours when "PATH" is in env_pass, else
     * /usr/local/bin:/usr/bin:/bin), the variables named in env_pass that we
     * have, then env_extra ("KEY=VALUE", overriding). Both NULL-terminated,
     * may be NULL. */
    const char *const *env_pass;
    const char *const *env_extra;
    /* Directories besides workdir the child may write to (NULL-terminated,
     * may be NULL). They are not chowned. */
    const char *const *rw_dirs;
    /* When non-NULL (NULL-terminated, at most 32): Landlock limits reads
     * too. The child may read (files, folder listings) only beneath these
     * paths (folders, or single files), workdir, rw_dirs, /dev and /proc;
     * a path that does not exist is skipped. Builds use it: the compiler
     * reads the source's folder, the family's headers and the toolchain,
     * nothing else. Without Landlock there are no read rules (the result's
     * iso_landlock_read is false and it warns). */
    const char *const *read_dirs;
    /* When non-NULL: a run that exits 0 but never wrote this string to stdout
     * ends with why = SPAK_SANDBOX_NO_RESULT (e.g. "__SPAK_TRACE__"). */
    const char *result_marker;
    /* The byte budget of everything the run writes in workdir (default
     * 1 GiB; 0: none, which is below the minimum): a tmpfs of this size
     * (and one file per 16 KiB of it, at least 64) mounted over workdir in
     * the run's mount namespace, gone with it. What workdir held is copied
     * in before the program starts, and what it holds at the end is copied
     * back (workdir then mirrors the tmpfs), unless workdir_discard (the
     * caller removes workdir anyway). A write past it fails with ENOSPC and
     * the run ends with why = SPAK_SANDBOX_BYTE_BUDGET. /dev/shm is an
     * empty read-only tmpfs in the same namespace. rw_dirs are outside it. */
    size_t workdir_bytes;
    bool workdir_discard;
    /* Turn isolation layers off (SPAK_SANDBOX_NO_* bits): for tests of the
     * fallbacks, and for a kernel where one misbehaves. 0 by default. */
    unsigned isolation_off;
} spak_sandbox_limits;

#define SPAK_SANDBOX_NO_PIDNS 0x1u    /* process group only */
#define SPAK_SANDBOX_NO_NETNS 0x2u    /* no network namespace (Landlock TCP rules, if any) */
#define SPAK_SANDBOX_NO_LANDLOCK 0x4u /* mount namespace (root) or nothing for the filesystem */
#define SPAK_SANDBOX_NO_MOUNTNS 0x8u  /* no mount namespace fallback */
/* Freezer choices of spak_sandbox_freeze (tests of the fallbacks). */
#define SPAK_SANDBOX_NO_CGROUP_V2 0x100u /* no cgroup v2 cgroup.freeze */
#define SPAK_SANDBOX_NO_CGROUP_V1 0x200u /* no cgroup v1 freezer (both off: SIGSTOP) */
#define SPAK_SANDBOX_NO_SECCOMP 0x10u /* no syscall filter */
#define SPAK_SANDBOX_NO_SECCOMP_NOTIFY 0x20u /* the filter's killing shape only, as on a
                                                kernel without user notification */

/* How a run ended. */
typedef enum spak_sandbox_why {
    SPAK_SANDBOX_EXITED = 0,     /* exited on its own; see exit_code */
    SPAK_SANDBOX_SIGNALED,       /* killed by a signal it did not get from us; see term_signal */
    SPAK_SANDBOX_TIMEOUT,        /* wall_timeout_s passed; we killed it */
    SPAK_SANDBOX_CPU_LIMIT,      /* RLIMIT_CPU: SIGXCPU/SIGKILL after cpu_s */
    SPAK_SANDBOX_MEMORY_LIMIT,   /* likely RLIMIT_AS: died abnormally near the limit (a heuristic) */
    SPAK_SANDBOX_FILE_SIZE_LIMIT,/* RLIMIT_FSIZE: SIGXFSZ */
    SPAK_SANDBOX_OUTPUT_LIMIT,   /* wrote more than output_kill_bytes; we killed it */
    SPAK_SANDBOX_STDOUT_CLOSED,  /* closed stdout and kept running past the grace; we killed it */
    SPAK_SANDBOX_NO_RESULT,      /* exited 0 without result_marker on stdout */
    SPAK_SANDBOX_KILLED,         /* ended by the caller: spak_sandbox_finish(kill_now) */
    SPAK_SANDBOX_SYSCALL_DENIED, /* made a call the syscall filter denies (see denied_syscall),
                                    or was killed by the filter (SIGSYS); whatever it did next */
    SPAK_SANDBOX_BYTE_BUDGET     /* filled workdir_bytes (or its files): see budget_full */
} spak_sandbox_why;

typedef struct spak_sandbox_result {
    bool ok;                     /* exited 0 (and wrote result_marker if one was asked) */
    spak_sandbox_why why;
    int exit_code;               /* when it exited, else -1 */
    int term_signal;             /* signal that ended it, else 0 (SIGKILL when we killed it) */
    char why_text[256];          /* one line for people: "killed by signal 11 (SIGSEGV)" */
    char warnings[768];          /* isolation that was not available, "" when none */
    double wall_s;               /* fork to the end of the last process */
    double cpu_s;                /* user+system of the candidate and its reaped children */
    long peak_rss_kb;            /* ru_maxrss, -1 when unknown */
    pid_t pid;                   /* host pid of the child we started */
    /* Captured output: malloc'd, NUL-terminated, owned by the result (free with
     * spak_sandbox_result_free). Never NULL after a successful run. */
    char *out;
    size_t out_len;
    bool out_truncated;          /* stdout was longer than stdout_cap_bytes */
    char *err;
    size_t err_len;
    bool err_truncated;
    size_t out_total, err_total; /* bytes the child wrote, kept or not */
    bool stdout_closed_early;    /* stdout hit EOF while the child still ran */
    bool marker_seen;            /* result_marker appeared on stdout (also past the cap) */
    /* Denied calls: the first one's name ("ptrace", "socket(family 2)"), ""
     * when none was named, and how many were denied in all. */
    char denied_syscall[48];
    unsigned denied_count;
    /* What isolation was in effect. iso_seccomp: the syscall filter;
     * iso_seccomp_notify: in the shape that names denied calls (else a
     * denied call kills with SIGSYS); iso_rlimits: the CPU, file size, open
     * files and process rlimits were all set. run_uid: the uid the program
     * ran as. */
    bool iso_pidns, iso_netns, iso_landlock_fs, iso_landlock_net, iso_mountns, iso_uid;
    bool iso_seccomp, iso_seccomp_notify, iso_rlimits;
    /* iso_budget: workdir was the size-capped tmpfs. budget_full: it was
     * seen full while the run went (SPAK_SANDBOX_BUDGET_BYTES, _FILES):
     * some write failed with ENOSPC. Set also when why says otherwise (a
     * caller's kill): a judge asks it of its runners. */
    bool iso_budget;
    bool iso_landlock_read;      /* read_dirs were enforced by Landlock */
    unsigned budget_full;
    long run_uid;
} spak_sandbox_result;

#define SPAK_SANDBOX_BUDGET_BYTES 0x1u
#define SPAK_SANDBOX_BUDGET_FILES 0x2u

/* Defaults as documented on spak_sandbox_limits. */
void spak_sandbox_limits_default(spak_sandbox_limits *lim);

/* Run argv (argv[0]: a path with a '/', or a name searched in the child's
 * PATH by us; no shell) in workdir (an existing directory) under lim (NULL:
 * defaults). On SPAK_OK, *out is filled (the caller frees it with
 * spak_sandbox_result_free) whatever the child did. On failure *out holds no
 * memory and err says why: SPAK_ERR_ARG (bad argv/workdir/limits),
 * SPAK_ERR_SANDBOX (could not start: fork, exec, setuid failed),
 * SPAK_ERR_NOMEM. */
spak_status spak_sandbox_run(const char *const argv[], const char *workdir,
                             const spak_sandbox_limits *lim, spak_sandbox_result *out,
                             spak_err *err);

void spak_sandbox_result_free(spak_sandbox_result *r);

/* ---- a child the caller drives: start, freeze, finish ----------------------
 * spak_sandbox_run is spak_sandbox_start + spak_sandbox_finish. A judge that
 * talks to its runners while they run uses the three steps itself. One proc
 * is driven by one thread of the caller at a time (its relay thread is the
 * proc's own); several procs may be driven at once. */
typedef struct spak_sandbox_proc spak_sandbox_proc; /* started, not yet finished; the caller's */

/* Start argv in the sandbox like spak_sandbox_run (same limits, same layers),
 * but return at once. keep_fds[0..n_keep) (fds of the caller, n_keep <= 16)
 * become the child's fds 3, 4, ... in that order (close-on-exec cleared
 * there); every other fd of the caller stays closed in the child.
 * stdout/stderr are relayed and capped by a thread of the proc (so a child
 * that writes a lot never blocks on a full pipe), the wall timeout runs from
 * the start. lim is copied: it need not outlive the call, nor need argv.
 * On SPAK_OK *out is the caller's until spak_sandbox_finish; on failure
 * nothing was started and *out is NULL. Errors as spak_sandbox_run. */
spak_status spak_sandbox_start(const char *const *argv, const char *workdir,
                               const spak_sandbox_limits *lim, const int *keep_fds,
                               size_t n_keep, spak_sandbox_proc **out, spak_err *err);

/* Freeze (frozen = true) or thaw every process and thread the child
 * started, also those that called setsid() or forked: through a cgroup
 * freezer when one is available (cgroup v2 cgroup.freeze, else the v1
 * freezer hierarchy), else SIGSTOP/SIGCONT to every process of its PID
 * namespace (its descendants and process group without one; also when a
 * cgroup does not take the freeze). The cgroup is made per proc
 * at the start and the child joins it before it execs. Returns when the
 * freeze has taken effect (v2: cgroup.events says frozen; v1: freezer.state
 * reads FROZEN; SIGSTOP: every thread shows stopped), or SPAK_ERR_SANDBOX
 * when it did not within 2 s (a task stuck in the kernel, e.g. a driver).
 * *how (may be NULL) gets "cgroup-v2", "cgroup-v1" or "sigstop". Freezing
 * a child that has ended does nothing and succeeds. The wall timeout still
 * runs while frozen, and a timeout kills a frozen child like any other. */
spak_status spak_sandbox_freeze(spak_sandbox_proc *p, bool frozen, const char **how,
                                spak_err *err);

/* The CPU time, in nanoseconds, that the processes of p have used so far
 * (every thread of each member, the threads that already ended included),
 * into *ns. A judge reads it when a call returns and again once p is
 * frozen: what p used in between is work done after the call returned.
 * The members are those the freezer acts on (the cgroup's procs, else every
 * process of the PID namespace). "cpuclock" where it can (each member's
 * process CPU clock); else "cgroup-cpu.stat" (cgroup v2 usage_usec) or
 * "schedstat" (the sum of /proc/PID/task/TID/schedstat). All three lag a
 * thread that is on a CPU by up to one scheduler tick: the kernel adds its
 * time at a tick or when it leaves the CPU (a process clock read from
 * another process does not bring it up to date; it does only for the
 * reader's own threads). *how (may be NULL) gets that name.
 * A member that ends between two readings takes its time with it: a reader
 * compares readings of the same members. SPAK_ERR_SANDBOX when no source
 * could be read; a child that has ended reads 0. */
spak_status spak_sandbox_cpu_usage(spak_sandbox_proc *p, uint64_t *ns, const char **how, spak_err *err);

/* The process CPU clock (ns) of the candidate process alone (in the PID
 * namespace shape the supervisor's one child): the part of
 * spak_sandbox_cpu_usage that a runner which stopped itself cannot add to.
 * SPAK_ERR_SANDBOX when it cannot be read. */
spak_status spak_sandbox_child_cpu(spak_sandbox_proc *p, uint64_t *ns, spak_err *err);

/* Waits (timeout_s at most) until every thread of the candidate process
 * itself (not its children; in the PID namespace shape the supervisor's
 * one child) is stopped by a signal, as a runner stops itself after each
 * answer (kill(getpid(), SIGSTOP)) so that nothing of it runs once it has
 * answered. 0 once stopped (or already), -1 when it did not stop in time,
 * has ended or cannot be found. */
int spak_sandbox_wait_stopped(spak_sandbox_proc *p, double timeout_s);

/* SIGCONT to the candidate process itself: undoes its own SIGSTOP (a
 * frozen cgroup stays frozen until thawed; a proc frozen in the SIGSTOP
 * mode gets nothing: its thaw continues it). */
void spak_sandbox_continue(spak_sandbox_proc *p);

/* The host pid of the process we started: the supervisor in the PID
 * namespace shape (its one child is the candidate), else the candidate. */
pid_t spak_sandbox_pid(const spak_sandbox_proc *p);

/* Whether the child has ended (non-blocking): the process we started was
 * reaped (in the PID namespace: its supervisor, which ends with the candidate). */
bool spak_sandbox_ended(spak_sandbox_proc *p);

/* How many calls the syscall filter has denied it so far (while it runs;
 * named denials only, the notifying shape), and the first one's name into
 * name[n] ("" when none). A caller that must not trust what follows a
 * denied call (a judge timing a candidate) asks before it goes on. */
unsigned spak_sandbox_denied(spak_sandbox_proc *p, char *name, size_t n);

/* End it (kill_now: kill everything first, why = killed unless it had
 * already ended; else wait for it, the wall timeout still applies), fill
 * out as spak_sandbox_run does, and free p (also on failure; NULL is
 * refused). */
spak_status spak_sandbox_finish(spak_sandbox_proc *p, bool kill_now, spak_sandbox_result *out,
                                spak_err *err);

/* Short constant name of a why ("exited", "timeout", ...). */
const char *spak_sandbox_why_name(spak_sandbox_why why);

/* The documented minimum isolation of a trusted run (docs/sandbox.md, "The
 * minimum"), checked on a finished result r:
 *   - a PID namespace (nothing the program starts survives it),
 *   - a network namespace, or Landlock TCP rules,
 *   - Landlock filesystem rules, or the read-only mount namespace,
 *   - a uid other than root (the uid drop, when spak is root),
 *   - the syscall filter,
 *   - the rlimits (CPU time, file size, open files, processes),
 *   - the byte budget of workdir (workdir_bytes).
 * Returns true when r met all of it. Otherwise false, and missing (n bytes,
 * may be NULL when n is 0) lists what was not in effect, "; "-separated,
 * e.g. "syscall filter; PID namespace". A run with network = true never
 * meets it. */
bool spak_sandbox_isolation_ok(const spak_sandbox_result *r, char *missing, size_t n);

/* Whether the unprivileged uid the sandbox runs builds and candidates as
 * (65534, when we are root; an uid without groups, so what "others" may)
 * can enter path, a folder: search permission on it and on every folder
 * above it, tried as that uid in a child. On false, blocked[n] gets the
 * first folder it cannot enter. Always true when we are not root (the
 * sandbox keeps our uid then) or the path does not exist (its own error
 * comes later). */
bool spak_sandbox_uid_reaches(const char *path, char *blocked, size_t n);

/* The isolation layers in effect in r, as a JSON array of short names for a
 * record to store, e.g. ["pidns","netns","landlock_fs","uid","seccomp",
 * "seccomp_notify","rlimits"] (names: pidns, netns, landlock_fs,
 * landlock_net, mountns, uid, seccomp, seccomp_notify, rlimits, budget). Written
 * into buf (n bytes, SPAK_SANDBOX_ISOLATION_NAMES_MAX is always enough);
 * false when it did not fit (buf then holds "[]" when n >= 3). */
#define SPAK_SANDBOX_ISOLATION_NAMES_MAX 192
bool spak_sandbox_isolation_names(const spak_sandbox_result *r, char *buf, size_t n);

#endif
