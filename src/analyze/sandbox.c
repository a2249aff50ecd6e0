/*
 * sandbox.c - see sandbox.h and docs/sandbox.md.
 *
 * Shape of a run:
 *
 *   spak (parent) --clone(CLONE_NEWPID)--> I: pid 1 of a new PID namespace,
 *       our code: sets up namespaces, Landlock, uid, then
 *       --clone--> C: rlimits, execve(candidate)
 *   I waits for C, sends C's wait status and rusage up the status pipe and
 *   exits; the kernel then kills whatever else lives in the namespace. On a
 *   timeout the parent sends I SIGUSR1 (I kills everything in the namespace,
 *   still reports C's status), and SIGKILL a second later as a backstop.
 *
 * Where CLONE_NEWPID is refused, the parent forks C directly: same setup,
 * own process group, and kill(-pgid) instead of the namespace.
 *
 * Between clone and execve only async-signal-safe calls are made (raw
 * syscalls and their thin libc wrappers): argv, envp, paths and the syscall
 * filter's BPF are prepared before the clone, nothing is allocated after it.
 * The child talks to the parent only through fixed-size records on a
 * CLOEXEC stream socket (a socket, not a pipe: the seccomp listener travels
 * on it with SCM_RIGHTS).
 */
#include "analyze/sandbox.h"
#include "analyze/seccomp.h"
#include "analyze/sandbox_tree.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- kernel interfaces that older headers lack ---------------------------- */

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#define SB_OPEN_TREE_CLONE 1

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#define LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

struct sb_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#define SB_MOUNT_ATTR_RDONLY 0x00000001ULL
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

/* ---- the child -> parent protocol --------------------------------------- */

/* MSG_READY: C is about to exec outside any freezer cgroup (without one
 * the parent would wait for a join that never comes) */
enum { MSG_WARN = 1, MSG_FATAL, MSG_ISO, MSG_REPORT, MSG_FULL, MSG_READY };
enum {
    ST_NONE = 0, ST_FDS, ST_NETNS, ST_LANDLOCK, ST_LANDLOCK_NET, ST_MOUNTNS, ST_CHDIR,
    ST_SETGROUPS, ST_SETGID, ST_SETUID, ST_RLIMIT, ST_FORK, ST_EXEC, ST_UID, ST_PROC, ST_CGROUP,
    ST_SECCOMP, ST_SECCOMP_NOTIFY, ST_BUDGET, ST_BUDGET_IN, ST_BUDGET_OUT, ST_SHM, ST_LANDLOCK_READ
};

typedef struct sb_msg {
    int32_t kind, stage, err, pad;
    int32_t status, pad2;
    struct rusage ru;
} sb_msg;

#define MAX_RW_DIRS 16
#define MAX_READ_DIRS 32
#define MAX_KEEP 16
/* In the child: the caller's kept fds at 3 .. 3+n_keep-1, then the status
 * pipe (st_slot), then the cgroup's procs file (st_slot + 1), both CLOEXEC. */
#define KEEP_BASE 3

/* Everything the child needs, prepared before the clone. */
typedef struct sb_plan {
    const char *path;        /* resolved executable */
    char *const *argv;
    char *const *envp;
    const char *workdir;     /* absolute */
    const char *rw_dirs[MAX_RW_DIRS];
    int n_rw;
    const char *read_dirs[MAX_READ_DIRS]; /* read rules: n_read >= 0 (-1: reads not limited) */
    int n_read;
    int fd_null, fd_out, fd_err, fd_st;
    int keep[MAX_KEEP];
    int n_keep;
    int st_slot;             /* the status pipe's fd in the child */
    int fd_cg;               /* the freezer cgroup's procs file, -1: none */
    bool network, pidns, try_landlock, try_mountns, try_netns;
    int ll_abi;
    long uid, gid;
    struct rlimit rl_cpu, rl_as, rl_fsize, rl_nofile, rl_nproc;
    bool set_cpu, set_as, set_fsize, set_nofile, set_nproc;
    /* the syscall filter: the notifying shape (len 0 when the kernel has no
     * user notification) and the killing one; seccomp false: none */
    bool seccomp;
    const spak_seccomp_prog *sc_notify, *sc_kill;
    /* the byte budget: tmpfs mount options ("" : none), and whether what
     * the run wrote is copied back into workdir */
    char budget_opts[128];
    bool budget_back;
} sb_plan;

/* The byte budget as I holds it: the tmpfs over workdir (wd) and, when
 * what it holds goes back, workdir itself (a detached clone of its mount:
 * the read-only remount of the mount-namespace fallback does not reach it).
 * full: SPAK_SANDBOX_BUDGET_* seen so far. */
typedef struct sb_budget {
    int wd, orig;
    unsigned full;
} sb_budget;

static void child_send(int fd, int kind, int stage, int e)
{
    sb_msg m;
    memset(&m, 0, sizeof m);
    m.kind = kind;
    m.stage = stage;
    m.err = e;
    ssize_t w = write(fd, &m, sizeof m);
    (void)w;
}

static _Noreturn void child_fatal(int fd, int stage, int e)
{
    child_send(fd, MSG_FATAL, stage, e);
    _exit(127);
}

static long raw_clone(unsigned long flags)
{
    return syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
}

/* Landlock: writes allowed only beneath workdir, the rw dirs and /dev
 * (and, for I's copy back, the workdir under the budget's tmpfs: orig,
 * reachable only through I's fd). */
static bool child_landlock(const sb_plan *p, bool deny_tcp, int orig, int st)
{
    int abi = p->ll_abi;
    uint64_t fs = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR |
                  LL_FS_MAKE_DIR | LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO |
                  LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
    if (abi >= 2)
        fs |= LL_FS_REFER;
    if (abi >= 3)
        fs |= LL_FS_TRUNCATE;
    /* with read rules, every rule that allows writing allows reading too */
    uint64_t rd = p->n_read >= 0 ? LL_FS_READ_FILE | LL_FS_READ_DIR : 0;
    struct ll_ruleset_attr attr = {.handled_access_fs = fs | rd};
    size_t size = 8;
    if (abi >= 4) {
        size = 16;
        if (deny_tcp)
            attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
    }
    if (abi >= 6) {
        size = 24;
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) {
        child_send(st, MSG_WARN, ST_LANDLOCK, errno);
        return false;
    }
    const char *dirs[MAX_RW_DIRS + MAX_READ_DIRS + 3];
    uint64_t rights[MAX_RW_DIRS + MAX_READ_DIRS + 3];
    int n = 0;
    dirs[n] = p->workdir;
    rights[n++] = fs | rd;
    for (int i = 0; i < p->n_rw; i++) {
        dirs[n] = p->rw_dirs[i];
        rights[n++] = fs | rd;
    }
    for (int i = 0; i < p->n_read; i++) {
        dirs[n] = p->read_dirs[i];
        rights[n++] = rd;
    }
    /* /dev/null and GPU device nodes, and /proc (the CUDA driver writes
     * there, e.g. thread names): write existing files only, no creating. */
    dirs[n] = "/dev";
    rights[n++] = LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0) | rd;
    dirs[n] = "/proc";
    rights[n++] = LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0) | rd;
    for (int i = 0; i < n; i++) {
        int dfd = open(dirs[i], O_PATH | O_CLOEXEC);
        if (dfd < 0) {
            if (i >= n - 2)
                continue; /* no /dev or /proc: fine */
            child_send(st, MSG_WARN, ST_LANDLOCK, errno);
            close(rs);
            return false;
        }
        /* a single file takes only the rights of a file */
        struct stat fsb;
        uint64_t allow = rights[i];
        if (fstat(dfd, &fsb) == 0 && !S_ISDIR(fsb.st_mode))
            allow &= LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_EXECUTE;
        struct ll_path_beneath pb = {.allowed_access = allow, .parent_fd = dfd};
        long r = syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0);
        int e = errno;
        close(dfd);
        if (r < 0) {
            child_send(st, MSG_WARN, ST_LANDLOCK, e);
            close(rs);
            return false;
        }
    }
    if (orig >= 0) {
        struct ll_path_beneath pb = {.allowed_access = fs | rd, .parent_fd = orig};
        if (syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
            child_send(st, MSG_WARN, ST_LANDLOCK, errno);
            close(rs);
            return false;
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
        child_send(st, MSG_WARN, ST_LANDLOCK, errno);
        close(rs);
        return false;
    }
    close(rs);
    child_send(st, MSG_ISO, ST_LANDLOCK, 0);
    if (rd)
        child_send(st, MSG_ISO, ST_LANDLOCK_READ, 0);
    if (attr.handled_access_net)
        child_send(st, MSG_ISO, ST_LANDLOCK_NET, 0);
    return true;
}

/* Mount namespace: everything read-only except workdir, rw dirs and /dev. */
static bool child_mountns(const sb_plan *p, int st)
{
    struct sb_mount_attr ro = {.attr_set = SB_MOUNT_ATTR_RDONLY};
    struct sb_mount_attr rw = {.attr_clr = SB_MOUNT_ATTR_RDONLY};
    if (unshare(CLONE_NEWNS) < 0)
        goto fail;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        goto fail;
    if (mount(p->workdir, p->workdir, NULL, MS_BIND | MS_REC, NULL) < 0)
        goto fail;
    for (int i = 0; i < p->n_rw; i++)
        if (mount(p->rw_dirs[i], p->rw_dirs[i], NULL, MS_BIND | MS_REC, NULL) < 0)
            goto fail;
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0)
        goto fail;
    if (syscall(SYS_mount_setattr, AT_FDCWD, p->workdir, AT_RECURSIVE, &rw, sizeof rw) < 0)
        goto fail;
    for (int i = 0; i < p->n_rw; i++)
        if (syscall(SYS_mount_setattr, AT_FDCWD, p->rw_dirs[i], AT_RECURSIVE, &rw, sizeof rw) < 0)
            goto fail;
    (void)syscall(SYS_mount_setattr, AT_FDCWD, "/dev", 0, &rw, sizeof rw);
    (void)syscall(SYS_mount_setattr, AT_FDCWD, "/proc", 0, &rw, sizeof rw);
    child_send(st, MSG_ISO, ST_MOUNTNS, 0);
    return true;
fail:
    child_send(st, MSG_WARN, ST_MOUNTNS, errno);
    return false;
}

/* Layer: the fds. Move the ones we keep above every slot first so the
 * dup2s below cannot clobber one another, then put them at 0 (/dev/null),
 * 1, 2, the caller's kept fds at 3.. (dup2 clears close-on-exec there), the
 * status pipe and the cgroup file, and close every other fd the child
 * inherited. */
static void child_fds(const sb_plan *p)
{
    int st = p->fd_st;
    int base = p->st_slot + 2 > 10 ? p->st_slot + 2 : 10;
    int hk[MAX_KEEP];
    int hnull = fcntl(p->fd_null, F_DUPFD_CLOEXEC, base);
    int hout = fcntl(p->fd_out, F_DUPFD_CLOEXEC, base);
    int herr = fcntl(p->fd_err, F_DUPFD_CLOEXEC, base);
    int hst = fcntl(p->fd_st, F_DUPFD_CLOEXEC, base);
    int hcg = p->fd_cg >= 0 ? fcntl(p->fd_cg, F_DUPFD_CLOEXEC, base) : -1;
    if (hnull < 0 || hout < 0 || herr < 0 || hst < 0 || (p->fd_cg >= 0 && hcg < 0))
        child_fatal(st, ST_FDS, errno);
    for (int i = 0; i < p->n_keep; i++)
        if ((hk[i] = fcntl(p->keep[i], F_DUPFD_CLOEXEC, base)) < 0)
            child_fatal(hst, ST_FDS, errno);
    if (dup2(hnull, 0) < 0 || dup2(hout, 1) < 0 || dup2(herr, 2) < 0 ||
        dup3(hst, p->st_slot, O_CLOEXEC) < 0)
        child_fatal(hst, ST_FDS, errno);
    for (int i = 0; i < p->n_keep; i++)
        if (dup2(hk[i], KEEP_BASE + i) < 0)
            child_fatal(p->st_slot, ST_FDS, errno);
    if (hcg >= 0 && dup3(hcg, p->st_slot + 1, O_CLOEXEC) < 0)
        child_fatal(p->st_slot, ST_FDS, errno);
    int first = p->st_slot + (hcg >= 0 ? 2 : 1);
    if (syscall(SYS_close_range, first, ~0U, 0) < 0) {
        for (int fd = first; fd < 4096; fd++)
            close(fd);
    }
}

/* Layer: no network, by an empty network namespace. Says whether it is in
 * effect (else child_landlock denies TCP where it can). */
static bool child_netns(const sb_plan *p, int st)
{
    if (p->network || !p->try_netns)
        return false;
    if (unshare(CLONE_NEWNET) == 0) {
        child_send(st, MSG_ISO, ST_NETNS, 0);
        return true;
    }
    child_send(st, MSG_WARN, ST_NETNS, errno);
    return false;
}

/* Layer: our own /proc in a PID namespace. The host's /proc would show host
 * pids that do not match getpid() (the CUDA driver then fails). */
static bool child_proc(const sb_plan *p, int st)
{
    if (!p->pidns)
        return false;
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        child_send(st, MSG_WARN, ST_PROC, errno);
        return false;
    }
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        child_send(st, MSG_WARN, ST_PROC, errno);
    else
        child_send(st, MSG_ISO, ST_PROC, 0);
    return true;
}

/* Layer: the byte budget, in I's private mount namespace (ns), before
 * Landlock (which forbids mounting): a size-capped tmpfs over workdir, what
 * workdir held copied in (as root, owners, modes and times kept), and an
 * empty read-only tmpfs over /dev/shm (a world-writable file there would
 * be writable through the /dev rule, outside the budget). A tmpfs that
 * cannot be mounted is a warning (the minimum names it); a copy that does
 * not fit is fatal (the run would not see its files). */
static void child_budget(const sb_plan *p, bool ns, int st, sb_budget *b)
{
    if (!p->budget_opts[0])
        return;
    if (!ns) {
        child_send(st, MSG_WARN, ST_BUDGET, 0);
        return;
    }
    int from = open(p->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (p->budget_back)
        b->orig = (int)syscall(SYS_open_tree, AT_FDCWD, p->workdir, SB_OPEN_TREE_CLONE | O_CLOEXEC);
    if (from < 0 || (p->budget_back && b->orig < 0) ||
        mount("spak-budget", p->workdir, "tmpfs", MS_NOSUID | MS_NODEV, p->budget_opts) < 0) {
        child_send(st, MSG_WARN, ST_BUDGET, errno);
        if (from >= 0)
            close(from);
        if (b->orig >= 0)
            close(b->orig);
        b->orig = -1;
        return;
    }
    b->wd = open(p->workdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (b->wd < 0)
        child_fatal(st, ST_BUDGET_IN, errno);
    int e = spak_tree_sync(from, b->wd, true, false);
    close(from);
    if (e)
        child_fatal(st, ST_BUDGET_IN, e);
    struct stat sb;
    if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
        mount("spak-noshm", "/dev/shm", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,nr_inodes=4,mode=0555") < 0)
        child_fatal(st, ST_SHM, errno);
    child_send(st, MSG_ISO, ST_BUDGET, 0);
}

/* Layer: no writes outside workdir and the rw dirs: Landlock, else a
 * read-only mount namespace, else a warning (the parent words it). */
static void child_fs(const sb_plan *p, bool netns, int orig, int st)
{
    bool fs = false;
    if (p->try_landlock && p->ll_abi >= 1)
        fs = child_landlock(p, !p->network && !netns, orig, st);
    if (!fs && p->try_mountns)
        fs = child_mountns(p, st);
    if (!fs)
        child_send(st, MSG_WARN, ST_MOUNTNS, 0);
}

/* Layer: the unprivileged uid and gid (no supplementary groups). Fatal when
 * it fails: running as root would leave RLIMIT_NPROC unenforced. Raw system
 * calls, not glibc's: its setgroups/setgid/setuid make every thread of the
 * process change too, and in a child cloned from a parent with threads (the
 * CLI's progress timer, the relay of another sandbox) they wait forever for
 * threads that exist only in the parent. The child has one thread, so the
 * raw calls change all of it. */
static void child_uid(const sb_plan *p, int st)
{
    if (p->gid >= 0) {
        if (geteuid() == 0 && syscall(SYS_setgroups, 0, NULL) < 0)
            child_fatal(st, ST_SETGROUPS, errno);
        if (syscall(SYS_setgid, (gid_t)p->gid) < 0)
            child_fatal(st, ST_SETGID, errno);
    }
    if (p->uid >= 0) {
        if (syscall(SYS_setuid, (uid_t)p->uid) < 0)
            child_fatal(st, ST_SETUID, errno);
        child_send(st, MSG_ISO, ST_UID, 0);
    }
}

/* Setup shared by both shapes, one layer after the other: fds, network,
 * /proc, the byte budget (b: I only; NULL in the fallback shape, where no
 * one would copy it back), filesystem, cwd, uid. Runs in the first child
 * (I, or C in the fallback shape). A new layer goes here, in the order it
 * needs. */
static void child_common(const sb_plan *p, sb_budget *b)
{
    child_fds(p);
    int st = p->st_slot;
    setpgid(0, 0);
    bool netns = child_netns(p, st);
    bool ns = child_proc(p, st);
    if (b)
        child_budget(p, ns, st, b);
    else if (p->budget_opts[0])
        child_send(st, MSG_WARN, ST_BUDGET, 0);
    child_fs(p, netns, b ? b->orig : -1, st);
    if (chdir(p->workdir) < 0)
        child_fatal(st, ST_CHDIR, errno);
    child_uid(p, st);
    /* After the uid change, which clears it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

static void child_rlimit(int st, int res, const struct rlimit *want)
{
    struct rlimit cur, r = *want;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY) {
        if (r.rlim_max > cur.rlim_max)
            r.rlim_max = cur.rlim_max;
        if (r.rlim_cur > r.rlim_max)
            r.rlim_cur = r.rlim_max;
    }
    if (setrlimit(res, &r) < 0)
        child_fatal(st, ST_RLIMIT, errno);
}

/* Layer: the rlimits of the plan (no core files, ever). */
static void child_rlimits(const sb_plan *p, int st)
{
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    if (p->set_cpu)
        child_rlimit(st, RLIMIT_CPU, &p->rl_cpu);
    if (p->set_as)
        child_rlimit(st, RLIMIT_AS, &p->rl_as);
    if (p->set_fsize)
        child_rlimit(st, RLIMIT_FSIZE, &p->rl_fsize);
    if (p->set_nofile)
        child_rlimit(st, RLIMIT_NOFILE, &p->rl_nofile);
    if (p->set_nproc)
        child_rlimit(st, RLIMIT_NPROC, &p->rl_nproc);
    if (p->set_cpu && p->set_fsize && p->set_nofile && p->set_nproc)
        child_send(st, MSG_ISO, ST_RLIMIT, 0);
}

/* A MSG_ISO record for stage with fd attached (SCM_RIGHTS). */
static int child_send_fd(int sock, int stage, int fd)
{
    sb_msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_ISO;
    m.stage = stage;
    struct iovec iov = {.iov_base = &m, .iov_len = sizeof m};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
                        .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
    return w == (ssize_t)sizeof m ? 0 : -1;
}

/* Layer: the syscall filter, the last thing before execve (after the uid
 * drop and the rlimits: none of our own setup meets it). In the notifying
 * shape the listener goes to the parent, which answers each denied call;
 * C closes its copy, so the candidate never holds it. When that shape
 * cannot be loaded (no user notification, or a listener above us), the
 * killing one. A listener that cannot reach the parent fails the start:
 * the denials would go unseen. */
static void child_seccomp(const sb_plan *p, int st)
{
    if (!p->seccomp)
        return;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        child_send(st, MSG_WARN, ST_SECCOMP, errno);
        return;
    }
    if (p->sc_notify->len) {
        int fd = spak_seccomp_load(p->sc_notify, true);
        if (fd >= 0) {
            if (child_send_fd(st, ST_SECCOMP_NOTIFY, fd) < 0)
                child_fatal(st, ST_SECCOMP, errno);
            close(fd);
            return;
        }
    }
    int r = spak_seccomp_load(p->sc_kill, false);
    if (r < 0)
        child_send(st, MSG_WARN, ST_SECCOMP, -r);
    else
        child_send(st, MSG_ISO, ST_SECCOMP, 0);
}

/* Every signal at its default and none blocked: the candidate must not
 * inherit I's SIGUSR1 handler or our mask. */
static void child_signals_default(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < 65; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Layer: the freezer cgroup, joined by C itself before execve so that all
 * it starts is born inside (its supervisor I stays out: it must still
 * answer a kill while C is frozen). The procs file was opened by the
 * parent: the write needs no rights of our (unprivileged) uid. A failure is
 * no error: spak_sandbox_freeze then stops the processes one by one.
 * Without a cgroup C says it reached this point all the same (MSG_READY):
 * the parent's waits for C (fz_choose, wait_stopped) start from it. */
static void child_cgroup(const sb_plan *p, int st)
{
    if (p->fd_cg < 0) {
        child_send(st, MSG_READY, ST_CGROUP, 0);
        return;
    }
    int cg = p->st_slot + 1;
    if (write(cg, "0", 1) == 1)
        child_send(st, MSG_ISO, ST_CGROUP, 0);
    else
        child_send(st, MSG_WARN, ST_CGROUP, errno);
    close(cg);
}

/* C: the process that becomes the candidate. */
static _Noreturn void child_exec(const sb_plan *p)
{
    int st = p->st_slot;
    child_cgroup(p, st);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    child_signals_default();
    child_rlimits(p, st);
    child_seccomp(p, st);
    execve(p->path, p->argv, p->envp);
    child_fatal(st, ST_EXEC, errno);
}

/* I, pid 1 of the namespace: SIGUSR1 from the parent means "kill it all". */
static void init_on_usr1(int sig)
{
    (void)sig;
    kill(-1, SIGKILL); /* from a namespace init: everything in it but us */
}

/* Whether the budget's tmpfs is full (no page or no file left): a write
 * into it has failed, or will. */
static void budget_look(sb_budget *b)
{
    struct statfs sf;
    if (b->wd < 0 || fstatfs(b->wd, &sf) < 0)
        return;
    if (sf.f_bfree == 0)
        b->full |= SPAK_SANDBOX_BUDGET_BYTES;
    if (sf.f_ffree == 0)
        b->full |= SPAK_SANDBOX_BUDGET_FILES;
}

/* C has ended: end everything else in the namespace (nothing may write
 * while we copy), say whether the budget filled up, and copy what the
 * tmpfs holds back into workdir (as the run's uid, within Landlock's
 * rules: no more than the budget, nowhere else). */
static void budget_end(const sb_plan *p, sb_budget *b)
{
    budget_look(b);
    if (b->full)
        child_send(p->st_slot, MSG_FULL, ST_BUDGET, (int)b->full);
    if (b->orig < 0)
        return;
    kill(-1, SIGKILL);
    while (wait4(-1, NULL, 0, NULL) > 0 || errno == EINTR)
        ;
    /* orig is an O_PATH fd: listing it needs a real one */
    int to = openat(b->orig, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = to < 0 ? errno : spak_tree_sync(b->wd, to, false, true);
    if (to >= 0)
        close(to);
    if (e)
        child_send(p->st_slot, MSG_WARN, ST_BUDGET_OUT, e);
}

static _Noreturn void child_init(const sb_plan *p)
{
    sb_budget b = {.wd = -1, .orig = -1, .full = 0};
    child_common(p, &b);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = init_on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    long c = raw_clone(0);
    if (c < 0)
        child_fatal(p->st_slot, ST_FORK, errno);
    if (c == 0)
        child_exec(p);
    /* I keeps only the status pipe: its copies of stdout/stderr would hide
     * the candidate closing them, its copies of the kept fds (a socket)
     * the candidate's end. */
    for (int fd = 0; fd < p->st_slot; fd++)
        close(fd);
    if (p->fd_cg >= 0)
        close(p->st_slot + 1);
    sb_msg m;
    memset(&m, 0, sizeof m);
    m.kind = MSG_REPORT;
    /* With a budget, look at it every 20 ms while C runs: a write that
     * failed for it leaves it full (a candidate may empty it again later). */
    for (;;) {
        int status;
        struct rusage ru;
        pid_t w = wait4(-1, &status, b.wd >= 0 ? WNOHANG : 0, &ru);
        if (w == (pid_t)c) {
            m.status = status;
            m.ru = ru;
            break;
        }
        if (w == 0) {
            budget_look(&b);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            continue;
        }
        if (w < 0 && errno != EINTR) {
            m.stage = ST_FORK;
            m.err = errno;
            break;
        }
    }
    if (b.wd >= 0)
        budget_end(p, &b);
    ssize_t wr = write(p->st_slot, &m, sizeof m);
    (void)wr;
    _exit(0); /* the kernel now kills the rest of the namespace */
}

/* ---- the parent ----------------------------------------------------------- */

void spak_sandbox_limits_default(spak_sandbox_limits *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->wall_timeout_s = 60;
    lim->cpu_s = 60;
    lim->address_space_bytes = (size_t)8 << 30;
    lim->file_size_bytes = (size_t)1 << 30;
    lim->max_open_files = 256;
    lim->max_processes = 64;
    lim->stdout_cap_bytes = (size_t)1 << 20;
    lim->stderr_cap_bytes = (size_t)256 << 10;
    lim->output_kill_bytes = (size_t)64 << 20;
    lim->closed_stdout_grace_s = 2;
    lim->workdir_bytes = (size_t)1 << 30;
    lim->network = false;
    lim->run_as_uid = geteuid() == 0 ? 65534 : -1;
    lim->run_as_gid = geteuid() == 0 ? 65534 : -1;
}

const char *spak_sandbox_why_name(spak_sandbox_why why)
{
    switch (why) {
    case SPAK_SANDBOX_EXITED: return "exited";
    case SPAK_SANDBOX_SIGNALED: return "signaled";
    case SPAK_SANDBOX_TIMEOUT: return "timeout";
    case SPAK_SANDBOX_CPU_LIMIT: return "cpu limit";
    case SPAK_SANDBOX_MEMORY_LIMIT: return "memory limit";
    case SPAK_SANDBOX_FILE_SIZE_LIMIT: return "file size limit";
    case SPAK_SANDBOX_OUTPUT_LIMIT: return "output limit";
    case SPAK_SANDBOX_STDOUT_CLOSED: return "stdout closed";
    case SPAK_SANDBOX_NO_RESULT: return "no result";
    case SPAK_SANDBOX_KILLED: return "killed";
    case SPAK_SANDBOX_SYSCALL_DENIED: return "syscall denied";
    case SPAK_SANDBOX_BYTE_BUDGET: return "byte budget";
    }
    return "unknown";
}

bool spak_sandbox_isolation_ok(const spak_sandbox_result *r, char *missing, size_t n)
{
    struct {
        bool ok;
        const char *what;
    } need[] = {
        {r->iso_pidns, "PID namespace"},
        {r->iso_netns || r->iso_landlock_net, "network namespace or Landlock TCP rules"},
        {r->iso_landlock_fs || r->iso_mountns, "Landlock filesystem rules or a read-only mount namespace"},
        {r->run_uid != 0, "an unprivileged uid (it ran as root)"},
        {r->iso_seccomp, "syscall filter"},
        {r->iso_rlimits, "rlimits (CPU, file size, open files, processes)"},
        {r->iso_budget, "byte budget (a size-capped tmpfs over the work directory)"},
    };
    bool all = true;
    size_t len = 0;
    if (missing && n)
        missing[0] = '\0';
    for (size_t i = 0; i < SPAK_ARRAY_LEN(need); i++) {
        if (need[i].ok)
            continue;
        if (missing && n > len) {
            spak_snprintf(missing + len, n - len, "%s%s", all ? "" : "; ", need[i].what);
            len += strlen(missing + len);
        }
        all = false;
    }
    return all;
}

bool spak_sandbox_isolation_names(const spak_sandbox_result *r, char *buf, size_t n)
{
    struct {
        bool on;
        const char *name;
    } layer[] = {
        {r->iso_pidns, "pidns"},        {r->iso_netns, "netns"},
        {r->iso_landlock_fs, "landlock_fs"}, {r->iso_landlock_net, "landlock_net"},
        {r->iso_mountns, "mountns"},    {r->run_uid != 0, "uid"},
        {r->iso_seccomp, "seccomp"},    {r->iso_seccomp_notify, "seccomp_notify"},
        {r->iso_rlimits, "rlimits"},    {r->iso_budget, "budget"},
    };
    if (!buf || n < 3)
        return false;
    size_t len = 1;
    buf[0] = '[';
    bool first = true;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(layer); i++) {
        if (!layer[i].on)
            continue;
        if (!spak_snprintf(buf + len, n - len, "%s\"%s\"", first ? "" : ",", layer[i].name)) {
            memcpy(buf, "[]", 3);
            return false;
        }
        len += strlen(buf + len);
        first = false;
    }
    if (len + 2 > n) {
        memcpy(buf, "[]", 3);
        return false;
    }
    memcpy(buf + len, "]", 2);
    return true;
}

void spak_sandbox_result_free(spak_sandbox_result *r)
{
    if (!r)
        return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
    r->out_len = r->err_len = 0;
}

static const char *stage_name(int stage)
{
    switch (stage) {
    case ST_FDS: return "setting up fds";
    case ST_NETNS: return "network namespace";
    case ST_LANDLOCK: return "landlock";
    case ST_LANDLOCK_NET: return "landlock network rules";
    case ST_MOUNTNS: return "mount namespace";
    case ST_CHDIR: return "chdir to workdir";
    case ST_SETGROUPS: return "setgroups";
    case ST_SETGID: return "setgid";
    case ST_SETUID: return "setuid";
    case ST_RLIMIT: return "setrlimit";
    case ST_FORK: return "fork";
    case ST_EXEC: return "exec";
    case ST_PROC: return "mounting /proc";
    case ST_CGROUP: return "joining the freezer cgroup";
    case ST_SECCOMP: return "syscall filter";
    case ST_SECCOMP_NOTIFY: return "syscall filter listener";
    case ST_BUDGET: return "byte budget";
    case ST_BUDGET_IN: return "copying the work directory into its byte budget";
    case ST_BUDGET_OUT: return "copying the work directory back from its byte budget";
    case ST_SHM: return "closing /dev/shm";
    case ST_LANDLOCK_READ: return "landlock read rules";
    }
    return "setup";
}

static const char *sig_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGKILL: return "SIGKILL";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGTERM: return "SIGTERM";
    case SIGXCPU: return "SIGXCPU";
    case SIGXFSZ: return "SIGXFSZ";
    case SIGPIPE: return "SIGPIPE";
    case SIGTRAP: return "SIGTRAP";
    case SIGSYS: return "SIGSYS";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    }
    return "signal";
}

/* A malloc'd "KEY=VALUE". */
static char *kv_dup(const char *key, size_t klen, const char *val)
{
    size_t vlen = strlen(val);
    char *s = malloc(klen + vlen + 2);
    if (!s)
        return NULL;
    memcpy(s, key, klen);
    s[klen] = '=';
    memcpy(s + klen + 1, val, vlen + 1);
    return s;
}

typedef struct env_list {
    char **v;
    size_t n, alloc;
} env_list;

static void env_free(env_list *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

/* Take ownership of kv ("KEY=..."), replacing an entry with the same key. */
static bool env_put(env_list *e, char *kv)
{
    if (!kv)
        return false;
    const char *eq = strchr(kv, '=');
    size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
    for (size_t i = 0; i < e->n; i++) {
        if (strncmp(e->v[i], kv, klen) == 0 && e->v[i][klen] == '=') {
            free(e->v[i]);
            e->v[i] = kv;
            return true;
        }
    }
    if (e->n + 2 > e->alloc) {
        size_t na = e->alloc ? e->alloc * 2 : 16;
        char **nv = realloc(e->v, na * sizeof *nv);
        if (!nv) {
            free(kv);
            return false;
        }
        e->v = nv;
        e->alloc = na;
    }
    e->v[e->n++] = kv;
    e->v[e->n] = NULL;
    return true;
}

static const char *env_get(const env_list *e, const char *key)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < e->n; i++)
        if (strncmp(e->v[i], key, klen) == 0 && e->v[i][klen] == '=')
            return e->v[i] + klen + 1;
    return NULL;
}

static spak_status build_env(env_list *e, const spak_sandbox_limits *lim, const char *workdir,
                             spak_err *err)
{
    bool okk = env_put(e, kv_dup("HOME", 4, workdir)) && env_put(e, kv_dup("TMPDIR", 6, workdir)) &&
               env_put(e, kv_dup("LANG", 4, "C")) && env_put(e, kv_dup("LC_ALL", 6, "C")) &&
               env_put(e, kv_dup("PATH", 4, "/usr/local/bin:/usr/bin:/bin"));
    for (const char *const *p = lim->env_pass; okk && p && *p; p++) {
        const char *v = getenv(*p);
        if (v)
            okk = env_put(e, kv_dup(*p, strlen(*p), v));
    }
    for (const char *const *p = lim->env_extra; okk && p && *p; p++) {
        if (!strchr(*p, '=') || **p == '=')
            return spak_errf(err, SPAK_ERR_ARG, "sandbox: env_extra entry '%s' is not KEY=VALUE", *p);
        okk = env_put(e, strdup(*p));
    }
    if (!okk)
        return spak_errf(err, SPAK_ERR_NOMEM, "sandbox: out of memory building the environment");
    return SPAK_OK;
}

static bool is_exec_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* Resolve argv0 into buf (PATH_MAX): a path with '/' is made absolute, a bare
 * name is searched in the child's PATH. */
static spak_status resolve_exe(const char *argv0, const char *path_env, char *buf, size_t n,
                               spak_err *err)
{
    if (strchr(argv0, '/')) {
        if (argv0[0] == '/') {
            if (!spak_snprintf(buf, n, "%s", argv0))
                return spak_errf(err, SPAK_ERR_ARG, "sandbox: path too long: %s", argv0);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: getcwd: %s", strerror(errno));
            if (!spak_snprintf(buf, n, "%s/%s", cwd, argv0))
                return spak_errf(err, SPAK_ERR_ARG, "sandbox: path too long: %s", argv0);
        }
        if (!is_exec_file(buf))
            return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: %s: not an executable file", buf);
        return SPAK_OK;
    }
    const char *s = path_env ? path_env : "";
    while (*s) {
        const char *e = strchr(s, ':');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len > 0 && spak_snprintf(buf, n, "%.*s/%s", (int)len, s, argv0) && buf[0] == '/' &&
            is_exec_file(buf))
            return SPAK_OK;
        s += len;
        if (*s == ':')
            s++;
    }
    return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: %s: not found in PATH", argv0);
}

static int landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

/* One captured stream. */
typedef struct sb_stream {
    int fd;
    bool eof;
    spak_buf buf;
    size_t cap, total;
    bool trunc;
} sb_stream;

static void stream_feed(sb_stream *s, const char *p, size_t n)
{
    s->total += n;
    size_t room = s->cap > s->buf.len ? s->cap - s->buf.len : 0;
    size_t take = n < room ? n : room;
    if (take && spak_buf_append(&s->buf, p, take) != SPAK_OK)
        take = 0;
    if (take < n)
        s->trunc = true;
}

/* Marker search across chunk boundaries: tail keeps the last mlen-1 bytes. */
typedef struct sb_marker {
    const char *m;
    size_t mlen;
    char tail[64];
    size_t tlen;
    bool seen;
} sb_marker;

static void marker_feed(sb_marker *mk, const char *p, size_t n)
{
    if (!mk->m || mk->seen || n == 0)
        return;
    if (mk->mlen <= n && memmem(p, n, mk->m, mk->mlen)) {
        mk->seen = true;
        return;
    }
    char joint[128];
    size_t head = n < mk->mlen - 1 ? n : mk->mlen - 1;
    memcpy(joint, mk->tail, mk->tlen);
    memcpy(joint + mk->tlen, p, head);
    if (memmem(joint, mk->tlen + head, mk->m, mk->mlen)) {
        mk->seen = true;
        return;
    }
    /* new tail: last mlen-1 bytes of (tail + p) */
    size_t keep = mk->mlen - 1;
    if (n >= keep) {
        memcpy(mk->tail, p + n - keep, keep);
        mk->tlen = keep;
    } else {
        size_t total = mk->tlen + n;
        size_t drop = total > keep ? total - keep : 0;
        memmove(mk->tail, mk->tail + drop, mk->tlen - drop);
        memcpy(mk->tail + mk->tlen - drop, p, n);
        mk->tlen = total - drop;
    }
}

static void add_warning(spak_sandbox_result *r, const char *w)
{
    size_t len = strlen(r->warnings);
    if (strstr(r->warnings, w))
        return;
    spak_snprintf(r->warnings + len, sizeof r->warnings - len, "%s%s", len ? "; " : "", w);
}

static bool stderr_says_oom(const spak_sandbox_result *r)
{
    static const char *pat[] = {"Cannot allocate memory", "out of memory", "Out of memory",
                                "bad_alloc", "MemoryError", "cudaErrorMemoryAllocation"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(pat); i++)
        if (r->err && strstr(r->err, pat[i]))
            return true;
    return false;
}

enum { KILL_NONE, KILL_TIMEOUT, KILL_OUTPUT, KILL_CLOSED, KILL_CALLER };
/* How a proc is frozen: its cgroup (v2 or v1) or SIGSTOP, one by one. */
enum { FZ_NONE, FZ_V2, FZ_V1, FZ_SIG };

/* The parent's side of one run: what it prepared for the child, the fds it
 * holds, and what it learned while relaying. Lives on spak_sandbox_run's
 * stack (plan points into it: it must not move); run_free releases what it
 * owns. */
typedef struct sb_run {
    const spak_sandbox_limits *lim;
    sb_plan plan;
    env_list env;
    char *wd;                   /* realpath of workdir, owned */
    char *rw_abs[MAX_RW_DIRS];  /* realpaths of rw_dirs, owned */
    char *rd_abs[MAX_READ_DIRS];/* realpaths of read_dirs, owned */
    char exe[PATH_MAX];
    spak_seccomp_prog sc_notify, sc_kill; /* owned; the plan points at them */
    int pout[2], perr[2], pst[2];
    int fd_null, pidfd;
    int notify_fd;              /* the seccomp listener, once C sent it */
    long pid;
    double t0, t_end;
    sb_stream so, se;
    sb_marker mk;
    /* the status pipe: a partial record, and what the records said */
    unsigned char msgbuf[sizeof(sb_msg)];
    size_t msglen;
    bool st_eof, have_report, proc_failed;
    int budget_out_err;         /* I could not copy the budget's tmpfs back: errno */
    int fatal_stage, fatal_err;
    int child_status;
    struct rusage child_ru;
    /* supervision */
    int killed;                 /* KILL_*: why we killed it, if we did */
    bool reaped, lost, hard_killed;
    int wstatus;
    struct rusage ru;
    double deadline, backstop, closed_at, drain_deadline;
    /* shared by the relay thread and the caller's thread */
    int wake[2];                /* a byte written here: look at kill_req */
    atomic_int kill_req;        /* the caller asked for the end */
    atomic_bool ended;          /* the child we started was reaped */
    atomic_int c_ready;         /* C reached its execve: 1 inside its cgroup, -1 not */
    atomic_uint denied_live;    /* denied calls so far (denied_first is set before the first counts) */
    char denied_first[64];
    pthread_mutex_t fz_mu;      /* frozen, fz_mode and the kill, between the two */
    bool frozen;
    int fz_mode;                /* FZ_*: chosen at the first freeze */
    int cg_kind;                /* FZ_V2, FZ_V1, or FZ_NONE: the cgroup made at the start */
    char cg_dir[PATH_MAX];
    int cg_procs;               /* our fd of its procs file, until the child has its copy */
    long cand_pid;              /* the candidate process in the PID namespace shape (0: not looked up) */
} sb_run;

static void run_init(sb_run *r, const spak_sandbox_limits *lim)
{
    memset(r, 0, sizeof *r);
    r->lim = lim;
    r->pout[0] = r->pout[1] = r->perr[0] = r->perr[1] = r->pst[0] = r->pst[1] = -1;
    r->fd_null = r->pidfd = r->notify_fd = -1;
    r->pid = -1;
    r->wake[0] = r->wake[1] = r->cg_procs = -1;
    atomic_init(&r->kill_req, 0);
    atomic_init(&r->ended, false);
    atomic_init(&r->c_ready, 0);
    atomic_init(&r->denied_live, 0u);
    pthread_mutex_init(&r->fz_mu, NULL);
    r->so.fd = r->se.fd = -1;
    spak_buf_init(&r->so.buf, 0);
    spak_buf_init(&r->se.buf, 0);
    r->closed_at = -1;
}

static void cg_remove(sb_run *r);

static void run_free(sb_run *r)
{
    cg_remove(r);
    pthread_mutex_destroy(&r->fz_mu);
    spak_buf_free(&r->so.buf);
    spak_buf_free(&r->se.buf);
    int fds[] = {r->pout[0], r->pout[1], r->perr[0], r->perr[1], r->pst[0], r->pst[1],
                 r->fd_null, r->pidfd, r->wake[0], r->wake[1], r->cg_procs, r->notify_fd};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    env_free(&r->env);
    spak_seccomp_prog_free(&r->sc_notify);
    spak_seccomp_prog_free(&r->sc_kill);
    for (int i = 0; i < MAX_RW_DIRS; i++)
        free(r->rw_abs[i]);
    for (int i = 0; i < MAX_READ_DIRS; i++)
        free(r->rd_abs[i]);
    free(r->wd);
}

/* The caller's mistakes, refused before anything is started. */
static spak_status check_args(const char *const argv[], const char *workdir,
                              const spak_sandbox_limits *lim, spak_err *err)
{
    if (!argv || !argv[0] || !argv[0][0])
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: empty argv");
    if (!workdir || !workdir[0])
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no workdir");
    if (lim->wall_timeout_s < 0 || lim->cpu_s < 0 || lim->closed_stdout_grace_s < 0)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: negative time limit");
    if (lim->result_marker && (!lim->result_marker[0] || strlen(lim->result_marker) > 60))
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: result_marker must be 1..60 bytes");
    if (lim->run_as_uid >= 0 && geteuid() != 0 && (uid_t)lim->run_as_uid != geteuid())
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: run_as_uid %ld needs root", lim->run_as_uid);
    return SPAK_OK;
}

/* Which isolation layers the child tries (each one still falls back in the
 * child when the kernel refuses it) and as whom it runs. */
static void plan_isolation(sb_plan *p, const spak_sandbox_limits *lim)
{
    p->network = lim->network;
    p->pidns = !(lim->isolation_off & SPAK_SANDBOX_NO_PIDNS);
    p->try_netns = !(lim->isolation_off & SPAK_SANDBOX_NO_NETNS);
    p->try_landlock = !(lim->isolation_off & SPAK_SANDBOX_NO_LANDLOCK);
    p->try_mountns = geteuid() == 0 && !(lim->isolation_off & SPAK_SANDBOX_NO_MOUNTNS);
    p->ll_abi = landlock_abi();
    p->uid = lim->run_as_uid;
    p->gid = lim->run_as_gid;
}

/* The rlimits C sets on itself before execve. RLIMIT_CPU is rounded up and
 * gets a hard limit one second later: SIGXCPU at the soft one (the verdict
 * names it), SIGKILL at the hard one for a program that catches SIGXCPU. */
static void plan_rlimits(sb_plan *p, const spak_sandbox_limits *lim)
{
    if (lim->cpu_s > 0) {
        rlim_t c = (rlim_t)lim->cpu_s;
        if ((double)c < lim->cpu_s)
            c++;
        p->rl_cpu.rlim_cur = c;
        p->rl_cpu.rlim_max = c + 1;
        p->set_cpu = true;
    }
#define SB_RL(field, val)                                                \
    do {                                                                 \
        p->rl_##field.rlim_cur = p->rl_##field.rlim_max = (rlim_t)(val); \
        p->set_##field = true;                                           \
    } while (0)
    if (lim->address_space_bytes)
        SB_RL(as, lim->address_space_bytes);
    if (lim->file_size_bytes)
        SB_RL(fsize, lim->file_size_bytes);
    if (lim->max_open_files > 0)
        SB_RL(nofile, lim->max_open_files);
    if (lim->max_processes > 0)
        SB_RL(nproc, lim->max_processes);
#undef SB_RL
}

/* The syscall filter's two shapes, compiled here where allocating is safe
 * (libseccomp allocates; the child may not). The notifying one may be
 * refused (a kernel without user notification): the child then loads the
 * killing one. Neither: no filter, and iso_warnings says so. */
static void plan_seccomp(sb_run *r)
{
    sb_plan *p = &r->plan;
    p->seccomp = false;
    if (r->lim->isolation_off & SPAK_SANDBOX_NO_SECCOMP)
        return;
    spak_err e = {0};
    if (spak_seccomp_compile(SPAK_SECCOMP_KILL, &r->sc_kill, &e) != SPAK_OK)
        return;
    if ((r->lim->isolation_off & SPAK_SANDBOX_NO_SECCOMP_NOTIFY) ||
        spak_seccomp_compile(SPAK_SECCOMP_NOTIFY, &r->sc_notify, &e) != SPAK_OK)
        r->sc_notify.len = 0;
    p->sc_notify = &r->sc_notify;
    p->sc_kill = &r->sc_kill;
    p->seccomp = true;
}

/* The byte budget's tmpfs: its size, one file per 16 KiB of it (at least
 * 64: a file costs kernel memory the size does not count), and workdir's
 * owner and mode (after the chown), so the run sees the directory it had. */
static spak_status plan_budget(sb_plan *p, const spak_sandbox_limits *lim, spak_err *err)
{
    struct stat sb;
    p->budget_opts[0] = '\0';
    p->budget_back = !lim->workdir_discard;
    if (!lim->workdir_bytes)
        return SPAK_OK;
    if (stat(p->workdir, &sb) < 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: %s: %s", p->workdir, strerror(errno));
    size_t files = lim->workdir_bytes / (16 << 10);
    if (!spak_snprintf(p->budget_opts, sizeof p->budget_opts, "size=%zu,nr_inodes=%zu,mode=%04o,uid=%ld,gid=%ld",
                       lim->workdir_bytes, files < 64 ? 64 : files, (unsigned)(sb.st_mode & 07777),
                       (long)sb.st_uid, (long)sb.st_gid))
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: byte budget options too long");
    return SPAK_OK;
}

/* The read rules' paths, resolved (the child opens them by these names):
 * n_read -1 when the caller asked for none; a path that does not exist is
 * left out. */
static spak_status plan_reads(sb_run *r, const spak_sandbox_limits *lim, spak_err *err)
{
    sb_plan *plan = &r->plan;
    plan->n_read = lim->read_dirs ? 0 : -1;
    for (const char *const *d = lim->read_dirs; d && *d; d++) {
        if (plan->n_read == MAX_READ_DIRS)
            return spak_errf(err, SPAK_ERR_ARG, "sandbox: more than %d read_dirs", MAX_READ_DIRS);
        char *abs = realpath(*d, NULL);
        if (!abs)
            continue;
        r->rd_abs[plan->n_read] = abs;
        plan->read_dirs[plan->n_read++] = abs;
    }
    return SPAK_OK;
}

/* Everything the child will need, resolved while we can still allocate and
 * report errors (after the clone the child may do neither): absolute workdir
 * and rw dirs, the environment, the executable, the isolation to try, the
 * rlimits. Chowns workdir to the run-as uid so the candidate can write there. */
static spak_status plan_prepare(sb_run *r, const char *const argv[], const char *workdir,
                                spak_err *err)
{
    const spak_sandbox_limits *lim = r->lim;
    sb_plan *plan = &r->plan;
    spak_status st;
    struct stat sb;
    r->wd = realpath(workdir, NULL);
    if (!r->wd || stat(r->wd, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: workdir %s is not a directory", workdir);
    plan->workdir = r->wd;
    for (const char *const *d = lim->rw_dirs; d && *d; d++) {
        if (plan->n_rw == MAX_RW_DIRS)
            return spak_errf(err, SPAK_ERR_ARG, "sandbox: more than %d rw_dirs", MAX_RW_DIRS);
        r->rw_abs[plan->n_rw] = realpath(*d, NULL);
        if (!r->rw_abs[plan->n_rw])
            return spak_errf(err, SPAK_ERR_ARG, "sandbox: rw dir %s: %s", *d, strerror(errno));
        plan->rw_dirs[plan->n_rw] = r->rw_abs[plan->n_rw];
        plan->n_rw++;
    }
    if ((st = plan_reads(r, lim, err)) != SPAK_OK)
        return st;
    if ((st = build_env(&r->env, lim, r->wd, err)) != SPAK_OK)
        return st;
    if ((st = resolve_exe(argv[0], env_get(&r->env, "PATH"), r->exe, sizeof r->exe, err)) != SPAK_OK)
        return st;
    plan->path = r->exe;
    plan->argv = (char *const *)argv;
    plan->envp = r->env.v;
    plan_isolation(plan, lim);
    plan_rlimits(plan, lim);
    plan_seccomp(r);
    if (plan->uid >= 0 && geteuid() == 0 &&
        chown(r->wd, (uid_t)plan->uid, plan->gid >= 0 ? (gid_t)plan->gid : (gid_t)-1) < 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: chown %s: %s", r->wd, strerror(errno));
    return plan_budget(plan, lim, err);
}

/* Start the child in the shape the kernel allows: I in a new PID namespace,
 * else C directly in its own process group. The parent then holds only the
 * read ends (non-blocking) and, where the kernel has them, a pidfd to wake on
 * the exit. Fills out->pid and out->iso_pidns; the clock starts here. */
static spak_status start_child(sb_run *r, spak_sandbox_result *out, spak_err *err)
{
    sb_plan *plan = &r->plan;
    if (pipe2(r->pout, O_CLOEXEC) < 0 || pipe2(r->perr, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, r->pst) < 0 ||
        (r->fd_null = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: pipe: %s", strerror(errno));
    plan->fd_null = r->fd_null;
    plan->fd_out = r->pout[1];
    plan->fd_err = r->perr[1];
    plan->fd_st = r->pst[1];
    plan->fd_cg = r->cg_procs;

    r->t0 = spak_now_monotonic();
    long pid = -1;
    if (plan->pidns)
        pid = raw_clone(CLONE_NEWPID);
    if (pid == 0)
        child_init(plan);
    plan->pidns = pid >= 0;
    if (pid < 0) {
        pid = raw_clone(0);
        if (pid == 0) {
            child_common(plan, NULL);
            child_exec(plan);
        }
    }
    if (pid < 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: fork: %s", strerror(errno));
    r->pid = pid;
    out->pid = (pid_t)pid;
    out->iso_pidns = plan->pidns;
    out->run_uid = plan->uid >= 0 ? plan->uid : (long)geteuid();
    if (!plan->pidns) {
        setpgid((pid_t)pid, (pid_t)pid); /* also here: no race with kill(-pgid) */
        add_warning(out, "no PID namespace: descendants that leave the process group may survive a kill");
    }
    close(r->pout[1]);
    close(r->perr[1]);
    close(r->pst[1]);
    r->pout[1] = r->perr[1] = r->pst[1] = -1;
    if (r->cg_procs >= 0)
        close(r->cg_procs);
    r->cg_procs = -1;
    r->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);

    r->so.fd = r->pout[0];
    r->so.cap = r->lim->stdout_cap_bytes;
    r->se.fd = r->perr[0];
    r->se.cap = r->lim->stderr_cap_bytes;
    fcntl(r->so.fd, F_SETFL, O_NONBLOCK);
    fcntl(r->se.fd, F_SETFL, O_NONBLOCK);
    fcntl(r->pst[0], F_SETFL, O_NONBLOCK);
    const char *m = r->lim->result_marker;
    r->mk = (sb_marker){.m = m, .mlen = m ? strlen(m) : 0};
    r->deadline = r->lim->wall_timeout_s > 0 ? r->t0 + r->lim->wall_timeout_s : 0;
    return SPAK_OK;
}

static void fz_kill_frozen(sb_run *r);

/* Kill everything the run started: through I (SIGUSR1: it kills the whole
 * namespace and still reports C's status; SIGKILL a second later as a
 * backstop), or the process group in the fallback shape. A frozen child is
 * sent SIGKILL and thawed first (a v1-frozen task dies only once thawed). */
static void kill_run(sb_run *r, double now)
{
    pthread_mutex_lock(&r->fz_mu);
    if (r->frozen)
        fz_kill_frozen(r);
    pthread_mutex_unlock(&r->fz_mu);
    if (r->plan.pidns) {
        kill((pid_t)r->pid, SIGUSR1);
        r->backstop = now + 1.0;
    } else {
        kill(-(pid_t)r->pid, SIGKILL);
        kill((pid_t)r->pid, SIGKILL);
    }
}

/* The three reasons we end a run that still goes, decided once: the wall
 * deadline, output past output_kill_bytes, stdout closed past the grace. */
static void decide_kill(sb_run *r, double now)
{
    const spak_sandbox_limits *lim = r->lim;
    if (!r->reaped && r->killed == KILL_NONE) {
        if (atomic_load(&r->kill_req))
            r->killed = KILL_CALLER;
        else if (r->deadline > 0 && now >= r->deadline)
            r->killed = KILL_TIMEOUT;
        else if (lim->output_kill_bytes && r->so.total + r->se.total > lim->output_kill_bytes)
            r->killed = KILL_OUTPUT;
        else if (r->closed_at >= 0 && lim->closed_stdout_grace_s > 0 &&
                 now >= r->closed_at + lim->closed_stdout_grace_s)
            r->killed = KILL_CLOSED;
        if (r->killed != KILL_NONE)
            kill_run(r, now);
    }
    if (!r->reaped && r->backstop > 0 && now >= r->backstop && !r->hard_killed) {
        kill((pid_t)r->pid, SIGKILL);
        r->hard_killed = true;
    }
}

/* How long poll may sleep: until the next moment decide_kill or the drain
 * has something to do, at most a second (20 ms without a pidfd, where
 * only polling wait4 notices the exit). */
static int wake_ms(const sb_run *r, double now)
{
    double grace = r->lim->closed_stdout_grace_s;
    double wake = now + (r->pidfd >= 0 ? 1.0 : 0.02);
    if (r->deadline > 0 && !r->reaped && r->killed == KILL_NONE && r->deadline < wake)
        wake = r->deadline;
    if (r->closed_at >= 0 && !r->reaped && r->killed == KILL_NONE && r->closed_at + grace < wake)
        wake = r->closed_at + grace;
    if (r->backstop > 0 && !r->hard_killed && r->backstop < wake)
        wake = r->backstop;
    if (r->drain_deadline > 0 && r->drain_deadline < wake)
        wake = r->drain_deadline;
    int ms = (int)((wake - now) * 1000.0) + 1;
    return ms < 0 ? 0 : ms;
}

/* One read from each output pipe poll found ready: kept under its cap,
 * counted in full, stdout searched for the result marker. */
static void read_streams(sb_run *r, const struct pollfd *pf, int pr, int i_out, int i_err)
{
    char chunk[65536];
    sb_stream *ss[2] = {&r->so, &r->se};
    int idx[2] = {i_out, i_err};
    for (int k = 0; k < 2; k++) {
        if (idx[k] < 0 || pr <= 0 || !(pf[idx[k]].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t n = read(ss[k]->fd, chunk, sizeof chunk);
        if (n > 0) {
            stream_feed(ss[k], chunk, (size_t)n);
            if (k == 0)
                marker_feed(&r->mk, chunk, (size_t)n);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            ss[k]->eof = true;
        }
    }
}

/* One whole record from the child: a setup step that failed (the first one
 * counts), a layer in effect, a warning, or I's report of C's end. */
static void take_msg(sb_run *r, const sb_msg *m, spak_sandbox_result *out)
{
    switch (m->kind) {
    case MSG_FATAL:
        atomic_store(&r->c_ready, -1); /* it never execs: nothing to freeze */
        if (!r->fatal_stage) {
            r->fatal_stage = m->stage;
            r->fatal_err = m->err;
        }
        break;
    case MSG_ISO:
        if (m->stage == ST_NETNS) out->iso_netns = true;
        if (m->stage == ST_LANDLOCK) out->iso_landlock_fs = true;
        if (m->stage == ST_LANDLOCK_NET) out->iso_landlock_net = true;
        if (m->stage == ST_MOUNTNS) out->iso_mountns = true;
        if (m->stage == ST_UID) out->iso_uid = true;
        if (m->stage == ST_CGROUP) atomic_store(&r->c_ready, 1);
        if (m->stage == ST_RLIMIT) out->iso_rlimits = true;
        if (m->stage == ST_SECCOMP) out->iso_seccomp = true;
        if (m->stage == ST_BUDGET) out->iso_budget = true;
        if (m->stage == ST_LANDLOCK_READ) out->iso_landlock_read = true;
        /* named denials only when the listener really reached us */
        if (m->stage == ST_SECCOMP_NOTIFY)
            out->iso_seccomp = out->iso_seccomp_notify = r->notify_fd >= 0;
        break;
    case MSG_WARN: /* the warnings are derived from the MSG_ISO records */
        if (m->stage == ST_PROC)
            r->proc_failed = true;
        if (m->stage == ST_CGROUP)
            atomic_store(&r->c_ready, -1);
        if (m->stage == ST_BUDGET_OUT)
            r->budget_out_err = m->err;
        break;
    case MSG_FULL:
        out->budget_full |= (unsigned)m->err;
        break;
    case MSG_READY:
        atomic_store(&r->c_ready, -1);
        break;
    case MSG_REPORT:
        r->have_report = true;
        r->child_status = m->status;
        r->child_ru = m->ru;
        break;
    }
}

/* One read from the status socket, keeping a seccomp listener that comes
 * with it (the first one; any other fd is closed). */
static ssize_t status_recv(sb_run *r)
{
    struct iovec iov = {.iov_base = r->msgbuf + r->msglen, .iov_len = sizeof r->msgbuf - r->msglen};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(4 * sizeof(int))];
    } c;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf,
                        .msg_controllen = sizeof c.buf};
    ssize_t n = recvmsg(r->pst[0], &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return n;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (r->notify_fd < 0)
                r->notify_fd = fd;
            else
                close(fd);
        }
    }
    return n;
}

/* Drain the status socket: records are fixed-size, and may arrive in pieces. */
static void read_status(sb_run *r, spak_sandbox_result *out)
{
    while (!r->st_eof) {
        ssize_t n = status_recv(r);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            r->st_eof = true;
            break;
        }
        if (n < 0)
            break;
        r->msglen += (size_t)n;
        if (r->msglen < sizeof r->msgbuf)
            continue;
        r->msglen = 0;
        sb_msg m;
        memcpy(&m, r->msgbuf, sizeof m);
        take_msg(r, &m, out);
    }
}

/* The seccomp listener is ready: answer one denied call (EPERM) and note
 * it; the first one's name is the run's verdict. A listener with no
 * filtered process left is closed. */
static void answer_denied(sb_run *r, short revents, spak_sandbox_result *out)
{
    if (revents & POLLIN) {
        char name[sizeof out->denied_syscall];
        int a = spak_seccomp_answer(r->notify_fd, name, sizeof name);
        if (a > 0) {
            if (out->denied_count++ == 0) {
                spak_snprintf(out->denied_syscall, sizeof out->denied_syscall, "%s", name);
                spak_snprintf(r->denied_first, sizeof r->denied_first, "%s", name);
            }
            atomic_fetch_add(&r->denied_live, 1u); /* publishes denied_first (seq_cst) */
            return;
        }
        if (a == 0)
            return;
    } else if (!(revents & (POLLHUP | POLLERR | POLLNVAL))) {
        return;
    }
    close(r->notify_fd);
    r->notify_fd = -1;
}

/* Reap the child we started, without blocking. Once it is gone, its group
 * goes too (fallback shape), and the pipes get a second to drain. */
static void reap(sb_run *r)
{
    if (r->reaped)
        return;
    pid_t w = wait4((pid_t)r->pid, &r->wstatus, WNOHANG, &r->ru);
    if (w < 0 && errno == ECHILD)
        r->lost = true; /* someone else reaped it (SIGCHLD ignored, waitpid(-1)) */
    if (w == (pid_t)r->pid || r->lost) {
        r->reaped = true;
        atomic_store(&r->ended, true);
        r->t_end = spak_now_monotonic();
        if (!r->plan.pidns)
            kill(-(pid_t)r->pid, SIGKILL); /* the rest of its group */
        r->drain_deadline = r->t_end + 1.0;
    }
}

/* The parent's relay: until the child is reaped and every pipe is at EOF (or
 * a second after the reap, when an escaped descendant holds a pipe open),
 * read its output and status records, and kill it when a limit says so.
 * Fails only when poll does; the child is then killed and reaped. */
static spak_status relay(sb_run *r, spak_sandbox_result *out, spak_err *err)
{
    for (;;) {
        double now = spak_now_monotonic();
        if (r->reaped && r->so.eof && r->se.eof && r->st_eof)
            return SPAK_OK;
        if (r->reaped && r->drain_deadline > 0 && now >= r->drain_deadline) {
            add_warning(out, "output pipes still open after the child ended: a descendant escaped and may still run");
            return SPAK_OK;
        }
        decide_kill(r, now);
        int ms = wake_ms(r, now);
        struct pollfd pf[6];
        int nf = 0, i_out = -1, i_err = -1, i_sc = -1;
        if (!r->so.eof) { i_out = nf; pf[nf++] = (struct pollfd){.fd = r->so.fd, .events = POLLIN}; }
        if (!r->se.eof) { i_err = nf; pf[nf++] = (struct pollfd){.fd = r->se.fd, .events = POLLIN}; }
        if (!r->st_eof) { pf[nf++] = (struct pollfd){.fd = r->pst[0], .events = POLLIN}; }
        if (r->pidfd >= 0 && !r->reaped) pf[nf++] = (struct pollfd){.fd = r->pidfd, .events = POLLIN};
        if (r->wake[0] >= 0) pf[nf++] = (struct pollfd){.fd = r->wake[0], .events = POLLIN};
        if (r->notify_fd >= 0) { i_sc = nf; pf[nf++] = (struct pollfd){.fd = r->notify_fd, .events = POLLIN}; }
        int pr = poll(pf, (nfds_t)nf, ms);
        char drop[16];
        while (r->wake[0] >= 0 && read(r->wake[0], drop, sizeof drop) > 0) {}
        if (pr < 0 && errno != EINTR) {
            spak_status st = spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: poll: %s", strerror(errno));
            kill((pid_t)r->pid, SIGKILL);
            if (!r->plan.pidns)
                kill(-(pid_t)r->pid, SIGKILL);
            while (waitpid((pid_t)r->pid, NULL, 0) < 0 && errno == EINTR) {}
            atomic_store(&r->ended, true);
            return st;
        }
        read_streams(r, pf, pr, i_out, i_err);
        if (i_sc >= 0 && pr > 0)
            answer_denied(r, pf[i_sc].revents, out);
        if (r->so.eof && !r->reaped && r->closed_at < 0 && !r->have_report)
            r->closed_at = spak_now_monotonic();
        read_status(r, out);
        reap(r);
    }
}

/* Whether the run has a verdict at all: a setup step the child reported
 * failing, an exit status someone else took, or I gone without a report
 * (only our backstop SIGKILL does that) fail the run. Otherwise leaves the
 * candidate's wait status and rusage in r->wstatus and r->ru (I's report in
 * the namespace shape, where the reaped child is I). */
static spak_status take_report(sb_run *r, spak_err *err)
{
    if (r->fatal_stage) {
        bool ex = r->fatal_stage == ST_EXEC;
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: %s%s%s: %s", stage_name(r->fatal_stage),
                         ex ? " " : "", ex ? r->exe : "", strerror(r->fatal_err));
    }
    if (r->lost && !r->have_report)
        return spak_errf(err, SPAK_ERR_SANDBOX,
                         "sandbox: the child's exit status was lost: is SIGCHLD ignored, or does something call waitpid(-1)?");
    if (r->plan.pidns && r->have_report) {
        r->wstatus = r->child_status;
        r->ru = r->child_ru;
    } else if (r->plan.pidns && r->killed == KILL_NONE) {
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: supervisor ended without a report");
    }
    return SPAK_OK;
}

/* Warnings about isolation that was not in effect, from the MSG_ISO records. */
static void iso_warnings(const sb_run *r, spak_sandbox_result *out)
{
    const spak_sandbox_limits *lim = r->lim;
    if (r->proc_failed)
        add_warning(out, "PID namespace without its own /proc: /proc shows host pids (CUDA fails so)");
    if (!lim->network && !out->iso_netns)
        add_warning(out, out->iso_landlock_net
                             ? "no network namespace: TCP is denied by Landlock, UDP and other sockets are not"
                             : "no network namespace: the child has the network");
    if (!out->iso_landlock_fs && !out->iso_mountns)
        add_warning(out, "no Landlock or mount namespace: writes outside workdir are NOT prevented");
    if (lim->max_processes > 0 && geteuid() == 0 && !out->iso_uid)
        add_warning(out, "running as root: RLIMIT_NPROC is not enforced, a fork bomb is bounded only by the timeout");
    if (r->plan.n_read >= 0 && !out->iso_landlock_read)
        add_warning(out, "no Landlock read rules: it can read every file its uid may read");
    if (!out->iso_budget)
        add_warning(out, lim->workdir_bytes ? "no byte budget (no mount namespace): what it writes in workdir is bounded by the disk only"
                                            : "no byte budget (workdir_bytes 0): what it writes in workdir is bounded by the disk only");
    if (r->budget_out_err) {
        char w[160];
        spak_snprintf(w, sizeof w, "what it wrote could not all be copied back from its byte budget: %s",
                      strerror(r->budget_out_err));
        add_warning(out, w);
    }
    if (!out->iso_seccomp)
        add_warning(out, "no syscall filter: ptrace, mount, new sockets and the like are not denied");
    else if (!out->iso_seccomp_notify)
        add_warning(out, "syscall filter without user notification: a denied call kills, unnamed");
}

/* Move the measurements into out: CPU time and peak RSS, the captured
 * output (handed over, never NULL), the exit code or the signal. */
static spak_status fill_output(sb_run *r, spak_sandbox_result *out, spak_err *err)
{
    spak_status st = SPAK_OK;
    const struct rusage *ru = &r->ru;
    out->cpu_s = (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6 +
                 (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
    out->peak_rss_kb = ru->ru_maxrss;
    if (!r->so.buf.data && spak_buf_append(&r->so.buf, "", 0) != SPAK_OK)
        st = SPAK_ERR_NOMEM;
    if (!r->se.buf.data && spak_buf_append(&r->se.buf, "", 0) != SPAK_OK)
        st = SPAK_ERR_NOMEM;
    if (st != SPAK_OK)
        return spak_errf(err, st, "sandbox: out of memory");
    out->out_len = r->so.buf.len;
    out->out = spak_buf_take(&r->so.buf);
    out->err_len = r->se.buf.len;
    out->err = spak_buf_take(&r->se.buf);
    out->out_truncated = r->so.trunc;
    out->err_truncated = r->se.trunc;
    out->out_total = r->so.total;
    out->err_total = r->se.total;
    out->marker_seen = r->mk.seen;
    if (WIFEXITED(r->wstatus))
        out->exit_code = WEXITSTATUS(r->wstatus);
    else if (WIFSIGNALED(r->wstatus))
        out->term_signal = WTERMSIG(r->wstatus);
    return SPAK_OK;
}

/* The verdict: why the run ended, in the order a cause is most certain (our
 * own kills first, the rlimit signals, the memory heuristic, then the plain
 * ends), as out->why, why_text and ok. */
static void classify(int killed, const spak_sandbox_limits *lim, spak_sandbox_result *out)
{
    int sig = out->term_signal;
    bool abnormal = sig != 0 || out->exit_code != 0;
    bool mem_likely = lim->address_space_bytes > 0 && abnormal &&
                      ((double)out->peak_rss_kb * 1024.0 >= 0.5 * (double)lim->address_space_bytes ||
                       stderr_says_oom(out));
    char *t = out->why_text;
    size_t tn = sizeof out->why_text;
    /* A denied call first: the surest sign of a program that reached
     * beyond itself, whatever it did after the EPERM (even exit 0). */
    if (out->denied_count > 0) {
        out->why = SPAK_SANDBOX_SYSCALL_DENIED;
        if (out->denied_count > 1)
            spak_snprintf(t, tn, "syscall denied: %s (and %u more denied calls)", out->denied_syscall,
                          out->denied_count - 1);
        else
            spak_snprintf(t, tn, "syscall denied: %s", out->denied_syscall);
    } else if (sig == SIGSYS && out->iso_seccomp) {
        out->why = SPAK_SANDBOX_SYSCALL_DENIED;
        spak_snprintf(t, tn, "killed by the syscall filter (SIGSYS)%s",
                      out->iso_seccomp_notify ? ": likely a 32-bit or x32 system call" : "");
    } else if (killed == KILL_CALLER) {
        out->why = SPAK_SANDBOX_KILLED;
        spak_snprintf(t, tn, "ended by the caller: killed with everything it started");
    } else if (killed == KILL_TIMEOUT) {
        out->why = SPAK_SANDBOX_TIMEOUT;
        spak_snprintf(t, tn, "wall-clock timeout: still running after %.1f s, killed with everything it started",
                      lim->wall_timeout_s);
    } else if (killed == KILL_OUTPUT) {
        out->why = SPAK_SANDBOX_OUTPUT_LIMIT;
        spak_snprintf(t, tn, "output spew: wrote more than %zu bytes, killed", lim->output_kill_bytes);
    } else if (killed == KILL_CLOSED) {
        out->why = SPAK_SANDBOX_STDOUT_CLOSED;
        spak_snprintf(t, tn, "closed its stdout and kept running for %.1f s, killed",
                      lim->closed_stdout_grace_s);
    } else if (sig == SIGXCPU || (sig == SIGKILL && lim->cpu_s > 0 && out->cpu_s >= lim->cpu_s)) {
        out->why = SPAK_SANDBOX_CPU_LIMIT;
        spak_snprintf(t, tn, "CPU time limit of %.0f s reached (%s after %.2f s of CPU)", lim->cpu_s,
                      sig_name(sig), out->cpu_s);
    } else if (sig == SIGXFSZ) {
        out->why = SPAK_SANDBOX_FILE_SIZE_LIMIT;
        spak_snprintf(t, tn, "file size limit of %zu bytes reached (SIGXFSZ)", lim->file_size_bytes);
    } else if (out->budget_full) {
        out->why = SPAK_SANDBOX_BYTE_BUDGET;
        spak_snprintf(t, tn, "the byte budget of %zu MiB for its work directory was exhausted (%s): writes past it failed with ENOSPC",
                      lim->workdir_bytes >> 20,
                      out->budget_full & SPAK_SANDBOX_BUDGET_BYTES ? "no bytes left" : "no files left");
    } else if (mem_likely) {
        out->why = SPAK_SANDBOX_MEMORY_LIMIT;
        if (sig)
            spak_snprintf(t, tn, "likely the memory limit of %zu MiB: killed by signal %d (%s), peak RSS %ld MiB",
                          lim->address_space_bytes >> 20, sig, sig_name(sig), out->peak_rss_kb >> 10);
        else
            spak_snprintf(t, tn, "likely the memory limit of %zu MiB: exited with %d, peak RSS %ld MiB",
                          lim->address_space_bytes >> 20, out->exit_code, out->peak_rss_kb >> 10);
    } else if (sig) {
        out->why = SPAK_SANDBOX_SIGNALED;
        spak_snprintf(t, tn, "killed by signal %d (%s)%s", sig, sig_name(sig),
                      sig == SIGKILL ? ", not sent by spak (the OOM killer?)" : "");
    } else if (out->exit_code == 0 && lim->result_marker && !out->marker_seen) {
        out->why = SPAK_SANDBOX_NO_RESULT;
        spak_snprintf(t, tn, "exited 0 without writing '%s' to stdout: no result", lim->result_marker);
    } else {
        out->why = SPAK_SANDBOX_EXITED;
        spak_snprintf(t, tn, "exited with status %d", out->exit_code);
    }
    out->ok = out->why == SPAK_SANDBOX_EXITED && out->exit_code == 0;
    if (out->out_truncated) {
        size_t len = strlen(t);
        spak_snprintf(t + len, tn - len, "; stdout truncated at %zu of %zu bytes", out->out_len, out->out_total);
    }
}


/* ---- the freezer ------------------------------------------------------------
 * One cgroup per proc, made before the clone: <hierarchy><our cgroup>/spak/
 * <our pid>.<n>, in the v2 hierarchy (cgroup.freeze) or else the v1 freezer
 * one. C joins it before execve (child_cgroup). Where neither can be made
 * (not root, no hierarchy) or C could not join, spak_sandbox_freeze stops
 * the processes one by one with SIGSTOP. */

static atomic_uint cg_seq;

/* Read a small file whole (NUL-terminated, capped at n-1 bytes). */
static bool read_small(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = 0;
    ssize_t k;
    while (len + 1 < n && (k = read(fd, buf + len, n - 1 - len)) > 0)
        len += (size_t)k;
    close(fd);
    buf[len] = '\0';
    return true;
}

static bool write_small(const char *dir, const char *file, const char *text)
{
    char path[PATH_MAX];
    if (!spak_snprintf(path, sizeof path, "%s/%s", dir, file))
        return false;
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    return ok;
}

/* Whether a comma-separated list holds word. */
static bool list_has(const char *list, size_t len, const char *word)
{
    size_t wl = strlen(word);
    const char *p = list, *end = list + len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        size_t l = c ? (size_t)(c - p) : (size_t)(end - p);
        if (l == wl && memcmp(p, word, wl) == 0)
            return true;
        p += l + 1;
    }
    return false;
}

/* The mount point of the v2 hierarchy (v2) or of the v1 freezer one, and
 * the folder of the hierarchy mounted there (not "/" in a cgroup namespace
 * or a bind mount), from /proc/self/mountinfo. */
static bool cg_mount(bool v2, char *mnt, size_t mn, char *root, size_t rn)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *save = NULL, *tok[16];
        int n = 0;
        for (char *t = strtok_r(line, " \n", &save); t && n < 16; t = strtok_r(NULL, " \n", &save))
            tok[n++] = t;
        int dash = -1;
        for (int i = 6; i < n; i++)
            if (strcmp(tok[i], "-") == 0) {
                dash = i;
                break;
            }
        if (dash < 0 || dash + 3 >= n || strchr(tok[4], '\\'))
            continue;
        const char *fs = tok[dash + 1], *opts = tok[dash + 3];
        bool want = v2 ? strcmp(fs, "cgroup2") == 0
                       : strcmp(fs, "cgroup") == 0 && list_has(opts, strlen(opts), "freezer");
        if (want && spak_snprintf(mnt, mn, "%s", tok[4]) && spak_snprintf(root, rn, "%s", tok[3]))
            found = true;
    }
    fclose(f);
    return found;
}

/* Our own cgroup in that hierarchy, from /proc/self/cgroup ("0::/path" for
 * v2, "N:...,freezer,...:/path" for v1). */
static bool cg_self(bool v2, char *path, size_t n)
{
    char buf[8192];
    if (!read_small("/proc/self/cgroup", buf, sizeof buf))
        return false;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *c1 = strchr(l, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        bool match = v2 ? (c2 == c1 + 1 && strncmp(l, "0:", 2) == 0)
                        : list_has(c1 + 1, (size_t)(c2 - c1 - 1), "freezer");
        if (match)
            return spak_snprintf(path, n, "%s", c2 + 1);
    }
    return false;
}

/* Make the proc's cgroup in one hierarchy and open its procs file. */
static bool cg_make(sb_run *r, bool v2)
{
    char mnt[PATH_MAX], root[PATH_MAX], self[PATH_MAX], base[PATH_MAX];
    if (!cg_mount(v2, mnt, sizeof mnt, root, sizeof root) || !cg_self(v2, self, sizeof self))
        return false;
    const char *rel = self;
    size_t rl = strlen(root);
    if (strcmp(root, "/") != 0 && strncmp(self, root, rl) == 0)
        rel = self + rl;
    if (strcmp(rel, "/") == 0)
        rel = "";
    if (!spak_snprintf(base, sizeof base, "%s%s/spak", mnt, rel) ||
        (mkdir(base, 0755) < 0 && errno != EEXIST))
        return false;
    /* our pid is no name of its own: a judge runs in a PID namespace of its
     * own, where every judge has the same small pid; a random tag keeps
     * concurrent judges (and a folder a killed one left) apart */
    unsigned n = atomic_fetch_add(&cg_seq, 1u);
    uint32_t tag = 0;
    if (getrandom(&tag, sizeof tag, GRND_NONBLOCK) != (ssize_t)sizeof tag)
        tag = (uint32_t)(spak_now_monotonic() * 1e9);
    if (!spak_snprintf(r->cg_dir, sizeof r->cg_dir, "%s/%ld.%u.%08x", base, (long)getpid(), n, tag) ||
        mkdir(r->cg_dir, 0755) < 0) {
        r->cg_dir[0] = '\0';
        return false;
    }
    char path[PATH_MAX + 32];
    spak_snprintf(path, sizeof path, "%s/%s", r->cg_dir, v2 ? "cgroup.freeze" : "freezer.state");
    if (access(path, W_OK) == 0) {
        spak_snprintf(path, sizeof path, "%s/cgroup.procs", r->cg_dir);
        r->cg_procs = open(path, O_WRONLY | O_CLOEXEC);
    }
    if (r->cg_procs < 0) {
        rmdir(r->cg_dir);
        r->cg_dir[0] = '\0';
        return false;
    }
    r->cg_kind = v2 ? FZ_V2 : FZ_V1;
    return true;
}

/* The proc's cgroup, where one can be made (none is no error). */
static void cg_prepare(sb_run *r)
{
    unsigned off = r->lim->isolation_off;
    if (!(off & SPAK_SANDBOX_NO_CGROUP_V2) && cg_make(r, true))
        return;
    if (!(off & SPAK_SANDBOX_NO_CGROUP_V1))
        cg_make(r, false);
}

/* The pids listed in the cgroup's procs file (at most max). */
static int cg_pids(const sb_run *r, pid_t *pids, int max)
{
    char path[PATH_MAX + 32], buf[16384];
    spak_snprintf(path, sizeof path, "%s/cgroup.procs", r->cg_dir);
    if (!read_small(path, buf, sizeof buf))
        return 0;
    int n = 0;
    for (char *p = buf, *e; *p && n < max; p = e) {
        long v = strtol(p, &e, 10);
        if (e == p)
            break;
        if (v > 0)
            pids[n++] = (pid_t)v;
    }
    return n;
}

/* The state letter and process group of a task, from its stat file. */
static bool task_stat(const char *path, char *state, long *pgrp)
{
    char buf[1024];
    if (!read_small(path, buf, sizeof buf))
        return false;
    char *rp = strrchr(buf, ')'); /* the name may hold anything, ')' too */
    if (!rp || rp[1] != ' ' || !rp[2])
        return false;
    *state = rp[2];
    char *e;
    strtol(rp + 3, &e, 10); /* ppid */
    *pgrp = strtol(e, NULL, 10);
    return true;
}

static int cmp_pid(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The processes SIGSTOP mode freezes: every descendant of the child we
 * started, and in the fallback shape its process group too. In the PID
 * namespace that is all of it but I (an orphan, a setsid() escapee's child
 * included, is reparented to I, the namespace's init; I itself is never
 * stopped: a supervisor must still answer a kill). Read from /proc, so it
 * needs no namespace links (gVisor). */
static int sig_members(const sb_run *r, pid_t *pids, int max)
{
    enum { SCAN_MAX = 65536 };
    long(*t)[3] = malloc(SCAN_MAX * sizeof *t); /* pid, ppid, pgrp */
    DIR *d = t ? opendir("/proc") : NULL;
    int nt = 0, n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && nt < SCAN_MAX) {
        char *end, path[300], st, buf[1024];
        long pid = strtol(e->d_name, &end, 10);
        spak_snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        if (*end || pid <= 0 || !read_small(path, buf, sizeof buf))
            continue;
        char *rp = strrchr(buf, ')'); /* the name may hold anything, ')' too */
        if (!rp || rp[1] != ' ' || !rp[2] || (st = rp[2]) == 'Z' || st == 'X')
            continue;
        t[nt][0] = pid;
        t[nt][1] = strtol(rp + 3, &end, 10);
        t[nt][2] = strtol(end, NULL, 10);
        nt++;
    }
    if (d)
        closedir(d);
    /* mark the descendants of r->pid, one generation a pass; the parent
     * found by its pid in the sorted table */
    if (t)
        qsort(t, (size_t)nt, sizeof *t, cmp_pid);
    bool *in = t ? calloc((size_t)nt + 1, sizeof *in) : NULL;
    for (bool grew = in != NULL; grew;) {
        grew = false;
        for (int i = 0; i < nt; i++) {
            if (in[i] || t[i][0] == r->pid)
                continue;
            long(*par)[3] = bsearch(&t[i][1], t, (size_t)nt, sizeof *t, cmp_pid);
            if (t[i][1] == r->pid || (!r->plan.pidns && t[i][2] == r->pid) || (par && in[par - t]))
                in[i] = grew = true;
        }
    }
    for (int i = 0; in && i < nt && n < max; i++)
        if (in[i])
            pids[n++] = (pid_t)t[i][0];
    if (!r->plan.pidns && n < max && r->pid > 0 && !r->reaped)
        pids[n++] = (pid_t)r->pid; /* C itself leads the group */
    free(in);
    free(t);
    return n;
}

/* Whether every thread of pid is stopped (or gone). */
static bool all_threads_stopped(pid_t pid)
{
    char path[300];
    spak_snprintf(path, sizeof path, "/proc/%ld/task", (long)pid);
    DIR *d = opendir(path);
    if (!d)
        return true; /* gone */
    bool stopped = true;
    struct dirent *e;
    while (stopped && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char sp[400], st;
        long pg;
        spak_snprintf(sp, sizeof sp, "%s/%s/stat", path, e->d_name);
        if (task_stat(sp, &st, &pg) && st != 'T' && st != 't' && st != 'Z' && st != 'X')
            stopped = false;
    }
    closedir(d);
    return stopped;
}

#define FZ_MAX_PIDS 1024

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether the cgroup says the freeze took effect. */
static bool cg_frozen(const sb_run *r)
{
    char path[PATH_MAX + 32], buf[512];
    if (r->fz_mode == FZ_V2) {
        spak_snprintf(path, sizeof path, "%s/cgroup.events", r->cg_dir);
        return read_small(path, buf, sizeof buf) && strstr(buf, "frozen 1");
    }
    spak_snprintf(path, sizeof path, "%s/freezer.state", r->cg_dir);
    return read_small(path, buf, sizeof buf) && strncmp(buf, "FROZEN", 6) == 0;
}

/* One round of SIGSTOP mode: stop whatever is not stopped yet; true when
 * every thread of every member already was. */
static bool sig_stop_round(const sb_run *r)
{
    pid_t pids[FZ_MAX_PIDS];
    int n = sig_members(r, pids, FZ_MAX_PIDS);
    bool all = true;
    for (int i = 0; i < n; i++)
        if (!all_threads_stopped(pids[i])) {
            kill(pids[i], SIGSTOP);
            all = false;
        }
    return all;
}

/* Freeze or thaw by the proc's mode, under fz_mu; waits (2 s at most) for a
 * freeze to take effect. */
static spak_status fz_apply(sb_run *r, bool frozen, spak_err *err)
{
    const char *what = NULL;
    if (r->fz_mode == FZ_V2)
        what = frozen ? "1" : "0";
    else if (r->fz_mode == FZ_V1)
        what = frozen ? "FROZEN" : "THAWED";
    if (what && !write_small(r->cg_dir, r->fz_mode == FZ_V2 ? "cgroup.freeze" : "freezer.state", what))
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: writing the freezer of %s: %s", r->cg_dir,
                         strerror(errno));
    r->frozen = frozen;
    if (!frozen) {
        if (r->fz_mode == FZ_SIG) {
            pid_t pids[FZ_MAX_PIDS];
            int n = sig_members(r, pids, FZ_MAX_PIDS);
            for (int i = 0; i < n; i++)
                kill(pids[i], SIGCONT);
        }
        return SPAK_OK;
    }
    double until = spak_now_monotonic() + 2.0;
    for (;;) {
        bool done = r->fz_mode == FZ_SIG ? sig_stop_round(r) : cg_frozen(r);
        if (done)
            return SPAK_OK;
        if (spak_now_monotonic() > until)
            return spak_errf(err, SPAK_ERR_SANDBOX,
                             "sandbox: the freeze did not take effect within 2 s (a task stuck in the kernel?)");
        sleep_ms(1);
    }
}

/* Called by kill_run under fz_mu: SIGKILL to every frozen process, then
 * thaw, so that they die without running another instruction. */
static void fz_kill_frozen(sb_run *r)
{
    pid_t pids[FZ_MAX_PIDS];
    int n = r->fz_mode == FZ_SIG ? sig_members(r, pids, FZ_MAX_PIDS) : cg_pids(r, pids, FZ_MAX_PIDS);
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    fz_apply(r, false, NULL);
}

/* Remove the cgroup dir and the cgroups below it (a judge's runners make
 * theirs inside the judge's), deepest first, SIGKILL to what is still in
 * each (all of it was started by C: an escapee of the fallback shape, a
 * runner whose judge was killed). False when one would not go. */
static bool cg_remove_tree(const char *dir, int depth)
{
    DIR *d = depth < 8 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char sub[PATH_MAX];
        if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
            spak_snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name))
            cg_remove_tree(sub, depth + 1);
    }
    if (d)
        closedir(d);
    char procs[PATH_MAX + 16], buf[16384];
    double until = spak_now_monotonic() + 2.0;
    while (rmdir(dir) < 0) {
        if (errno != EBUSY || spak_now_monotonic() > until)
            return false;
        spak_snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        char *p = read_small(procs, buf, sizeof buf) ? buf : NULL;
        for (char *end; p && *p; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p)
                break;
            if (v > 0)
                kill((pid_t)v, SIGKILL);
        }
        sleep_ms(2);
    }
    return true;
}

/* Remove the proc's cgroup once the run is over, with what is below it. */
static void cg_remove(sb_run *r)
{
    if (!r->cg_dir[0])
        return;
    if (r->frozen)
        fz_apply(r, false, NULL);
    cg_remove_tree(r->cg_dir, 0);
    r->cg_dir[0] = '\0';
}

/* ---- a proc: start, freeze, finish ------------------------------------------ */

struct spak_sandbox_proc {
    sb_run r;                   /* first: plan points into it, it never moves */
    spak_sandbox_limits lim;    /* the caller's, copied */
    char marker[64];
    spak_sandbox_result res;    /* filled by the relay thread until the join */
    pthread_t thr;
    spak_status relay_st;
    spak_err relay_err;
};

static void *relay_main(void *arg)
{
    spak_sandbox_proc *p = arg;
    p->relay_st = relay(&p->r, &p->res, &p->relay_err);
    return NULL;
}

/* The caller's mistakes about the kept fds. */
static spak_status check_keep(const int *keep_fds, size_t n_keep, spak_err *err)
{
    if (n_keep > MAX_KEEP)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: more than %d fds to keep", MAX_KEEP);
    if (n_keep && !keep_fds)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no fds to keep");
    for (size_t i = 0; i < n_keep; i++)
        if (keep_fds[i] < 0 || fcntl(keep_fds[i], F_GETFD) < 0)
            return spak_errf(err, SPAK_ERR_ARG, "sandbox: fd %d to keep is not open", keep_fds[i]);
    return SPAK_OK;
}

/* The limits copied into p: result_marker into p's own buffer, the
 * borrowed lists kept only until the plan is made (start clears them). */
static spak_status copy_limits(spak_sandbox_proc *p, const spak_sandbox_limits *lim, spak_err *err)
{
    if (lim)
        p->lim = *lim;
    else
        spak_sandbox_limits_default(&p->lim);
    const char *m = p->lim.result_marker;
    if (m && (!m[0] || strlen(m) > 60))
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: result_marker must be 1..60 bytes");
    if (m) {
        spak_snprintf(p->marker, sizeof p->marker, "%s", m);
        p->lim.result_marker = p->marker;
    }
    return SPAK_OK;
}

/* Start: check the arguments, prepare the plan (all that may allocate or
 * fail with a message), make the cgroup, start the child, hand the relay to
 * a thread. Each isolation layer lives in a child_* function and is chosen
 * in plan_isolation; each limit the parent enforces in decide_kill. */
spak_status spak_sandbox_start(const char *const *argv, const char *workdir,
                               const spak_sandbox_limits *lim, const int *keep_fds,
                               size_t n_keep, spak_sandbox_proc **out, spak_err *err)
{
    if (!out)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no proc to fill");
    *out = NULL;
    spak_sandbox_proc *p = calloc(1, sizeof *p);
    if (!p)
        return spak_errf(err, SPAK_ERR_NOMEM, "sandbox: out of memory");
    spak_status st = copy_limits(p, lim, err);
    if (st == SPAK_OK)
        st = check_args(argv, workdir, &p->lim, err);
    if (st == SPAK_OK)
        st = check_keep(keep_fds, n_keep, err);
    if (st != SPAK_OK) {
        free(p);
        return st;
    }
    p->res.exit_code = -1;
    p->res.peak_rss_kb = -1;
    sb_run *r = &p->r;
    run_init(r, &p->lim);
    if ((st = plan_prepare(r, argv, workdir, err)) != SPAK_OK)
        goto fail;
    for (size_t i = 0; i < n_keep; i++)
        r->plan.keep[i] = keep_fds[i];
    r->plan.n_keep = (int)n_keep;
    r->plan.st_slot = KEEP_BASE + (int)n_keep;
    p->lim.env_pass = p->lim.env_extra = p->lim.rw_dirs = NULL;
    p->lim.read_dirs = NULL;
    if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: pipe: %s", strerror(errno));
        goto fail;
    }
    cg_prepare(r);
    if ((st = start_child(r, &p->res, err)) != SPAK_OK)
        goto fail;
    int e = pthread_create(&p->thr, NULL, relay_main, p);
    if (e != 0) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: starting the relay thread: %s", strerror(e));
        kill((pid_t)r->pid, SIGKILL);
        if (!r->plan.pidns)
            kill(-(pid_t)r->pid, SIGKILL);
        while (waitpid((pid_t)r->pid, NULL, 0) < 0 && errno == EINTR) {}
        goto fail;
    }
    *out = p;
    return SPAK_OK;
fail:
    run_free(r);
    free(p);
    return st;
}

/* The mode of the first freeze: C's cgroup once C has said it joined it
 * (we wait for C to reach its execve: before that, nothing would stop what
 * it is about to become), else SIGSTOP. */
static int fz_choose(sb_run *r)
{
    double until = spak_now_monotonic() + 2.0;
    while (atomic_load(&r->c_ready) == 0 && !atomic_load(&r->ended) && spak_now_monotonic() < until)
        sleep_ms(1);
    return atomic_load(&r->c_ready) == 1 ? r->cg_kind : FZ_SIG;
}

spak_status spak_sandbox_freeze(spak_sandbox_proc *p, bool frozen, const char **how, spak_err *err)
{
    if (!p)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no proc");
    sb_run *r = &p->r;
    int mode = r->fz_mode ? r->fz_mode : fz_choose(r);
    pthread_mutex_lock(&r->fz_mu);
    r->fz_mode = mode;
    spak_status st = SPAK_OK;
    if (!atomic_load(&r->ended) && frozen != r->frozen && r->killed == KILL_NONE) {
        st = fz_apply(r, frozen, err);
        if (st != SPAK_OK && frozen && r->fz_mode != FZ_SIG) {
            /* a cgroup that takes no freeze (a runtime that fakes the
             * file): undo it, and stop the processes one by one instead */
            fz_apply(r, false, NULL);
            r->fz_mode = mode = FZ_SIG;
            st = fz_apply(r, true, err);
        }
    }
    pthread_mutex_unlock(&r->fz_mu);
    if (how)
        *how = mode == FZ_V2 ? "cgroup-v2" : mode == FZ_V1 ? "cgroup-v1" : "sigstop";
    return st;
}

/* The members' CPU time from their process CPU clocks (exact: the kernel
 * brings a running thread's time up to date when the clock is read); false
 * when a clock cannot be read for another reason than the member's end. */
static bool usage_cpuclock(const pid_t *pids, int n, uint64_t *ns)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
        clockid_t id;
        struct timespec t;
        int e = clock_getcpuclockid(pids[i], &id);
        if (e == ESRCH)
            continue; /* it ended: its time went with it */
        if (e != 0)
            return false;
        if (clock_gettime(id, &t) != 0) {
            if (errno == ESRCH || errno == EINVAL)
                continue; /* ended between the two calls (EINVAL: the id's pid is gone) */
            return false;
        }
        sum += (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
    }
    *ns = sum;
    return true;
}

/* The sum of the first field (ns on a CPU) of every thread's schedstat. */
static bool usage_schedstat(const pid_t *pids, int n, uint64_t *ns)
{
    uint64_t sum = 0;
    bool any = false;
    for (int i = 0; i < n; i++) {
        char path[300];
        spak_snprintf(path, sizeof path, "/proc/%ld/task", (long)pids[i]);
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char sp[400], buf[128];
            if (e->d_name[0] < '0' || e->d_name[0] > '9')
                continue;
            spak_snprintf(sp, sizeof sp, "%s/%s/schedstat", path, e->d_name);
            if (read_small(sp, buf, sizeof buf)) {
                sum += strtoull(buf, NULL, 10);
                any = true;
            }
        }
        if (d)
            closedir(d);
    }
    *ns = sum;
    return any || n == 0;
}

/* usage_usec of the proc's v2 cgroup. */
static bool usage_cgroup(const sb_run *r, uint64_t *ns)
{
    char path[PATH_MAX + 32], buf[1024];
    spak_snprintf(path, sizeof path, "%s/cpu.stat", r->cg_dir);
    const char *u = read_small(path, buf, sizeof buf) ? strstr(buf, "usage_usec ") : NULL;
    if (!u)
        return false;
    *ns = strtoull(u + 11, NULL, 10) * 1000u;
    return true;
}

spak_status spak_sandbox_cpu_usage(spak_sandbox_proc *p, uint64_t *ns, const char **how, spak_err *err)
{
    *ns = 0;
    if (how)
        *how = "cpuclock";
    if (!p)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no proc");
    sb_run *r = &p->r;
    pid_t pids[FZ_MAX_PIDS] = {0};
    pthread_mutex_lock(&r->fz_mu);
    bool cg = r->fz_mode == FZ_V1 || r->fz_mode == FZ_V2 ||
              (!r->fz_mode && r->cg_kind && atomic_load(&r->c_ready) == 1);
    int n = atomic_load(&r->ended) ? 0 : cg ? cg_pids(r, pids, FZ_MAX_PIDS) : sig_members(r, pids, FZ_MAX_PIDS);
    bool ok = usage_cpuclock(pids, n, ns);
    if (!ok && cg && r->cg_kind == FZ_V2 && (ok = usage_cgroup(r, ns)) && how)
        *how = "cgroup-cpu.stat";
    if (!ok && (ok = usage_schedstat(pids, n, ns)) && how)
        *how = "schedstat";
    pthread_mutex_unlock(&r->fz_mu);
    return ok ? SPAK_OK : spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: cannot read the CPU time of the child's processes");
}

/* The candidate process itself: in the PID namespace shape the one child
 * of the supervisor I (its parent is I; found once in /proc, then kept),
 * else the process we started. -1 when it cannot be found. */
static long cand_pid(sb_run *r)
{
    if (!r->plan.pidns)
        return r->pid;
    if (r->cand_pid > 0)
        return r->cand_pid;
    char path[128], buf[64];
    spak_snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", r->pid, r->pid);
    long c = read_small(path, buf, sizeof buf) ? strtol(buf, NULL, 10) : 0;
    if (c <= 0) { /* no children file (CONFIG_PROC_CHILDREN off): the members whose parent is I */
        pid_t pids[FZ_MAX_PIDS];
        int n = sig_members(r, pids, FZ_MAX_PIDS);
        for (int i = 0; i < n && c <= 0; i++) {
            char sp[64], st;
            long ppid = 0;
            spak_snprintf(sp, sizeof sp, "/proc/%ld/stat", (long)pids[i]);
            char b2[1024];
            char *rp = read_small(sp, b2, sizeof b2) ? strrchr(b2, ')') : NULL;
            if (rp && rp[1] == ' ' && (st = rp[2]) != 0)
                ppid = strtol(rp + 3, NULL, 10);
            if (ppid == r->pid)
                c = pids[i];
        }
    }
    r->cand_pid = c > 0 ? c : 0;
    return c > 0 ? c : -1;
}

spak_status spak_sandbox_child_cpu(spak_sandbox_proc *p, uint64_t *ns, spak_err *err)
{
    *ns = 0;
    if (!p)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no proc");
    long c = cand_pid(&p->r);
    pid_t one = (pid_t)c;
    if (c <= 0 || atomic_load(&p->r.ended) || !usage_cpuclock(&one, 1, ns))
        return spak_errf(err, SPAK_ERR_SANDBOX, "sandbox: cannot read the candidate process's CPU clock");
    return SPAK_OK;
}

int spak_sandbox_wait_stopped(spak_sandbox_proc *p, double timeout_s)
{
    if (!p)
        return -1;
    sb_run *r = &p->r;
    double until = spak_now_monotonic() + timeout_s;
    /* not before C reached its execve: until then a stop is the sandbox's
     * own set-up, not the program's */
    while (atomic_load(&r->c_ready) == 0 && !atomic_load(&r->ended) && spak_now_monotonic() < until)
        sleep_ms(1);
    long c = cand_pid(r);
    if (c <= 0)
        return -1;
    for (int round = 0;; round++) {
        if (all_threads_stopped((pid_t)c))
            return 0;
        if (atomic_load(&r->ended) || spak_now_monotonic() > until)
            return -1;
        if (round < 20)
            sched_yield();
        else
            sleep_ms(1);
    }
}

void spak_sandbox_continue(spak_sandbox_proc *p)
{
    if (!p)
        return;
    sb_run *r = &p->r;
    long c = cand_pid(r);
    /* frozen in the SIGSTOP mode, a SIGCONT would be a thaw: the thaw
     * sends it instead */
    pthread_mutex_lock(&r->fz_mu);
    if (c > 0 && !atomic_load(&r->ended) && !(r->frozen && r->fz_mode == FZ_SIG))
        kill((pid_t)c, SIGCONT);
    pthread_mutex_unlock(&r->fz_mu);
}

pid_t spak_sandbox_pid(const spak_sandbox_proc *p)
{
    return p ? (pid_t)p->r.pid : -1;
}

bool spak_sandbox_ended(spak_sandbox_proc *p)
{
    return !p || atomic_load(&p->r.ended);
}

unsigned spak_sandbox_denied(spak_sandbox_proc *p, char *name, size_t n)
{
    unsigned k = p ? atomic_load(&p->r.denied_live) : 0u;
    if (name && n)
        spak_snprintf(name, n, "%s", k ? p->r.denied_first : "");
    return k;
}

/* The verdict once the relay is over: the report, the isolation warnings,
 * the output handed over, why it ended. */
static spak_status verdict(sb_run *r, spak_sandbox_result *out, spak_err *err)
{
    out->wall_s = r->t_end - r->t0;
    /* EOF a moment before the exit is the normal end, not an early close. */
    out->stdout_closed_early = r->killed == KILL_CLOSED || (r->closed_at >= 0 && r->t_end - r->closed_at > 0.25);
    spak_status st = take_report(r, err);
    if (st != SPAK_OK)
        return st;
    iso_warnings(r, out);
    if ((st = fill_output(r, out, err)) != SPAK_OK)
        return st;
    classify(r->killed, r->lim, out);
    return SPAK_OK;
}

spak_status spak_sandbox_finish(spak_sandbox_proc *p, bool kill_now, spak_sandbox_result *out,
                                spak_err *err)
{
    if (!p)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no proc");
    sb_run *r = &p->r;
    if (kill_now || !out) {
        atomic_store(&r->kill_req, 1);
        ssize_t w = write(r->wake[1], "k", 1);
        (void)w;
    }
    pthread_join(p->thr, NULL);
    spak_status st = p->relay_st;
    if (st != SPAK_OK && err)
        *err = p->relay_err;
    if (!out && st == SPAK_OK)
        st = spak_errf(err, SPAK_ERR_ARG, "sandbox: no result to fill");
    if (st == SPAK_OK) {
        *out = p->res;
        st = verdict(r, out, err);
        if (st != SPAK_OK)
            spak_sandbox_result_free(out);
    }
    run_free(r);
    free(p);
    return st;
}

spak_status spak_sandbox_run(const char *const argv[], const char *workdir,
                             const spak_sandbox_limits *lim, spak_sandbox_result *out,
                             spak_err *err)
{
    if (!out)
        return spak_errf(err, SPAK_ERR_ARG, "sandbox: no result to fill");
    memset(out, 0, sizeof *out);
    out->exit_code = -1;
    out->peak_rss_kb = -1;
    spak_sandbox_proc *p;
    spak_status st = spak_sandbox_start(argv, workdir, lim, NULL, 0, &p, err);
    if (st != SPAK_OK)
        return st;
    return spak_sandbox_finish(p, false, out, err);
}

bool spak_sandbox_uid_reaches(const char *path, char *blocked, size_t n)
{
    char real[PATH_MAX];
    if (geteuid() != 0 || !path || !realpath(path, real))
        return true;
    spak_sandbox_limits lim;
    spak_sandbox_limits_default(&lim);
    pid_t pid = fork();
    if (pid < 0)
        return true; /* no answer: the sandbox's own errors say it later */
    if (pid == 0) {  /* as the uid: each folder from the top, the count of those it entered */
        if (setgroups(0, NULL) || setresgid((gid_t)lim.run_as_gid, (gid_t)lim.run_as_gid, (gid_t)lim.run_as_gid) ||
            setresuid((uid_t)lim.run_as_uid, (uid_t)lim.run_as_uid, (uid_t)lim.run_as_uid))
            _exit(255);
        int k = 0;
        for (char *q = real + 1;; q++) {
            if (*q == '/' || *q == '\0') {
                char c = *q;
                *q = '\0';
                bool ok = access(real, X_OK) == 0;
                *q = c;
                if (!ok)
                    _exit(k < 250 ? k : 250);
                k++;
                if (!c)
                    break;
            }
        }
        _exit(254);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) >= 250)
        return true;
    int fail = WEXITSTATUS(st);  /* folders entered before the one it could not */
    char *q = real + 1;
    for (int k = 0; *q; q++)
        if (*q == '/' && k++ == fail)
            break;
    *q = '\0';
    spak_snprintf(blocked, n, "%s", real[0] ? real : "/");
    return false;
}
