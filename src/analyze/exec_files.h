/*
 * exec_files.h - the files through which a remote executor's job talks to
 * spak: the request (what to run in the sandbox: argv, workdir, limits) that
 * spak writes into the job's folder before it submits the job, and the
 * result (the sandbox result, stdout, stderr) that the job's helper
 * (spak-exec-job, on the compute node) writes back into the same folder on
 * the shared file system. The result's JSON is written last, atomically
 * (temp file + rename): its presence says the other files are complete.
 *
 *   JOB_DIR/request.json   {"argv", "workdir", "limits"}
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

/* Write dir/request.json for argv in workdir under lim. */
spak_status spak_exec_request_write(const char *dir, const char *const *argv, const char *workdir,
                                    const spak_sandbox_limits *lim, spak_err *err);

/* A request read back: argv, workdir and lim point into json (its owner). */
typedef struct spak_exec_request {
    json_t *json;
    const char **argv;        /* NULL-terminated */
    const char *workdir;
    spak_sandbox_limits lim;
    const char **lists;       /* storage of lim's string lists */
} spak_exec_request;

/* Read dir/request.json (at most 1 MiB) into rq; free with
 * spak_exec_request_free. SPAK_ERR_IO or SPAK_ERR_ARG when it is absent or
 * malformed. */
spak_status spak_exec_request_read(const char *dir, spak_exec_request *rq, spak_err *err);
void spak_exec_request_free(spak_exec_request *rq);

/* Write r's output and then dir/result.json (node, euid: where and as whom
 * it ran); with r NULL, {"error": error} only. */
spak_status spak_exec_result_write(const char *dir, const spak_sandbox_result *r, const char *error,
                                   const char *node, long euid, spak_err *err);

/* Whether dir/result.json exists (the job has written its result). */
bool spak_exec_result_ready(const char *dir);

/* Read the result back into out (its out and err from dir/stdout and
 * dir/stderr; the caller frees it with spak_sandbox_result_free) and the
 * node's name into node[node_n] and the uid into *euid. A result that
 * says "error" is SPAK_ERR_SANDBOX with that text; a missing or malformed
 * one SPAK_ERR_IO. */
spak_status spak_exec_result_read(const char *dir, spak_sandbox_result *out, char *node, size_t node_n, long *euid,
                                  spak_err *err);

#endif
