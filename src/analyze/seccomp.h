/*
 * seccomp.h - the sandbox's syscall filter (see docs/sandbox.md, "The
 * syscall filter").
 *
 * A denylist, not an allowlist: the calls a candidate never needs and that
 * reach beyond its own process (ptrace, process_vm_readv/writev,
 * perf_event_open, bpf, the keyring, mounts, new namespaces, kernel modules,
 * new sockets other than AF_UNIX, io_uring, ...). Everything else stays
 * allowed, so that OpenMP, pthreads, OpenBLAS and the CUDA driver keep
 * working. 32-bit (int 0x80) and x32 entries are not the native
 * architecture: they kill the process.
 *
 * The filter is compiled here, in the parent, where allocating is safe
 * (libseccomp allocates), into a classic BPF program; the sandbox's child
 * installs it with one raw seccomp(2) call (spak_seccomp_load, which
 * neither allocates nor takes a lock) just before execve.
 *
 * Two shapes of the same list:
 *   - SPAK_SECCOMP_NOTIFY: a denied call is sent to a listener (seccomp user
 *     notification); the parent answers EPERM and learns the call's name
 *     (spak_seccomp_answer). The candidate never holds the listener.
 *   - SPAK_SECCOMP_KILL: a denied call kills the process with SIGSYS; used
 *     where the kernel has no user notification (or a listener already
 *     exists above us): the call then cannot be named.
 * libseccomp is linked statically (the GPU machine does not have it).
 */
#ifndef SPAK_SECCOMP_H
#define SPAK_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include "spak.h"

typedef enum spak_seccomp_mode { SPAK_SECCOMP_NOTIFY = 0, SPAK_SECCOMP_KILL } spak_seccomp_mode;

/* A compiled filter: len classic-BPF instructions (struct sock_filter) in
 * insns, malloc'd, owned by the holder (free with spak_seccomp_prog_free). */
typedef struct spak_seccomp_prog {
    unsigned short len;
    void *insns;
} spak_seccomp_prog;

/* Compile the denylist for this machine's native architecture in the given
 * shape into *out. SPAK_ERR_SANDBOX when libseccomp refuses (e.g. a kernel
 * without user notification, for SPAK_SECCOMP_NOTIFY), SPAK_ERR_NOMEM. On
 * failure *out holds nothing. */
spak_status spak_seccomp_compile(spak_seccomp_mode mode, spak_seccomp_prog *out, spak_err *err);

void spak_seccomp_prog_free(spak_seccomp_prog *p);

/* Install p on the calling thread (the caller has set PR_SET_NO_NEW_PRIVS).
 * With listener: returns the listener fd (close-on-exec) that receives the
 * denied calls; else 0. -errno on failure. Async-signal-safe: for the child
 * between clone and execve. */
int spak_seccomp_load(const spak_seccomp_prog *p, bool listener);

/* Take one pending notification from listener, answer it EPERM, and write
 * the call's name into name (n bytes; e.g. "ptrace", "socket(family 2)",
 * "clone(new namespace)"). Returns 1 when a call was denied, 0 when nothing
 * was pending (the caller went away meanwhile), -1 when the listener is
 * unusable (every filtered process is gone). */
int spak_seccomp_answer(int listener, char *name, size_t n);

/* The denied calls, for documentation and tests: the i-th name (NULL past
 * the end). Arguments-dependent rules (socket, socketpair, clone) included. */
const char *spak_seccomp_denied_name(size_t i);

#endif
