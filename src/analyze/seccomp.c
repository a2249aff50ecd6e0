/*
 * seccomp.c - see seccomp.h and docs/sandbox.md.
 *
 * libseccomp builds the filter (it knows each architecture's syscall
 * numbers, the arch check and the x32 bit); we export its BPF to a memfd
 * and keep the instructions, so that the child only has to make one
 * syscall. libseccomp 2.5 has no export to memory (2.6 does).
 */
#include "analyze/seccomp.h"
#include "util.h"

#include <errno.h>
#include <linux/seccomp.h> /* before seccomp.h: the kernel's notification structs and ioctls */
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

/* Calls denied whatever their arguments. Why each: docs/sandbox.md. A name
 * this architecture lacks (iopl on arm64) is skipped. */
static const char *const denied[] = {
    /* reaching into other processes */
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
    /* kernel interfaces that measure, instrument or trap other code */
    "perf_event_open", "bpf", "userfaultfd",
    /* the kernel keyring (shared per uid, outlives the run) */
    "keyctl", "add_key", "request_key",
    /* mounts and namespaces */
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "setns", "unshare",
    /* the machine itself */
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "iopl",
    "ioperm", "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog",
    "settimeofday", "clock_settime", "vhangup", "lookup_dcookie", "uselib", "_sysctl",
    "nfsservctl",
    /* a second way to make syscalls (and sockets) that seccomp cannot see */
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    /* files by handle, around path checks */
    "open_by_handle_at", "name_to_handle_at",
};

/* The clone flags that make a new namespace: clone() with one of them is
 * denied like unshare(). */
static const unsigned long clone_ns_flags[] = {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                               CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET};

const char *spak_seccomp_denied_name(size_t i)
{
    static const char *const argdep[] = {"socket (every family but AF_UNIX)",
                                         "socketpair (every family but AF_UNIX)",
                                         "clone (with a CLONE_NEW* flag)"};
    if (i < SPAK_ARRAY_LEN(denied))
        return denied[i];
    i -= SPAK_ARRAY_LEN(denied);
    return i < SPAK_ARRAY_LEN(argdep) ? argdep[i] : NULL;
}

/* The rules of the list into ctx, each denied call with action act. */
static int add_rules(scmp_filter_ctx ctx, uint32_t act)
{
    int rc;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(denied); i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR || nr < 0)
            continue; /* not a call of this architecture */
        if ((rc = seccomp_rule_add(ctx, act, nr, 0)) < 0)
            return rc;
    }
    /* New sockets: only AF_UNIX (OpenMP runtimes and the CUDA driver may
     * use socketpairs; nothing a candidate does needs any other family). */
    if ((rc = seccomp_rule_add(ctx, act, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) < 0 ||
        (rc = seccomp_rule_add(ctx, act, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) < 0)
        return rc;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(clone_ns_flags); i++) {
        scmp_datum_t f = clone_ns_flags[i];
        if ((rc = seccomp_rule_add(ctx, act, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, f, f))) < 0)
            return rc;
    }
    /* clone3 passes its flags in memory, where a filter cannot look: ENOSYS
     * makes glibc fall back to clone(), whose flags the rules above see.
     * Not a denial: nothing is recorded. */
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
}

/* The BPF of ctx, through a memfd, into out. */
static spak_status export_prog(scmp_filter_ctx ctx, spak_seccomp_prog *out, spak_err *err)
{
    spak_status st = SPAK_OK;
    int fd = (int)syscall(SYS_memfd_create, "spak-seccomp", 1U /* MFD_CLOEXEC */);
    if (fd < 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "seccomp: memfd_create: %s", strerror(errno));
    struct stat sb;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "seccomp: export: %s", strerror(-rc));
        goto out;
    }
    /* 8 bytes an instruction (struct sock_filter), at most BPF_MAXINSNS */
    if (fstat(fd, &sb) < 0 || sb.st_size <= 0 || sb.st_size % 8 != 0 || sb.st_size / 8 > 4096) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "seccomp: exported filter of unexpected size");
        goto out;
    }
    out->insns = malloc((size_t)sb.st_size);
    if (!out->insns) {
        st = spak_errf(err, SPAK_ERR_NOMEM, "seccomp: out of memory");
        goto out;
    }
    if (pread(fd, out->insns, (size_t)sb.st_size, 0) != (ssize_t)sb.st_size) {
        free(out->insns);
        out->insns = NULL;
        st = spak_errf(err, SPAK_ERR_SANDBOX, "seccomp: reading the exported filter failed");
        goto out;
    }
    out->len = (unsigned short)(sb.st_size / 8);
out:
    close(fd);
    return st;
}

spak_status spak_seccomp_compile(spak_seccomp_mode mode, spak_seccomp_prog *out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    uint32_t act = mode == SPAK_SECCOMP_NOTIFY ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return spak_errf(err, SPAK_ERR_NOMEM, "seccomp: seccomp_init failed");
    spak_status st = SPAK_OK;
    /* Another architecture's entry (int 0x80, x32) would dodge every rule:
     * it ends the process. The caller sets no_new_privs itself. */
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc == 0)
        rc = add_rules(ctx, act);
    if (rc < 0) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "seccomp: building the %s filter: %s",
                       mode == SPAK_SECCOMP_NOTIFY ? "notifying" : "killing", strerror(-rc));
        goto out;
    }
    st = export_prog(ctx, out, err);
out:
    seccomp_release(ctx);
    return st;
}

void spak_seccomp_prog_free(spak_seccomp_prog *p)
{
    if (!p)
        return;
    free(p->insns);
    p->insns = NULL;
    p->len = 0;
}

/* struct sock_fprog, without <linux/filter.h> (it clashes with seccomp.h) */
struct sb_fprog {
    unsigned short len;
    void *filter;
};

int spak_seccomp_load(const spak_seccomp_prog *p, bool listener)
{
    struct sb_fprog prog = {.len = p->len, .filter = p->insns};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                     listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0UL, &prog);
    return r < 0 ? -errno : (int)r;
}

/* "name", or "name(detail)" for the calls denied by their arguments. */
static void name_call(const struct seccomp_notif *req, char *name, size_t n)
{
    char *s = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
    const char *base = s ? s : "?";
    if (strcmp(base, "socket") == 0 || strcmp(base, "socketpair") == 0)
        spak_snprintf(name, n, "%s(family %llu)", base, (unsigned long long)req->data.args[0]);
    else if (strcmp(base, "clone") == 0)
        spak_snprintf(name, n, "clone(new namespace)");
    else if (s)
        spak_snprintf(name, n, "%s", s);
    else
        spak_snprintf(name, n, "syscall %d", req->data.nr);
    free(s);
}

int spak_seccomp_answer(int listener, char *name, size_t n)
{
    /* the raw ioctls rather than libseccomp's wrappers: no allocation, and
     * the kernel's errno (libseccomp 2.5 folds errors into ECANCELED) */
    struct seccomp_notif req;
    memset(&req, 0, sizeof req); /* the kernel insists */
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
        /* ENOENT: the caller was killed between poll and receive */
        return errno == ENOENT || errno == EINTR ? 0 : -1;
    name_call(&req, name, n);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    resp.error = -EPERM;
    /* ENOENT: it died meanwhile; denied all the same */
    (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    return 1;
}
