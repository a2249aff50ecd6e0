/* approval.c - a run's pending approval in the store (approval.h). */
#include "store/approval.h"

#include <stdlib.h>
#include <string.h>

#include "store/scopes.h"
#include "util.h"

char *spak_approval_pending(spak_store *st, const char *run_id)
{
    char *v = NULL;
    (void)spak_store_approval_get(st, run_id, &v, NULL);  /* none and unreadable read the same: NULL */
    return v;
}

int spak_approval_decision(spak_store *st, const char *run_id, const char *gate)
{
    char *v = spak_approval_pending(st, run_id);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    const char *g = json_string_value(json_object_get(p, "gate"));
    const char *dec = json_string_value(json_object_get(p, "decision"));
    int answer = g && strcmp(g, gate) == 0 && dec ? strcmp(dec, "approve") == 0 : -1;
    json_decref(p);
    return answer;
}

spak_status spak_approval_ask(spak_store *st, const char *run_id, const char *gate, const char *what,
                              const json_t *payload, char **text, spak_err *err)
{
    json_t *pend = json_pack("{s:s,s:s,s:O?}", "gate", gate, "what", what, "payload", (json_t *)payload);
    *text = json_dumps(pend, JSON_COMPACT);
    json_decref(pend);
    return spak_store_approval_put(st, run_id, *text ? *text : "{}", err);
}

void spak_approval_clear(spak_store *st, const char *run_id)
{
    (void)spak_store_approval_delete(st, run_id, NULL);  /* a stale one is asked again, never acted on twice */
}

spak_status spak_approval_answer(spak_store *st, const char *run_id, bool approve, char *what, size_t what_n,
                                 spak_err *err)
{
    char *v = spak_approval_pending(st, run_id);
    json_t *p = v ? json_loads(v, 0, NULL) : NULL;
    free(v);
    spak_status s;
    if (!p || json_object_get(p, "decision")) {
        s = spak_errf(err, SPAK_ERR_STATE, "run %s has no pending approval", run_id);
    } else {
        spak_snprintf(what, what_n, "%s: %s", json_string_value(json_object_get(p, "gate")),
                      json_string_value(json_object_get(p, "what")));
        json_object_set_new(p, "decision", json_string(approve ? "approve" : "reject"));
        char *pj = json_dumps(p, JSON_COMPACT);
        s = spak_store_approval_put(st, run_id, pj ? pj : "{}", err);
        free(pj);
    }
    json_decref(p);
    return s;
}
