/*
 * spak-exec-job JOB_DIR - the job side of a remote executor (the Slurm job's
 * script execs it on the compute node): reads JOB_DIR/request.json, runs it
 * in spak's sandbox there (the same layers as a local evaluation, as far as
 * the node's kernel and the user it runs as allow), and writes the result
 * back into JOB_DIR (analyze/exec_files.h), holding the node's measurement
 * lock of the request's device around the run (analyze/measure_lock.h;
 * SPAK_LOCK_DIR, else /var/tmp/spak-locks: the node's own), so that two
 * jobs on one node never time at once, nor a job and a local run. Exit
 * status 0 when the result
 * was written (whatever the sandboxed program did), 1 when it could not be.
 * It prints only when it cannot write the result (to the job's stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze/exec_files.h"
#include "analyze/measure_lock.h"
#include "analyze/userns.h"
#include "analyze/sandbox.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: spak-exec-job JOB_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char node[256] = "";
    (void)gethostname(node, sizeof node - 1);
    spak_err err = {0};
    spak_exec_request rq;
    spak_sandbox_result r;
    spak_exec_node nd = {.euid = (long)geteuid()};
    spak_snprintf(nd.node, sizeof nd.node, "%s", node);
    /* not root (a cluster's user): root of a user namespace of the user's,
     * where the sandbox has its layers again (analyze/userns.h); else the
     * user's own uid for the candidates too */
    char how[128];
    spak_err uerr = {0};
    if (geteuid() != 0)
        nd.userns = spak_userns_enter(how, sizeof how, &uerr) == SPAK_OK;
    spak_status st = spak_exec_request_read(dir, &rq, &err);
    if (st == SPAK_OK && geteuid() != 0 && rq.lim.run_as_uid >= 0 && (uid_t)rq.lim.run_as_uid != geteuid())
        rq.lim.run_as_uid = rq.lim.run_as_gid = -1;
    if (!nd.userns && uerr.msg[0])
        fprintf(stderr, "spak-exec-job: no user namespace: %s\n", uerr.msg);  /* into the job's slurm.out */
    spak_mlock l = {.fd = -1};
    if (st == SPAK_OK && rq.lock_device) {
        const char *ldir = getenv("SPAK_LOCK_DIR");
        const char *job = getenv("SLURM_JOB_ID");
        char who[SPAK_MLOCK_WHO_MAX];
        snprintf(who, sizeof who, "pid %ld, slurm job %s", (long)getpid(), job ? job : "?");
        st = spak_mlock_take(ldir && *ldir ? ldir : NULL, rq.lock_device, true, who, NULL, NULL, &l, &err);
        if (st != SPAK_OK)
            spak_exec_request_free(&rq);
        nd.lock_wait_s = l.waited_s;
    }
    nd.from = spak_now_wall();
    if (st == SPAK_OK) {
        st = spak_sandbox_run(rq.argv, rq.workdir, &rq.lim, &r, &err);
        spak_exec_request_free(&rq);
    }
    nd.to = spak_now_wall();
    spak_mlock_release(&l);
    spak_err werr = {0};
    spak_status ws = spak_exec_result_write(dir, st == SPAK_OK ? &r : NULL, err.msg, &nd, &werr);
    if (st == SPAK_OK)
        spak_sandbox_result_free(&r);
    if (ws != SPAK_OK) {
        fprintf(stderr, "spak-exec-job: %s\n", werr.msg);
        return 1;
    }
    return 0;
}
