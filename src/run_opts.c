/* run_opts.c - the store of a run and the options kept with it (run_opts.h). */
#include "run_opts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/approval.h"
#include "store/scopes.h"
#include "util.h"

/* ---- the home's permissions ----
 * Candidates and builds run as the sandbox uid (65534 when spak is root):
 * nothing of spak's state may be readable or writable by it. The home and
 * the two folders on the way to what a sandboxed process must reach
 * (runs/RUN/eN) are 0711: traversable, never listable; the store is 0600,
 * the build cache and the device ceilings (written by the judge, which runs
 * as the invoking user) 0700, everything else without bits for group and
 * others. */

/* chmod name in dir to mode, or strip group and other bits (mode < 0);
 * never through a symbolic link. Best effort: a file we cannot fix is left
 * as it is (it was created by someone else, not by spak). */
static void set_mode(int dfd, const char *name, int mode)
{
    struct stat sb;
    if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISLNK(sb.st_mode))
        return;
    mode_t m = mode >= 0 ? (mode_t)mode : (sb.st_mode & 07700);
    if ((sb.st_mode & 07777) != m)
        (void)fchmodat(dfd, name, m, 0);
}

/* Fix the modes of home's own entries (see above). */
static void home_secure(const char *home)
{
    (void)chmod(home, 0711);
    int dfd = open(home, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (!strcmp(nm, ".") || !strcmp(nm, ".."))
            continue;
        if (!strcmp(nm, "cache") || !strcmp(nm, "runs"))
            set_mode(dfd, nm, 0711);
        else if (!strncmp(nm, "spak.db", 7))
            set_mode(dfd, nm, 0600);  /* the store, its -wal, -shm, -journal */
        else
            set_mode(dfd, nm, -1);
    }
    set_mode(dfd, "cache/build", 0700);
    closedir(d);
}

/* Take back the evaluation directories runs/RUN/eN that a spak before this
 * layout left open to the sandbox uid (owned by it, no eN.lib beside them).
 * Those of the current layout are taken back by the evaluations themselves
 * (candidate.h), and one that runs now has its eN.lib: left alone. */
static void lock_old_evals(const char *home)
{
    char runs[PATH_MAX];
    if (!spak_snprintf(runs, sizeof runs, "%s/runs", home))
        return;
    DIR *d = opendir(runs);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        char run[PATH_MAX];
        if (de->d_name[0] == '.' || !spak_snprintf(run, sizeof run, "%s/%s", runs, de->d_name))
            continue;
        DIR *r = opendir(run);
        struct dirent *e;
        while (r && (e = readdir(r))) {
            char p[PATH_MAX], lib[PATH_MAX];
            struct stat sb;
            if (e->d_name[0] != 'e' || e->d_name[1] < '0' || e->d_name[1] > '9' || strchr(e->d_name, '.') ||
                !spak_snprintf(p, sizeof p, "%s/%s", run, e->d_name) ||
                !spak_snprintf(lib, sizeof lib, "%s.lib", p) || lstat(p, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
                sb.st_uid == geteuid() || access(lib, F_OK) == 0)
                continue;
            (void)lchown(p, geteuid(), getegid());
            (void)chmod(p, 0700);
        }
        if (r)
            closedir(r);
    }
    closedir(d);
}

spak_status spak_engine_open_store(const spak_engine_opts *o, spak_store **out, spak_err *err)
{
    const char *home = o->home ? o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    char path[PATH_MAX];
    if (!spak_snprintf(path, sizeof path, "%s/spak.db", home))
        return spak_errf(err, SPAK_ERR_ARG, "state directory path too long");
    /* a new store is created 0600 by us, not with SQLite's 0644: its -wal
     * and -shm files take the store's mode */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    home_secure(home);
    st = spak_store_open(path, out, err);
    home_secure(home);  /* the -wal and -shm files SQLite just made */
    return st;
}

/* ---- options that outlive a command ---- */

spak_status spak_context_without_parse(const char *list, unsigned *bits, spak_err *err)
{
    char buf[256];
    if (!spak_snprintf(buf, sizeof buf, "%s", list))
        return spak_errf(err, SPAK_ERR_ARG, "--context-without: the list is too long");
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        if (strcmp(w, "measurements") == 0)
            *bits |= SPAK_CTX_WITHOUT_MEASUREMENTS;
        else if (strcmp(w, "knowledge") == 0)
            *bits |= SPAK_CTX_WITHOUT_KNOWLEDGE;
        else
            return spak_errf(err, SPAK_ERR_ARG, "--context-without takes measurements and/or knowledge, not '%s'", w);
    }
    return SPAK_OK;
}

const char *spak_context_hide_measured(const char *why, char *buf, size_t n)
{
    static const char *const verdicts[] = {"interference:", "busy:", "impossible:"};
    for (size_t i = 0; why && i < sizeof verdicts / sizeof *verdicts; i++) {
        /* the verdict's word opens the reason or follows ": " (a shape's
         * "wrong at S: "): "Device or resource busy:" in an error is no verdict */
        const char *p = strstr(why, verdicts[i]);
        while (p && p != why && !(p - why >= 2 && p[-2] == ':' && p[-1] == ' '))
            p = strstr(p + 1, verdicts[i]);
        if (p) {
            spak_snprintf(buf, n, "%.*s (its numbers: %s)", (int)(p - why) + (int)strlen(verdicts[i]) - 1, why,
                          SPAK_CTX_OMITTED_MEASUREMENTS);
            return buf;
        }
    }
    return why;
}

void spak_context_without_text(unsigned bits, char *out, size_t n)
{
    spak_snprintf(out, n, "%s%s%s", bits & SPAK_CTX_WITHOUT_MEASUREMENTS ? "measurements" : "",
                  (bits & SPAK_CTX_WITHOUT_MEASUREMENTS) && (bits & SPAK_CTX_WITHOUT_KNOWLEDGE) ? "," : "",
                  bits & SPAK_CTX_WITHOUT_KNOWLEDGE ? "knowledge" : "");
}

void spak_engine_save_options(spak_store *st, const char *run_id, const spak_engine_opts *o)
{
    if (!o->llm_backend && !o->llm_endpoint && !o->llm_model && !o->approve && o->llm_temperature < 0 &&
        o->llm_max_tokens <= 0 && o->llm_timeout_s <= 0 && !o->allow_weak_isolation && o->early_stop == 0 && !o->counters &&
        !o->context_without && !o->executor && !o->slurm.partition && !o->slurm.time && !o->slurm.account &&
        !o->slurm.gpus && o->jobs <= 0 && !o->devices && !o->cpus && !o->sandbox_uids)
        return;
    json_t *lo = json_pack("{s:s?,s:s?,s:s?,s:i,s:f,s:I,s:f}", "llm_backend", o->llm_backend, "llm_endpoint",
                           o->llm_endpoint, "llm_model", o->llm_model, "approve", (int)o->approve, "llm_temperature",
                           o->llm_temperature, "llm_max_tokens", (json_int_t)o->llm_max_tokens, "llm_timeout_s",
                           o->llm_timeout_s);
    if (o->allow_weak_isolation)
        json_object_set_new(lo, "allow_weak_isolation", json_true());
    if (o->early_stop != 0)
        json_object_set_new(lo, "early_stop", json_real(o->early_stop));
    if (o->counters)
        json_object_set_new(lo, "counters", json_string(o->counters));
    if (o->context_without) {
        char cw[64];
        spak_context_without_text(o->context_without, cw, sizeof cw);
        json_object_set_new(lo, "context_without", json_string(cw));
    }
    if (o->executor)  /* a resume waits for and submits its jobs where the run did */
        json_object_set_new(lo, "executor", json_string(o->executor));
    json_t *sl = json_pack("{s:s?,s:s?,s:s?,s:s?}", "partition", o->slurm.partition, "time", o->slurm.time,
                           "account", o->slurm.account, "gpus", o->slurm.gpus);
    if (json_object_size(sl))
        json_object_set(lo, "slurm", sl);
    json_decref(sl);
    if (o->jobs > 0)  /* how the run was spread: its resumes spread the same way */
        json_object_set_new(lo, "jobs", json_integer(o->jobs));
    if (o->devices)
        json_object_set_new(lo, "devices", json_string(o->devices));
    if (o->cpus)
        json_object_set_new(lo, "cpus", json_string(o->cpus));
    if (o->sandbox_uids)
        json_object_set_new(lo, "sandbox_uids", json_string(o->sandbox_uids));
    char *lj = json_dumps(lo, JSON_COMPACT);
    json_decref(lo);
    if (lj)
        (void)spak_store_run_options_put(st, run_id, lj, NULL);  /* lost: a resume needs them given again */
    free(lj);
}

json_t *spak_engine_load_options(spak_store *st, const char *run_id, spak_engine_opts *o)
{
    char *ro = NULL;
    (void)spak_store_run_options_get(st, run_id, &ro, NULL);  /* none and unreadable: the defaults */
    json_t *j = ro ? json_loads(ro, 0, NULL) : NULL;
    free(ro);
    if (!o->llm_backend)
        o->llm_backend = json_string_value(json_object_get(j, "llm_backend"));
    if (!o->llm_endpoint)
        o->llm_endpoint = json_string_value(json_object_get(j, "llm_endpoint"));
    if (!o->llm_model)
        o->llm_model = json_string_value(json_object_get(j, "llm_model"));
    o->approve |= (unsigned)json_integer_value(json_object_get(j, "approve"));
    if (o->llm_temperature < 0 && json_is_number(json_object_get(j, "llm_temperature")))
        o->llm_temperature = json_number_value(json_object_get(j, "llm_temperature"));
    if (o->llm_max_tokens <= 0)
        o->llm_max_tokens = (long)json_integer_value(json_object_get(j, "llm_max_tokens"));
    if (o->llm_timeout_s <= 0 && json_is_number(json_object_get(j, "llm_timeout_s")))
        o->llm_timeout_s = json_number_value(json_object_get(j, "llm_timeout_s"));
    o->allow_weak_isolation |= json_is_true(json_object_get(j, "allow_weak_isolation"));
    if (o->early_stop == 0 && json_is_number(json_object_get(j, "early_stop")))
        o->early_stop = json_number_value(json_object_get(j, "early_stop"));
    if (!o->counters)
        o->counters = json_string_value(json_object_get(j, "counters"));
    if (!o->executor)
        o->executor = json_string_value(json_object_get(j, "executor"));
    const char **sl[4] = {&o->slurm.partition, &o->slurm.time, &o->slurm.account, &o->slurm.gpus};
    const char *sk[4] = {"partition", "time", "account", "gpus"};
    for (int i = 0; i < 4; i++)
        if (!*sl[i])
            *sl[i] = json_string_value(json_object_get(json_object_get(j, "slurm"), sk[i]));
    if (o->jobs <= 0)
        o->jobs = (long)json_integer_value(json_object_get(j, "jobs"));
    if (!o->devices)
        o->devices = json_string_value(json_object_get(j, "devices"));
    if (!o->cpus)
        o->cpus = json_string_value(json_object_get(j, "cpus"));
    if (!o->sandbox_uids)
        o->sandbox_uids = json_string_value(json_object_get(j, "sandbox_uids"));
    const char *cw = json_string_value(json_object_get(j, "context_without"));
    if (cw)  /* written by save above: a word it does not know cannot be there */
        (void)spak_context_without_parse(cw, &o->context_without, NULL);
    return j;
}


spak_status spak_home_prepare(const spak_engine_opts *o, char *out, size_t n, spak_err *err)
{
    const char *home = o->home ? o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    char real[PATH_MAX];
    if (!realpath(home, real))
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", home, strerror(errno));
    if (!spak_snprintf(out, n, "%s", real))
        return spak_errf(err, SPAK_ERR_LIMIT, "state directory path too long");
    char dev[PATH_MAX + 32], runs[PATH_MAX + 32];
    spak_snprintf(dev, sizeof dev, "%s/cache/device", real);
    spak_snprintf(runs, sizeof runs, "%s/runs", real);
    if ((st = spak_mkdirs(dev, err)) != SPAK_OK || (st = spak_mkdirs(runs, err)) != SPAK_OK)
        return st;
    /* the judge measures device ceilings once and caches them here; it runs
     * as the invoking user (its runners, the candidates, as the unprivileged
     * one): no one else may read or rewrite a roofline every later run reads */
    if (chmod(dev, 0700) < 0)
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", dev, strerror(errno));
    home_secure(real);
    lock_old_evals(real);
    return SPAK_OK;
}

double spak_run_elapsed(spak_store *st, const char *run_id)
{
    spak_journal_entry *j = NULL;
    size_t nj = 0;
    double el_s = 0;
    if (spak_store_journal_list(st, run_id, &j, &nj, NULL) != SPAK_OK)
        return 0;
    for (size_t i = nj; i-- > 0;) {
        json_t *d = j[i].detail_json ? json_loads(j[i].detail_json, 0, NULL) : NULL;
        json_t *el = d ? json_object_get(d, "elapsed_s") : NULL;
        bool found = json_is_number(el);
        if (found)
            el_s = json_number_value(el);
        json_decref(d);
        if (found)
            break;
    }
    spak_store_journal_free(j, nj);
    return el_s;
}

/* the approval gates' answers live with the store's approval scope; the
 * engine only asks (engine.c: gate) */
char *spak_engine_pending(spak_store *st, const char *run_id)
{
    return spak_approval_pending(st, run_id);
}

spak_status spak_engine_answer(const spak_engine_opts *o, const char *run_id, bool approve, char *what, size_t what_n,
                               spak_err *err)
{
    spak_store *st = NULL;
    spak_status s = spak_engine_open_store(o, &st, err);
    if (s != SPAK_OK)
        return s;
    s = spak_approval_answer(st, run_id, approve, what, what_n, err);
    spak_store_close(st);
    return s;
}
