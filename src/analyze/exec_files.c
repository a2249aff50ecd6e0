/* exec_files.c - the request and result files of a remote executor's job
 * (exec_files.h). Both sides are spak's own code; the files are still read
 * as outside input (capped, every field type-checked), since they cross a
 * shared file system. */
#include "analyze/exec_files.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUEST_MAX (1u << 20)
#define RESULT_MAX (64u << 10)
#define OUTPUT_MAX ((size_t)80 << 20) /* the sandbox keeps 1 MiB of stdout by default; a caller may ask more */

typedef enum { F_DOUBLE, F_SIZE, F_LONG, F_BOOL, F_INT, F_UINT } ftype;
typedef struct field {
    const char *name;
    ftype type;
    size_t off;
} field;

#define LF(name, type) {#name, type, offsetof(spak_sandbox_limits, name)}
static const field limit_fields[] = {
    LF(wall_timeout_s, F_DOUBLE), LF(cpu_s, F_DOUBLE), LF(address_space_bytes, F_SIZE),
    LF(file_size_bytes, F_SIZE), LF(max_open_files, F_LONG), LF(max_processes, F_LONG),
    LF(stdout_cap_bytes, F_SIZE), LF(stderr_cap_bytes, F_SIZE), LF(output_kill_bytes, F_SIZE),
    LF(closed_stdout_grace_s, F_DOUBLE), LF(network, F_BOOL), LF(run_as_uid, F_LONG), LF(run_as_gid, F_LONG),
    LF(workdir_bytes, F_SIZE), LF(workdir_discard, F_BOOL), LF(isolation_off, F_UINT),
};

#define RF(name, type) {#name, type, offsetof(spak_sandbox_result, name)}
static const field result_fields[] = {
    RF(ok, F_BOOL), RF(why, F_INT), RF(exit_code, F_INT), RF(term_signal, F_INT), RF(wall_s, F_DOUBLE),
    RF(cpu_s, F_DOUBLE), RF(peak_rss_kb, F_LONG), RF(out_truncated, F_BOOL), RF(err_truncated, F_BOOL),
    RF(out_total, F_SIZE), RF(err_total, F_SIZE), RF(stdout_closed_early, F_BOOL), RF(marker_seen, F_BOOL),
    RF(denied_count, F_UINT), RF(iso_pidns, F_BOOL), RF(iso_netns, F_BOOL), RF(iso_landlock_fs, F_BOOL),
    RF(iso_landlock_net, F_BOOL), RF(iso_mountns, F_BOOL), RF(iso_uid, F_BOOL), RF(iso_seccomp, F_BOOL),
    RF(iso_seccomp_notify, F_BOOL), RF(iso_rlimits, F_BOOL), RF(iso_budget, F_BOOL),
    RF(iso_landlock_read, F_BOOL), RF(budget_full, F_UINT), RF(run_uid, F_LONG),
};

static void put_fields(json_t *o, const void *base, const field *f, size_t n)
{
    const char *b = base;
    for (size_t i = 0; i < n; i++) {
        const void *p = b + f[i].off;
        json_t *v = NULL;
        switch (f[i].type) {
        case F_DOUBLE: v = json_real(*(const double *)p); break;
        case F_SIZE: v = json_integer((json_int_t) * (const size_t *)p); break;
        case F_LONG: v = json_integer(*(const long *)p); break;
        case F_BOOL: v = json_boolean(*(const bool *)p); break;
        case F_INT: v = json_integer(*(const int *)p); break;
        case F_UINT: v = json_integer(*(const unsigned *)p); break;
        }
        json_object_set_new(o, f[i].name, v);
    }
}

/* Fields of o into base; a field that is absent keeps its value, one of
 * the wrong type or out of range fails. */
static bool get_fields(const json_t *o, void *base, const field *f, size_t n)
{
    char *b = base;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(o, f[i].name);
        if (!v)
            continue;
        void *p = b + f[i].off;
        if (f[i].type == F_BOOL) {
            if (!json_is_boolean(v))
                return false;
            *(bool *)p = json_is_true(v);
            continue;
        }
        if (f[i].type == F_DOUBLE) {
            if (!json_is_number(v))
                return false;
            *(double *)p = json_number_value(v);
            continue;
        }
        if (!json_is_integer(v))
            return false;
        json_int_t x = json_integer_value(v);
        switch (f[i].type) {
        case F_SIZE: if (x < 0) return false; *(size_t *)p = (size_t)x; break;
        case F_LONG: *(long *)p = (long)x; break;
        case F_INT: if (x < INT_MIN || x > INT_MAX) return false; *(int *)p = (int)x; break;
        case F_UINT: if (x < 0 || x > UINT_MAX) return false; *(unsigned *)p = (unsigned)x; break;
        default: return false;
        }
    }
    return true;
}

static json_t *str_list(const char *const *v)
{
    if (!v)
        return json_null();
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static spak_status write_json(const char *dir, const char *name, json_t *o, spak_err *err)
{
    char path[PATH_MAX];
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    spak_status st = spak_snprintf(path, sizeof path, "%s/%s", dir, name)
                         ? spak_write_file_atomic(path, text, strlen(text), err)
                         : spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
    free(text);
    return st;
}

spak_status spak_exec_request_write(const char *dir, const char *const *argv, const char *workdir,
                                    const spak_sandbox_limits *lim, const char *lock_device, spak_err *err)
{
    json_t *l = json_object();
    put_fields(l, lim, limit_fields, SPAK_ARRAY_LEN(limit_fields));
    json_object_set_new(l, "env_pass", str_list(lim->env_pass));
    json_object_set_new(l, "env_extra", str_list(lim->env_extra));
    json_object_set_new(l, "rw_dirs", str_list(lim->rw_dirs));
    json_object_set_new(l, "read_dirs", str_list(lim->read_dirs));
    json_object_set_new(l, "result_marker", lim->result_marker ? json_string(lim->result_marker) : json_null());
    json_t *o = json_pack("{s:o,s:s,s:o}", "argv", str_list(argv), "workdir", workdir, "limits", l);
    if (!o)
        return spak_errf(err, SPAK_ERR_ARG, "request: argv or workdir is not text");
    if (lock_device)
        json_object_set_new(o, "lock_device", json_string(lock_device));
    return write_json(dir, SPAK_EXEC_REQUEST, o, err);
}

/* A list of strings of j (null: NULL) into lists from *k on, NULL-terminated. */
static bool take_list(const json_t *j, const char **lists, size_t *k, size_t cap, const char *const **out)
{
    *out = NULL;
    if (!j || json_is_null(j))
        return true;
    if (!json_is_array(j) || json_array_size(j) + 1 > cap - *k)
        return false;
    *out = lists + *k;
    size_t i;
    json_t *s;
    json_array_foreach(j, i, s) {
        if (!json_is_string(s))
            return false;
        lists[(*k)++] = json_string_value(s);
    }
    lists[(*k)++] = NULL;
    return true;
}

spak_status spak_exec_request_read(const char *dir, spak_exec_request *rq, spak_err *err)
{
    memset(rq, 0, sizeof *rq);
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    if (!spak_snprintf(path, sizeof path, "%s/%s", dir, SPAK_EXEC_REQUEST))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
    spak_status st = spak_read_file(path, REQUEST_MAX, &text, &len, err);
    if (st != SPAK_OK)
        return st;
    rq->json = json_loadb(text, len, 0, NULL);
    free(text);
    const json_t *argv = json_object_get(rq->json, "argv"), *l = json_object_get(rq->json, "limits");
    rq->workdir = json_string_value(json_object_get(rq->json, "workdir"));
    size_t cap = json_array_size(argv) + 4 * 34 + 8, k = 0;
    rq->lists = calloc(cap, sizeof *rq->lists);
    spak_sandbox_limits_default(&rq->lim);
    const char *const *av = NULL;
    bool ok = rq->lists && rq->workdir && json_is_object(l) && json_array_size(argv) > 0 &&
              take_list(argv, rq->lists, &k, cap, &av) &&
              get_fields(l, &rq->lim, limit_fields, SPAK_ARRAY_LEN(limit_fields)) &&
              take_list(json_object_get(l, "env_pass"), rq->lists, &k, cap, &rq->lim.env_pass) &&
              take_list(json_object_get(l, "env_extra"), rq->lists, &k, cap, &rq->lim.env_extra) &&
              take_list(json_object_get(l, "rw_dirs"), rq->lists, &k, cap, &rq->lim.rw_dirs) &&
              take_list(json_object_get(l, "read_dirs"), rq->lists, &k, cap, &rq->lim.read_dirs);
    rq->argv = (const char **)av;
    rq->lim.result_marker = json_string_value(json_object_get(l, "result_marker"));
    rq->lock_device = json_string_value(json_object_get(rq->json, "lock_device"));
    if (!ok) {
        spak_exec_request_free(rq);
        return spak_errf(err, SPAK_ERR_ARG, "%s: not a request spak wrote (argv, workdir, limits)", path);
    }
    return SPAK_OK;
}

void spak_exec_request_free(spak_exec_request *rq)
{
    json_decref(rq->json);
    free(rq->lists);
    memset(rq, 0, sizeof *rq);
}

spak_status spak_exec_result_write(const char *dir, const spak_sandbox_result *r, const char *error,
                                   const spak_exec_node *nd, spak_err *err)
{
    char path[PATH_MAX];
    json_t *o = json_pack("{s:s,s:I,s:b,s:f,s:f,s:f}", "node", nd->node, "euid", (json_int_t)nd->euid, "userns",
                          nd->userns, "from", nd->from, "to", nd->to, "lock_wait_s", nd->lock_wait_s);
    if (!r) {
        json_object_set_new(o, "error", json_string(error ? error : "the sandbox could not start"));
        return write_json(dir, SPAK_EXEC_RESULT, o, err);
    }
    const char *names[2] = {"stdout", "stderr"};
    const char *data[2] = {r->out, r->err};
    size_t lens[2] = {r->out_len, r->err_len};
    for (int i = 0; i < 2; i++) {
        spak_status st = spak_snprintf(path, sizeof path, "%s/%s", dir, names[i])
                             ? spak_write_file_atomic(path, data[i] ? data[i] : "", data[i] ? lens[i] : 0, err)
                             : spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
        if (st != SPAK_OK)
            return json_decref(o), st;
    }
    put_fields(o, r, result_fields, SPAK_ARRAY_LEN(result_fields));
    json_object_set_new(o, "why_text", json_string(r->why_text));
    json_object_set_new(o, "warnings", json_string(r->warnings));
    json_object_set_new(o, "denied_syscall", json_string(r->denied_syscall));
    return write_json(dir, SPAK_EXEC_RESULT, o, err);
}

bool spak_exec_result_ready(const char *dir)
{
    char path[PATH_MAX];
    return spak_snprintf(path, sizeof path, "%s/%s", dir, SPAK_EXEC_RESULT) && access(path, F_OK) == 0;
}

static void copy_text(char *dst, size_t n, const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    spak_snprintf(dst, n, "%s", s ? s : "");
}

static double num(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_number(v) ? json_number_value(v) : 0;
}

spak_status spak_exec_result_read(const char *dir, spak_sandbox_result *out, spak_exec_node *nd, spak_err *err)
{
    memset(out, 0, sizeof *out);
    memset(nd, 0, sizeof *nd);
    nd->euid = -1;
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    if (!spak_snprintf(path, sizeof path, "%s/%s", dir, SPAK_EXEC_RESULT))
        return spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
    spak_status st = spak_read_file(path, RESULT_MAX, &text, &len, err);
    if (st != SPAK_OK)
        return st;
    json_t *o = json_loadb(text, len, 0, NULL);
    free(text);
    if (!json_is_object(o)) {
        json_decref(o);
        return spak_errf(err, SPAK_ERR_IO, "%s: not JSON", path);
    }
    copy_text(nd->node, sizeof nd->node, o, "node");
    if (json_is_integer(json_object_get(o, "euid")))
        nd->euid = (long)json_integer_value(json_object_get(o, "euid"));
    nd->from = num(o, "from"), nd->to = num(o, "to"), nd->lock_wait_s = num(o, "lock_wait_s");
    nd->userns = json_is_true(json_object_get(o, "userns"));
    if (json_object_get(o, "error")) {
        st = spak_errf(err, SPAK_ERR_SANDBOX, "on node %s: %s", nd->node, json_string_value(json_object_get(o, "error")));
        json_decref(o);
        return st;
    }
    bool ok = get_fields(o, out, result_fields, SPAK_ARRAY_LEN(result_fields)) &&
              (unsigned)out->why <= (unsigned)SPAK_SANDBOX_BYTE_BUDGET;
    copy_text(out->why_text, sizeof out->why_text, o, "why_text");
    copy_text(out->warnings, sizeof out->warnings, o, "warnings");
    copy_text(out->denied_syscall, sizeof out->denied_syscall, o, "denied_syscall");
    json_decref(o);
    out->pid = 0;  /* a pid of another machine means nothing here */
    if (!ok)
        return spak_errf(err, SPAK_ERR_IO, "%s: a field has the wrong type", path);
    char **bufs[2] = {&out->out, &out->err};
    size_t *lens[2] = {&out->out_len, &out->err_len};
    const char *names[2] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        if (!spak_snprintf(path, sizeof path, "%s/%s", dir, names[i]))
            st = spak_errf(err, SPAK_ERR_ARG, "%s: path too long", dir);
        else
            st = spak_read_file(path, OUTPUT_MAX, bufs[i], lens[i], err);
        if (st != SPAK_OK) {
            spak_sandbox_result_free(out);
            return st;
        }
    }
    return SPAK_OK;
}
