/*
 * exec_files.h - the files through which a remote executor's job talks to
 * spak: the request (what to run in the sandbox: argv, workdir, limits) that
 * spak writes into the job's folder before it submits the job, and the
 * result (the sandbox result, stdout, stderr) that the job's helper
 * (spak-exec-job, on the compute node) writes back into the same folder on
 * the shared file system. The result's JSON is written last, atomically
 * (temp file + rename): its presence says the other files are complete.
 *
 *   JOB_DIR/request.json   {"argv", "workdir", "limits", "lock_device"}
 *   JOB_DIR/stdout, stderr the sandbox's captured output (as kept, capped)
 *   JOB_DIR/result.json    every field of spak_sandbox_result but out/err,
 *                          and "node", "euid" (where and as whom it ran), or
 *                          {"error": why} when the sandbox could not start
 */
#ifndef SPAK_EXEC_FILES_H
#define SPAK_EXEC_FILES_H

#include <jansson.h>
#include <stdbool.h>
#include "analyze/sandbox.h"
#include "util.h"

#define SPAK_EXEC_REQUEST "request.json"
#define SPAK_EXEC_RESULT "result.json"

/* Write dir/request.json for argv in workdir under lim; lock_device (may
 * be NULL: none) is the device whose measurement lock the job takes on
 * its node around the run (measure_lock.h). */
spak_status spak_exec_request_write(const char *dir, const char *const *argv, const char *workdir,
                                    const spak_sandbox_limits *lim, const char *lock_device, spak_err *err);

/* A request read back: argv, workdir and lim point into json (its owner). */
typedef struct spak_exec_request {
    json_t *json;
    const char **argv;        /* NULL-terminated */
    const char *workdir;
    spak_sandbox_limits lim;
    const char *lock_device;  /* the measurement lock to take on the node, NULL: none */
    const char **lists;       /* storage of lim's string lists */
} spak_exec_request;

/* Read dir/request.json (at most 1 MiB) into rq; free with
 * spak_exec_request_free. SPAK_ERR_IO or SPAK_ERR_ARG when it is absent or
 * malformed. */
spak_status spak_exec_request_read(const char *dir, spak_exec_request *rq, spak_err *err);
void spak_exec_request_free(spak_exec_request *rq);

/* Where, as whom and when a job ran: the node's host name, the uid the
 * sandbox started as, and the wall clock (seconds since the epoch) from
 * the node's measurement lock taken to the run's end, with the seconds it
 * waited for the lock (0 and 0 without a lock). */
typedef struct spak_exec_node {
    char node[64];
    long euid;       /* the host's uid, also when it ran in a user namespace */
    bool userns;     /* the sandbox ran as root of a user namespace of the user's (userns.h) */
    double from, to, lock_wait_s;
} spak_exec_node;

/* Write r's output and then dir/result.json (with nd); with r NULL,
 * {"error": error} and nd only. */
spak_status spak_exec_result_write(const char *dir, const spak_sandbox_result *r, const char *error,
                                   const spak_exec_node *nd, spak_err *err);

/* Whether dir/result.json exists (the job has written its result). */
bool spak_exec_result_ready(const char *dir);

/* Read the result back into out (its out and err from dir/stdout and
 * dir/stderr; the caller frees it with spak_sandbox_result_free) and where
 * it ran into *nd (euid -1, times 0 when not said). A result that says
 * "error" is SPAK_ERR_SANDBOX with that text; a missing or malformed one
 * SPAK_ERR_IO. */
spak_status spak_exec_result_read(const char *dir, spak_sandbox_result *out, spak_exec_node *nd, spak_err *err);

#endif
