/*
 * executor_slurm.c - the Slurm executor (executor.h): each evaluation is a
 * batch job. start writes the request into the job's folder (exec_files.h)
 * and a two-line script that execs spak-exec-job on it, and submits the
 * script with sbatch (partition, time, account, GPUs from the site); the
 * job runs the sandbox on the compute node and writes its result back into
 * the folder, which the nodes share with spak. finish polls: the result
 * file first, then Slurm's word on the job (squeue -t all while the
 * controller remembers it, sacct after), backing off from 0.25 s to 5 s.
 *
 * Polling rather than `sbatch --wait` in a child: a resumed spak must wait
 * for a job an earlier, killed, process submitted, and only polling can do
 * that; one way for both keeps one path tested. The cost is at most one
 * squeue call per job every 5 s.
 *
 * Slurm does all the placing: no queue, no node choice, no retry here.
 * The commands run with spak's environment (SLURM_CONF included), by
 * posix_spawnp without a shell; the job script quotes its two paths.
 */
#include "analyze/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze/exec_files.h"

extern char **environ;

#define CMD_OUT_MAX 8192
#define CMD_TIMEOUT_S 60.0
/* a job Slurm says COMPLETED whose result file is not there yet: how long
 * to wait for the shared file system to show it */
#define RESULT_GRACE_S 15.0

struct spak_exec_job {
    spak_exec_site *site;
    char dir[PATH_MAX];
};

/* Run argv (no shell) and capture its stdout and stderr (each capped at
 * CMD_OUT_MAX - 1 bytes) within CMD_TIMEOUT_S; *status is its exit status,
 * -1 when it did not exit normally. SPAK_ERR_SANDBOX when it could not
 * start (the Slurm commands are not installed). */
static spak_status run_cmd(const char *const *argv, char out[CMD_OUT_MAX], char errs[CMD_OUT_MAX], int *status,
                           spak_err *err)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    out[0] = errs[0] = '\0';
    *status = -1;
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0)
                close(po[i]);
            if (pe[i] >= 0)
                close(pe[i]);
        }
        return spak_errf(err, SPAK_ERR_SANDBOX, "%s: pipe: %s", argv[0], strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        return spak_errf(err, SPAK_ERR_SANDBOX, "cannot run %s: %s (is Slurm installed and on PATH?)", argv[0],
                         strerror(rc));
    }
    struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    char *bufs[2] = {out, errs};
    size_t lens[2] = {0, 0};
    int open_n = 2;
    double end = spak_now_monotonic() + CMD_TIMEOUT_S;
    while (open_n > 0 && spak_now_monotonic() < end) {
        if (poll(pf, 2, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[1024];
            ssize_t k = read(pf[i].fd, tmp, sizeof tmp);
            if (k <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_n--;
                continue;
            }
            size_t take = (size_t)k < CMD_OUT_MAX - 1 - lens[i] ? (size_t)k : CMD_OUT_MAX - 1 - lens[i];
            memcpy(bufs[i] + lens[i], tmp, take);
            lens[i] += take;
            bufs[i][lens[i]] = '\0';
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0)
            close(pf[i].fd);
    if (open_n > 0)
        kill(pid, SIGKILL);
    int ws;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
    if (open_n > 0)
        return spak_errf(err, SPAK_ERR_SANDBOX, "%s did not answer within %.0f s", argv[0], CMD_TIMEOUT_S);
    return SPAK_OK;
}

/* The first line of s, blanks trimmed, into dst. */
static void first_line(const char *s, char *dst, size_t n)
{
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    size_t k = strcspn(s, "\n");
    while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '\r' || s[k - 1] == '\t'))
        k--;
    spak_snprintf(dst, n, "%.*s", (int)k, s);
}

/* path in single quotes for sh ('\'' for a quote inside). */
static spak_status sh_quote(spak_buf *b, const char *path)
{
    spak_buf_putc(b, '\'');
    for (const char *p = path; *p; p++)
        if (*p == '\'')
            spak_buf_puts(b, "'\\''");
        else
            spak_buf_putc(b, *p);
    return spak_buf_putc(b, '\'');
}

static spak_status write_script(const char *dir, const char *helper, char *script, size_t n, spak_err *err)
{
    if (!spak_snprintf(script, n, "%s/job.sh", dir))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
    spak_buf b;
    spak_buf_init(&b, 4 * PATH_MAX + 256);
    spak_buf_puts(&b, "#!/bin/sh\n# spak: one evaluation, run in spak's sandbox on this node (docs/scale-out.md)\nexec ");
    sh_quote(&b, helper);
    spak_buf_putc(&b, ' ');
    sh_quote(&b, dir);
    spak_status st = spak_buf_putc(&b, '\n');
    if (st == SPAK_OK)
        st = spak_write_file_atomic(script, b.data, b.len, err);
    else
        spak_errf(err, st, "job script: out of memory");
    spak_buf_free(&b);
    if (st == SPAK_OK && chmod(script, 0700) != 0)
        st = spak_errf(err, SPAK_ERR_IO, "%s: chmod: %s", script, strerror(errno));
    return st;
}

static spak_status slurm_cancel(const char *job_id, spak_err *err)
{
    const char *av[] = {"scancel", job_id, NULL};
    char out[CMD_OUT_MAX], errs[CMD_OUT_MAX];
    int status;
    spak_status st = run_cmd(av, out, errs, &status, err);
    if (st == SPAK_OK && status != 0)
        st = spak_errf(err, SPAK_ERR_SANDBOX, "scancel %s failed: %s", job_id, errs);
    return st;
}

/* sbatch the script with the site's options; the job's id into id. */
static spak_status submit(const spak_exec_site *site, const char *dir, const char *script, char *id, size_t id_n,
                          spak_err *err)
{
    char name[96], output[PATH_MAX + 16], chdir_a[PATH_MAX + 16], o[4][256];
    const char *base = strrchr(dir, '/');
    spak_snprintf(name, sizeof name, "--job-name=spak-%s", base ? base + 1 : dir);
    spak_snprintf(output, sizeof output, "--output=%s/slurm.out", dir);
    spak_snprintf(chdir_a, sizeof chdir_a, "--chdir=%s", dir);
    const char *av[12] = {"sbatch", "--parsable", name, output, chdir_a};
    size_t k = 5;
    const char *flags[4] = {"--partition", "--time", "--account", "--gpus"};
    const char *vals[4] = {site->slurm.partition, site->slurm.time, site->slurm.account, site->slurm.gpus};
    for (int i = 0; i < 4; i++)
        if (vals[i] && vals[i][0] && spak_snprintf(o[i], sizeof o[i], "%s=%s", flags[i], vals[i]))
            av[k++] = o[i];
    av[k++] = script;
    av[k] = NULL;
    char out[CMD_OUT_MAX], errs[CMD_OUT_MAX], line[128];
    int status;
    spak_status st = run_cmd(av, out, errs, &status, err);
    if (st != SPAK_OK)
        return st;
    first_line(out, line, sizeof line);
    line[strcspn(line, ";")] = '\0';  /* "ID;cluster" on a federation */
    if (status != 0 || !line[0] || strspn(line, "0123456789_") != strlen(line)) {
        first_line(errs, line, sizeof line);
        return spak_errf(err, SPAK_ERR_SANDBOX, "sbatch refused the job: %s", line[0] ? line : "(no message)");
    }
    spak_snprintf(id, id_n, "%s", line);
    return SPAK_OK;
}

static spak_status slurm_start(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                               spak_exec_site *site, spak_exec_job **job, spak_err *err)
{
    if (!site || !site->job_dir || !site->helper)
        return spak_errf(err, SPAK_ERR_ARG, "the slurm executor needs a job folder and spak-exec-job");
    spak_exec_job *j = calloc(1, sizeof *j);
    if (!j)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    j->site = site;
    site->job_id[0] = site->state[0] = site->node[0] = '\0';
    site->node_euid = -1;
    char script[PATH_MAX];
    spak_status st = spak_snprintf(j->dir, sizeof j->dir, "%s", site->job_dir)
                         ? spak_mkdirs(j->dir, err)
                         : spak_errf(err, SPAK_ERR_ARG, "%s: path too long", site->job_dir);
    if (st == SPAK_OK && chmod(j->dir, 0700) != 0)
        st = spak_errf(err, SPAK_ERR_IO, "%s: chmod: %s", j->dir, strerror(errno));
    if (st == SPAK_OK)
        st = spak_exec_request_write(j->dir, argv, workdir, lim, site->lock_device, err);
    if (st == SPAK_OK)
        st = write_script(j->dir, site->helper, script, sizeof script, err);
    if (st != SPAK_OK) {
        free(j);
        return st;
    }
    spak_executor_in_flight(1);  /* from here a SIGINT cancels the job instead of ending spak */
    st = submit(site, j->dir, script, site->job_id, sizeof site->job_id, err);
    if (st == SPAK_OK && site->submitted)
        st = site->submitted(site->ud, site->job_id, j->dir, err);
    if (st != SPAK_OK) {
        if (site->job_id[0])  /* not journaled: nobody could find it again */
            (void)slurm_cancel(site->job_id, NULL);
        spak_executor_in_flight(-1);
        free(j);
        return st;
    }
    *job = j;
    return SPAK_OK;
}

static spak_status slurm_attach(spak_exec_site *site, spak_exec_job **job, spak_err *err)
{
    spak_exec_job *j = calloc(1, sizeof *j);
    if (!j)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    if (!spak_snprintf(j->dir, sizeof j->dir, "%s", site->job_dir)) {
        free(j);
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", site->job_dir);
    }
    j->site = site;
    site->state[0] = site->node[0] = '\0';
    site->node_euid = -1;
    spak_executor_in_flight(1);
    *job = j;
    return SPAK_OK;
}

/* Slurm's states after which a job runs no more (squeue/sacct names). */
static bool state_final(const char *s)
{
    static const char *const fin[] = {"COMPLETED", "CANCELLED",     "FAILED",   "TIMEOUT", "PREEMPTED",
                                      "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(fin); i++)
        if (strcmp(s, fin[i]) == 0)
            return true;
    return false;
}

/* What Slurm says of a job. */
typedef enum { JOB_KNOWN, JOB_GONE, JOB_UNREACHABLE } job_word;

/* The job's state into state[n]: squeue (all states, while the controller
 * keeps the job: MinJobAge), else sacct (the accounting database).
 * JOB_GONE: neither knows it (squeue: "Invalid job id"; sacct empty or
 * disabled); JOB_UNREACHABLE: the controller did not answer (a restart, a
 * network fault): the caller waits on rather than fail a job that may
 * well be running. "CANCELLED by 1000" is CANCELLED. */
static job_word job_state(const char *id, char *state, size_t n)
{
    char out[CMD_OUT_MAX], errs[CMD_OUT_MAX];
    int status;
    state[0] = '\0';
    const char *sq[] = {"squeue", "-h", "-t", "all", "-j", id, "-o", "%T", NULL};
    if (run_cmd(sq, out, errs, &status, NULL) != SPAK_OK)
        return JOB_UNREACHABLE;
    if (status == 0)
        first_line(out, state, n);
    else if (!strstr(errs, "Invalid job id"))
        return JOB_UNREACHABLE;
    if (!state[0]) {
        const char *sa[] = {"sacct", "-n", "-X", "-P", "-j", id, "-o", "State", NULL};
        if (run_cmd(sa, out, errs, &status, NULL) == SPAK_OK && status == 0)
            first_line(out, state, n);
    }
    state[strcspn(state, " +")] = '\0';
    return state[0] ? JOB_KNOWN : JOB_GONE;
}

/* A result for a job that ended without writing one: failed, with Slurm's
 * state, and the job's own output (slurm.out) as stderr. */
static spak_status cluster_failure(spak_exec_job *j, const char *state, spak_sandbox_result *out, spak_err *err)
{
    memset(out, 0, sizeof *out);
    out->exit_code = -1;
    out->peak_rss_kb = -1;
    out->run_uid = -1;
    out->why = strcmp(state, "TIMEOUT") == 0         ? SPAK_SANDBOX_TIMEOUT
               : strcmp(state, "OUT_OF_MEMORY") == 0 ? SPAK_SANDBOX_MEMORY_LIMIT
                                                     : SPAK_SANDBOX_KILLED;
    spak_snprintf(out->why_text, sizeof out->why_text, "slurm job %s ended %s without a result%s", j->site->job_id,
                  state[0] ? state : "(state unknown to squeue and sacct)",
                  strcmp(state, "TIMEOUT") == 0 ? " (its time limit)" : "");
    char path[PATH_MAX];
    spak_snprintf(path, sizeof path, "%s/slurm.out", j->dir);
    if (spak_read_file(path, 64 << 10, &out->err, &out->err_len, NULL) != SPAK_OK) {
        out->err = strdup("");
        out->err_len = 0;
    }
    out->out = strdup("");
    if (!out->out || !out->err) {
        spak_sandbox_result_free(out);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    return SPAK_OK;
}

static void nap(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !spak_executor_interrupted())
        ;
}

static spak_status slurm_finish(spak_exec_job *j, spak_sandbox_result *out, spak_err *err)
{
    spak_exec_site *site = j->site;
    double backoff = 0.25, grace_end = 0;
    spak_status st = SPAK_OK;
    for (;;) {
        if (spak_executor_interrupted()) {
            (void)slurm_cancel(site->job_id, NULL);
            spak_snprintf(site->state, sizeof site->state, "CANCELLED");
            st = spak_errf(err, SPAK_ERR_STATE, "interrupted: slurm job %s cancelled", site->job_id);
            break;
        }
        if (spak_exec_result_ready(j->dir)) {
            spak_exec_node nd;
            st = spak_exec_result_read(j->dir, out, &nd, err);
            spak_snprintf(site->node, sizeof site->node, "%s", nd.node);
            site->node_euid = nd.euid;
            site->node_userns = nd.userns;
            site->measured_from = nd.from, site->measured_to = nd.to, site->lock_wait_s = nd.lock_wait_s;
            if (!site->state[0])
                spak_snprintf(site->state, sizeof site->state, "COMPLETED");
            break;
        }
        char state[SPAK_EXEC_STATE_MAX];
        job_word w = job_state(site->job_id, state, sizeof state);
        if (w == JOB_GONE || (w == JOB_KNOWN && state_final(state))) {
            spak_snprintf(site->state, sizeof site->state, "%s", state);
            /* the result may still be on its way through the shared file system */
            if (grace_end == 0)
                grace_end = spak_now_monotonic() + (strcmp(state, "COMPLETED") == 0 ? RESULT_GRACE_S : 1.0);
            if (spak_now_monotonic() >= grace_end) {
                if (!spak_exec_result_ready(j->dir)) {
                    st = cluster_failure(j, state, out, err);
                    break;
                }
                continue;
            }
        }
        nap(backoff);
        backoff = backoff * 1.5 < 5.0 ? backoff * 1.5 : 5.0;
    }
    spak_executor_in_flight(-1);
    free(j);
    return st;
}

/* Whether s, not empty and at most 64 bytes, has only chars of set. */
const spak_executor spak_executor_slurm = {"slurm", slurm_start, slurm_finish, slurm_attach, slurm_cancel, false};
