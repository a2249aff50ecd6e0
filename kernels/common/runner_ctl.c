/*
 * kernels/common/runner_ctl.c - a judge's side of one runner
 * (runner_ctl.h): the runner is started through libspak's sandbox
 * (spak_sandbox_start: PID, network and mount namespaces, Landlock,
 * rlimits, the unprivileged uid and the syscall filter), frozen and thawed
 * through spak_sandbox_freeze (a cgroup freezer, else SIGSTOP to its whole
 * PID namespace), ended with spak_sandbox_finish. The judge talks to it over
 * a SOCK_SEQPACKET socketpair (runner_proto.h); the runner's stdout and
 * stderr are the sandbox's capped capture, a log only.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "analyze/sandbox.h"
#include "runner_ctl.h"
#include "util.h"
#include "runner_proto.h"

struct spak_runner {
    spak_sandbox_proc *proc;
    int sock; /* the judge's end */
    bool frozen;
    const char *how;
    const char *prog;
    char workdir[256];
};

double spak_runner_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* sends m (n bytes) with fds[0..nfd) */
static int send_fds(int sock, const void *m, size_t n, const int *fds, int nfd)
{
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    memset(&cm, 0, sizeof cm);
    struct iovec iov = {(void *)m, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfd > 0) {
        mh.msg_control = cm.b;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
    }
    ssize_t s;
    do s = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (s < 0 && errno == EINTR);
    return s == (ssize_t)n ? 0 : -1;
}

/* Receives one message into buf (cap bytes) within timeout_s; returns its
 * length, 0 when the runner closed the socket (it ended), -1 on timeout or
 * error. Any fds it sent are closed: a runner has no business sending any. */
static ssize_t recv_within(int sock, void *buf, size_t cap, double timeout_s)
{
    double end = spak_runner_now() + timeout_s;
    for (;;) {
        double left = end - spak_runner_now();
        if (left <= 0) return -1;
        struct pollfd p = {sock, POLLIN, 0};
        int pr = poll(&p, 1, left > 1e6 ? 1000000000 : (int)(left * 1e3) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        char cbuf[CMSG_SPACE(sizeof(int) * 8)];
        struct iovec iov = {buf, cap};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        for (struct cmsghdr *c = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                    close(fd);
                }
        return n;
    }
}

/* the .so copied into a memfd sealed against any change; -1 on error */
static int sealed_copy(const char *path)
{
    int src = open(path, O_RDONLY | O_CLOEXEC), mfd = -1;
    if (src < 0) return -1;
    mfd = memfd_create("kernel.so", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    char buf[1 << 16];
    ssize_t n = 0;
    while (mfd >= 0 && (n = read(src, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || write(mfd, buf, (size_t)n) != n) break;
    }
    close(src);
    if (mfd >= 0 && (n != 0 || fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))) {
        close(mfd);
        return -1;
    }
    return mfd;
}

#define RUNNER_BUDGET ((size_t)256 << 20)

static void say(char *why, size_t n, const char *fmt, const char *a, const char *b)
{
    if (why && n) snprintf(why, n, fmt, a, b);
}

/* the limits of a runner: the sandbox's defaults (the unprivileged uid when
 * root, no network, writes only in workdir) with room for a long evaluation;
 * the judge bounds every call itself */
static void runner_limits(spak_sandbox_limits *lim, const spak_runner_opts *o)
{
    spak_sandbox_limits_default(lim);
    /* spak gives each evaluation in flight its own uid (--sandbox-uids):
     * runners of two judges at once never share a uid, an RLIMIT_NPROC
     * count or each other's files */
    long uid;
    const char *u = getenv("SPAK_SANDBOX_UID");
    if (u && geteuid() == 0 && spak_parse_long(u, 1, 0x7ffffffeL, &uid))
        lim->run_as_uid = lim->run_as_gid = uid;
    /* RLIMIT_NPROC counts the threads of every runner of this uid: the
     * baseline's OpenBLAS pool (a thread a core), its twin's (the CPU judge's
     * reference, timing.c) and a candidate's own pool, with room to spare;
     * the sandbox's default of 64 left a 32-core machine's candidate none */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (lim->max_processes < 4 * ncpu + 16) lim->max_processes = 4 * ncpu + 16;
    lim->wall_timeout_s = 3600;
    lim->cpu_s = 3600;
    /* the CUDA driver reserves far more virtual memory than it uses */
    lim->address_space_bytes = o->gpu ? 0 : (size_t)32 << 30;
    lim->stdout_cap_bytes = 16 << 10;
    lim->stderr_cap_bytes = 16 << 10;
    lim->closed_stdout_grace_s = 0; /* a runner may close its stdout */
    /* a runner writes nothing the judge needs: a small budget, not copied back */
    lim->workdir_bytes = RUNNER_BUDGET;
    lim->workdir_discard = true;
    lim->env_extra = o->env;
    /* set on machines whose OpenBLAS misdetects the core (it then computes
     * wrong results or crashes): the in-process baseline inherited them, a
     * runner must too; the same for both sides. CUDA_VISIBLE_DEVICES: the
     * runner sees the judge's device. */
    static const char *const pass[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "CUDA_VISIBLE_DEVICES", NULL};
    lim->env_pass = pass;
}

int spak_runner_send(spak_runner *r, const void *m, size_t n, const int *fds, int nfd)
{
    /* a CPU runner stops itself after each answer: let it read this one */
    spak_sandbox_continue(r->proc);
    return send_fds(r->sock, m, n, fds, nfd);
}

void spak_runner_continue(spak_runner *r)
{
    spak_sandbox_continue(r->proc);
}

int spak_runner_wait_stopped(spak_runner *r, double timeout_s)
{
    return spak_sandbox_wait_stopped(r->proc, timeout_s);
}

ssize_t spak_runner_recv(spak_runner *r, void *buf, size_t cap, double timeout_s)
{
    return recv_within(r->sock, buf, cap, timeout_s);
}

int spak_runner_start(const char *runner_exe, const char *so_path, const char *family, const spak_runner_opts *o,
                      spak_runner **out, char *name, size_t nname, char *prec, size_t nprec, char *why, size_t nwhy)
{
    *out = NULL;
    name[0] = prec[0] = 0;
    spak_runner *r = calloc(1, sizeof *r);
    int sv[2] = {-1, -1}, so = -1, rc = 4;
    if (!r) return 4;
    r->sock = -1;
    r->prog = o->log_prog ? o->log_prog : "judge";
    const char *tmp = getenv("TMPDIR");
    snprintf(r->workdir, sizeof r->workdir, "%s/spak-runner.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(r->workdir)) {
        say(why, nwhy, "cannot make a runner directory in %s%s", tmp && *tmp ? tmp : "/tmp", "");
        r->workdir[0] = 0;
        goto out;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
        say(why, nwhy, "socketpair: %s%s", strerror(errno), "");
        goto out;
    }
    spak_sandbox_limits lim;
    runner_limits(&lim, o);
    const char *path_argv[] = {runner_exe, NULL};
    spak_err err;
    memset(&err, 0, sizeof err);
    if (spak_sandbox_start(path_argv, r->workdir, &lim, &sv[1], 1, &r->proc, &err) != SPAK_OK) {
        say(why, nwhy, "cannot start the runner: %s%s", err.msg, "");
        goto out;
    }
    close(sv[1]);
    sv[1] = -1;
    r->sock = sv[0];
    sv[0] = -1;
    rc = 3;
    if ((so = sealed_copy(so_path)) < 0) {
        say(why, nwhy, "cannot load %s: %s", so_path, strerror(errno));
        goto out;
    }
    rp_load m;
    memset(&m, 0, sizeof m);
    m.h = (rp_head){RP_MAGIC, RP_LOAD};
    snprintf(m.family, sizeof m.family, "%s", family);
    rp_ready rd;
    ssize_t n = -1;
    if (send_fds(r->sock, &m, sizeof m, &so, 1) == 0) n = recv_within(r->sock, &rd, sizeof rd, 60);
    if (n != (ssize_t)sizeof rd || rd.h.magic != RP_MAGIC || rd.h.kind != RP_READY) {
        say(why, nwhy, "cannot load %s: the runner ended or answered out of protocol%s", so_path, "");
        goto out;
    }
    rd.msg[sizeof rd.msg - 1] = rd.name[sizeof rd.name - 1] = rd.precision[sizeof rd.precision - 1] = 0;
    if (rd.rc != 0) {
        say(why, nwhy, "cannot load %s: %s", so_path, rd.msg);
        goto out;
    }
    snprintf(name, nname, "%s", rd.name);
    snprintf(prec, nprec, "%s", rd.precision);
    if (spak_runner_freeze(r, true)) {
        say(why, nwhy, "cannot freeze the runner of %s%s", so_path, "");
        rc = 4;
        goto out;
    }
    *out = r;
    r = NULL;
    rc = 0;
out:
    if (so >= 0) close(so);
    for (int i = 0; i < 2; i++)
        if (sv[i] >= 0) close(sv[i]);
    if (r) (void)spak_runner_stop(r, "runner", NULL, 0); /* it failed to start: the caller reports that */
    return rc;
}

int spak_runner_freeze(spak_runner *r, bool frozen)
{
    if (r->frozen == frozen) return 0;
    spak_err err;
    if (spak_sandbox_freeze(r->proc, frozen, &r->how, &err) != SPAK_OK) return -1;
    r->frozen = frozen;
    return 0;
}

int spak_runner_cpu_usage(spak_runner *r, uint64_t *ns, const char **how)
{
    spak_err err;
    return spak_sandbox_cpu_usage(r->proc, ns, how, &err) == SPAK_OK ? 0 : -1;
}

int spak_runner_child_cpu(spak_runner *r, uint64_t *ns)
{
    spak_err err;
    return spak_sandbox_child_cpu(r->proc, ns, &err) == SPAK_OK ? 0 : -1;
}

const char *spak_runner_freeze_how(const spak_runner *r)
{
    return r->how ? r->how : "none";
}

bool spak_runner_frozen(const spak_runner *r)
{
    return r->frozen;
}

/* prints text (n bytes) to stderr, each line prefixed, control bytes as '?' */
static void log_lines(const char *prog, const char *label, const char *what, const char *text, size_t n)
{
    if (!text || !n) return;
    fprintf(stderr, "%s: %s %s (log, not records):\n", prog, label, what);
    bool bol = true;
    for (size_t i = 0; i < n; i++) {
        if (bol) fprintf(stderr, "  | ");
        char ch = text[i];
        bol = ch == '\n';
        fputc(bol || (ch >= 0x20 && ch < 0x7f) ? ch : '?', stderr);
    }
    if (!bol) fputc('\n', stderr);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

int spak_runner_denied(spak_runner *r, const char *label, char *why, size_t n)
{
    char name[64];
    if (!r || !r->proc || !spak_sandbox_denied(r->proc, name, sizeof name)) return 0;
    snprintf(why, n, "the %s's syscall denied: %s", label, name);
    return 1;
}

int spak_runner_stop(spak_runner *r, const char *label, char *why, size_t nwhy)
{
    int bad = 0;
    if (why && nwhy) why[0] = '\0';
    if (!r) return 0;
    if (r->sock >= 0) close(r->sock);
    if (r->proc) {
        spak_sandbox_result res;
        spak_err err;
        if (r->frozen) spak_sandbox_freeze(r->proc, false, NULL, &err);
        if (spak_sandbox_finish(r->proc, true, &res, &err) == SPAK_OK) {
            log_lines(r->prog, label, "stdout", res.out, res.out_len);
            log_lines(r->prog, label, "stderr", res.err, res.err_len);
            char missing[256];
            if (res.why == SPAK_SANDBOX_SYSCALL_DENIED) {
                bad = -1;
                say(why, nwhy, "the %s's %s", label, res.why_text);
            } else if (res.budget_full) {
                /* what it wrote was bounded; that it tried is a verdict */
                bad = -1;
                if (why && nwhy)
                    snprintf(why, nwhy, "the %s exhausted its byte budget of %zu MiB (%s): writes past it failed "
                             "with ENOSPC", label, RUNNER_BUDGET >> 20,
                             res.budget_full & SPAK_SANDBOX_BUDGET_BYTES ? "no bytes left" : "no files left");
            } else if (!spak_sandbox_isolation_ok(&res, missing, sizeof missing)) {
                bad = -1;
                say(why, nwhy, "the %s ran with isolation below the minimum: no %s", label, missing);
            }
            spak_sandbox_result_free(&res);
        }
    }
    /* whatever the runner left in its directory goes with it */
    if (r->workdir[0]) nftw(r->workdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    free(r);
    return bad;
}
