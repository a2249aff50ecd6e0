/* TEMPORARY (removed when trust-spawn is merged): a fork/exec stand-in for
 * spak_sandbox_start/freeze/finish so the judge can be tested before the
 * sandbox API lands. No isolation at all. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze/sandbox.h"

struct spak_sandbox_proc {
    pid_t pid;
};
spak_status spak_sandbox_start(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                               const int *keep_fds, size_t n_keep, struct spak_sandbox_proc **out, spak_err *err);
spak_status spak_sandbox_freeze(struct spak_sandbox_proc *p, bool frozen, const char **how, spak_err *err);
spak_status spak_sandbox_finish(struct spak_sandbox_proc *p, bool kill_now, spak_sandbox_result *out,
                                spak_err *err);

spak_status spak_sandbox_start(const char *const *argv, const char *workdir, const spak_sandbox_limits *lim,
                               const int *keep_fds, size_t n_keep, struct spak_sandbox_proc **out, spak_err *err)
{
    (void)lim;
    (void)err;
    struct spak_sandbox_proc *p = calloc(1, sizeof *p);
    p->pid = fork();
    if (p->pid == 0) {
        setpgid(0, 0);
        if (chdir(workdir)) _exit(127);
        for (size_t i = 0; i < n_keep; i++) dup2(keep_fds[i], 3 + (int)i);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    setpgid(p->pid, p->pid);
    *out = p;
    return SPAK_OK;
}

spak_status spak_sandbox_freeze(struct spak_sandbox_proc *p, bool frozen, const char **how, spak_err *err)
{
    (void)err;
    kill(-p->pid, frozen ? SIGSTOP : SIGCONT);
    if (how) *how = "sigstop";
    return SPAK_OK;
}

spak_status spak_sandbox_finish(struct spak_sandbox_proc *p, bool kill_now, spak_sandbox_result *out,
                                spak_err *err)
{
    (void)err;
    (void)kill_now;
    kill(-p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    memset(out, 0, sizeof *out);
    free(p);
    return SPAK_OK;
}
