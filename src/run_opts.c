/* run_opts.c - the store of a run and the options kept with it (run_opts.h). */
#include "run_opts.h"

#include <limits.h>
#include <stdlib.h>

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
        o->llm_max_tokens <= 0 && o->llm_timeout_s <= 0)
        return;
    json_t *lo = json_pack("{s:s?,s:s?,s:s?,s:i,s:f,s:I,s:f}", "llm_backend", o->llm_backend, "llm_endpoint",
                           o->llm_endpoint, "llm_model", o->llm_model, "approve", (int)o->approve, "llm_temperature",
                           o->llm_temperature, "llm_max_tokens", (json_int_t)o->llm_max_tokens, "llm_timeout_s",
                           o->llm_timeout_s);
    char *lj = json_dumps(lo, JSON_COMPACT);
    json_decref(lo);
    if (lj)
        spak_store_kv_put(st, "run-options", run_id, lj, NULL);
    free(lj);
}

json_t *spak_engine_load_options(spak_store *st, const char *run_id, spak_engine_opts *o)
{
    char *ro = NULL;
    spak_store_kv_get(st, "run-options", run_id, &ro, NULL);
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
    return j;
}

