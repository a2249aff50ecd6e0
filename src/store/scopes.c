/*
 * scopes.c - the typed accessors of the store's kv scopes (scopes.h): each is
 * spak_store_kv_* with its scope and key filled in.
 */
#include "store/scopes.h"

#include <stdlib.h>

#include "util.h"

spak_status spak_store_run_summary_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_RUN, run_id, json, err);
}

spak_status spak_store_run_summary_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_RUN, run_id, json_out, err);
}

spak_status spak_store_run_options_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_RUN_OPTIONS, run_id, json, err);
}

spak_status spak_store_run_options_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_RUN_OPTIONS, run_id, json_out, err);
}

spak_status spak_store_approval_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_APPROVAL, run_id, json, err);
}

spak_status spak_store_approval_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_APPROVAL, run_id, json_out, err);
}

spak_status spak_store_approval_delete(spak_store *st, const char *run_id, spak_err *err)
{
    return spak_store_kv_delete(st, SPAK_KV_APPROVAL, run_id, err);
}

spak_status spak_store_learned_put(spak_store *st, const char *run_id, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_LEARNED, run_id, "true", err);
}

spak_status spak_store_learned_get(spak_store *st, const char *run_id, bool *learned_out, spak_err *err)
{
    char *v = NULL;
    spak_status rc = spak_store_kv_get(st, SPAK_KV_LEARNED, run_id, &v, err);
    *learned_out = v != NULL;
    free(v);
    return rc;
}

spak_status spak_store_retime_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_RETIME, run_id, json, err);
}

spak_status spak_store_retime_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_RETIME, run_id, json_out, err);
}

spak_status spak_store_agent_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_AGENT, run_id, json, err);
}

spak_status spak_store_agent_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_AGENT, run_id, json_out, err);
}

spak_status spak_store_external_put(spak_store *st, const char *run_id, const char *json, spak_err *err)
{
    return spak_store_kv_put(st, SPAK_KV_EXTERNAL, run_id, json, err);
}

spak_status spak_store_external_get(spak_store *st, const char *run_id, char **json_out, spak_err *err)
{
    return spak_store_kv_get(st, SPAK_KV_EXTERNAL, run_id, json_out, err);
}

void spak_store_llm_step_key(long n, char key[SPAK_KV_STEP_KEY_MAX])
{
    spak_snprintf(key, SPAK_KV_STEP_KEY_MAX, SPAK_KV_LLM_STEP_FMT, n);
}

/* The scope of a run's LLM steps, llm:<run id>. */
static void llm_scope(const char *run_id, char scope[SPAK_KV_SCOPE_MAX])
{
    spak_snprintf(scope, SPAK_KV_SCOPE_MAX, "%s%s", SPAK_KV_LLM_PREFIX, run_id ? run_id : "");
}

spak_status spak_store_llm_step_put(spak_store *st, const char *run_id, long n, const char *json, spak_err *err)
{
    char scope[SPAK_KV_SCOPE_MAX], key[SPAK_KV_STEP_KEY_MAX];
    llm_scope(run_id, scope);
    spak_store_llm_step_key(n, key);
    return spak_store_kv_put(st, scope, key, json, err);
}

spak_status spak_store_llm_step_get(spak_store *st, const char *run_id, long n, char **json_out, spak_err *err)
{
    char scope[SPAK_KV_SCOPE_MAX], key[SPAK_KV_STEP_KEY_MAX];
    llm_scope(run_id, scope);
    spak_store_llm_step_key(n, key);
    return spak_store_kv_get(st, scope, key, json_out, err);
}
