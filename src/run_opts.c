/* run_opts.c - the store of a run and the options kept with it (run_opts.h). */
#include "run_opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/scopes.h"
#include "util.h"

spak_status spak_engine_open_store(const spak_engine_opts *o, spak_store **out, spak_err *err)
{
    const char *home = o->home ? o->home : ".spak";
    spak_status st = spak_mkdirs(home, err);
    if (st != SPAK_OK)
        return st;
    char path[PATH_MAX];
    if (!spak_snprintf(path, sizeof path, "%s/spak.db", home))
        return spak_errf(err, SPAK_ERR_ARG, "state directory path too long");
    return spak_store_open(path, out, err);
}

/* ---- options that outlive a command ---- */

void spak_engine_save_options(spak_store *st, const char *run_id, const spak_engine_opts *o)
{
    if (!o->llm_backend && !o->llm_endpoint && !o->llm_model && !o->approve && o->llm_temperature < 0 &&
        o->llm_max_tokens <= 0 && o->llm_timeout_s <= 0 && !o->allow_weak_isolation)
        return;
    json_t *lo = json_pack("{s:s?,s:s?,s:s?,s:i,s:f,s:I,s:f}", "llm_backend", o->llm_backend, "llm_endpoint",
                           o->llm_endpoint, "llm_model", o->llm_model, "approve", (int)o->approve, "llm_temperature",
                           o->llm_temperature, "llm_max_tokens", (json_int_t)o->llm_max_tokens, "llm_timeout_s",
                           o->llm_timeout_s);
    if (o->allow_weak_isolation)
        json_object_set_new(lo, "allow_weak_isolation", json_true());
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
    char dev[PATH_MAX + 32];
    spak_snprintf(dev, sizeof dev, "%s/cache/device", real);
    st = spak_mkdirs(dev, err);
    if (st != SPAK_OK)
        return st;
    /* the judge measures device ceilings once and caches them here; it runs
     * as the invoking user (its runners, the candidates, as the unprivileged
     * one): no one else may read or rewrite a roofline every later run reads */
    if (chmod(dev, 0700) < 0)
        return spak_errf(err, SPAK_ERR_IO, "%s: %s", dev, strerror(errno));
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
