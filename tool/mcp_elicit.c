/* mcp_elicit.c - approval gates asked of the person through the client
 * (mcp_elicit.h). */
#include "mcp_elicit.h"

#include <stdlib.h>
#include <string.h>

#include "mcp_run.h"
#include "util.h"

#define GATE_LOOK_EVERY_S 0.5
#define SOURCE_SHOWN 4000

/* The run's pending approval without a decision yet (owned JSON text), or NULL. */
static char *open_gate(const mcp_server *s, const char *run)
{
    spak_engine_opts o = mcp_opts(s);
    spak_store *st = NULL;
    char *pend = NULL;
    if (spak_engine_open_store(&o, &st, NULL) != SPAK_OK)
        return NULL;
    pend = spak_engine_pending(st, run);
    spak_store_close(st);
    json_t *pj = pend ? json_loads(pend, 0, NULL) : NULL;
    if (!pj || json_object_get(pj, "decision")) {
        free(pend);
        pend = NULL;
    }
    json_decref(pj);
    return pend;
}

static mcp_elicit *slot_of(mcp_server *s, const char *run)
{
    mcp_elicit *free_slot = NULL;
    for (size_t i = 0; i < MCP_MAX_ELICITS; i++) {
        if (s->elicits[i].pending && strcmp(s->elicits[i].run, run) == 0)
            return &s->elicits[i];
        if (!s->elicits[i].pending && !free_slot)
            free_slot = &s->elicits[i];
    }
    if (!free_slot) {  /* the oldest answered one gives way */
        for (size_t i = 0; i < MCP_MAX_ELICITS && !free_slot; i++)
            if (s->elicits[i].request == 0)
                free_slot = &s->elicits[i];
        if (free_slot) {
            free(free_slot->pending);
            memset(free_slot, 0, sizeof *free_slot);
        }
    }
    return free_slot;
}

/* The question: the gate, what it would do, and for a kernel its source. */
static json_t *question(const mcp_server *s, const char *run, const char *pending, long id)
{
    json_t *pj = json_loads(pending, 0, NULL);
    const char *gate = json_string_value(json_object_get(pj, "gate"));
    const char *what = json_string_value(json_object_get(pj, "what"));
    const char *code = json_string_value(json_object_get(json_object_get(pj, "payload"), "code_path"));
    char *src = NULL;
    if (code)
        (void)spak_read_file(code, 1u << 20, &src, NULL, NULL);
    spak_buf b;
    spak_buf_init(&b, 64u << 10);
    spak_buf_printf(&b,
                    "spak run %s waits at its '%s' approval gate: %s.\nApprove it? Yes goes on (for a kernel: it is "
                    "built and run in spak's sandbox and judged); no rejects it (a rejected kernel is a recorded "
                    "failed step). Dismissing this leaves the gate to 'spak approve --home %s %s' or 'spak reject'.",
                    run, gate ? gate : "approval", what ? what : "(no description)", s->home, run);
    if (src)
        spak_buf_printf(&b, "\n\nThe source (%s)%s:\n\n%.*s", code, strlen(src) > SOURCE_SHOWN ? ", its beginning" : "",
                        SOURCE_SHOWN, src);
    free(src);
    json_t *req = json_pack("{s:s,s:I,s:s,s:{s:s,s:{s:s,s:{s:{s:s,s:s,s:s}},s:[s]}}}", "jsonrpc", "2.0", "id",
                            (json_int_t)id, "method", "elicitation/create", "params", "message",
                            b.data ? b.data : "an approval gate", "requestedSchema", "type", "object", "properties",
                            "approve", "type", "boolean", "title", "Approve",
                            "description", "yes: go on; no: reject", "required", "approve");
    spak_buf_free(&b);
    json_decref(pj);
    return req;
}

static void ask(mcp_server *s, const char *run, void (*send)(json_t *msg))
{
    char *pend = open_gate(s, run);
    if (!pend)
        return;
    mcp_elicit *e = slot_of(s, run);
    if (!e || (e->pending && strcmp(e->pending, pend) == 0)) {
        free(pend);  /* asked already (answered, dismissed or in flight) */
        return;
    }
    free(e->pending);
    memset(e, 0, sizeof *e);
    e->pending = pend;
    spak_snprintf(e->run, sizeof e->run, "%s", run);
    e->request = ++s->next_request;
    send(question(s, run, pend, e->request));
}

void mcp_elicit_tick(mcp_server *s, void (*send)(json_t *msg))
{
    if (!s->elicit || spak_now_monotonic() < s->next_gate_look)
        return;
    s->next_gate_look = spak_now_monotonic() + GATE_LOOK_EVERY_S;
    if (s->run[0])
        ask(s, s->run, send);
    for (size_t i = 0; i < MCP_MAX_WAITS; i++)
        if (s->waits[i].id && strcmp(s->waits[i].run, s->run) != 0)
            ask(s, s->waits[i].run, send);
}

/* The answer applied as `spak approve`/`spak reject` would: recorded, then
 * the run resumed. */
static void apply(mcp_server *s, mcp_elicit *e, bool approve)
{
    spak_engine_opts o = mcp_opts(s);
    char what[1200] = "";
    spak_err err = {0};
    if (spak_engine_answer(&o, e->run, approve, what, sizeof what, &err) != SPAK_OK) {
        spak_snprintf(e->outcome, sizeof e->outcome, "the person's answer could not be applied: %.80s", err.msg);
        return;
    }
    spak_snprintf(e->outcome, sizeof e->outcome, "the person %s it through the client",
                  approve ? "approved" : "rejected");
    mcp_resume_child(s, e->run);
}

bool mcp_elicit_response(mcp_server *s, json_t *id, json_t *result, json_t *error)
{
    if (!json_is_integer(id))
        return false;
    mcp_elicit *e = NULL;
    for (size_t i = 0; i < MCP_MAX_ELICITS && !e; i++)
        if (s->elicits[i].pending && s->elicits[i].request == (long)json_integer_value(id))
            e = &s->elicits[i];
    if (!e)
        return false;
    e->request = 0;
    const char *action = json_string_value(json_object_get(result, "action"));
    json_t *yes = json_object_get(json_object_get(result, "content"), "approve");
    if (error || !action)
        spak_snprintf(e->outcome, sizeof e->outcome, "the client could not ask the person (%.60s)",
                      json_string_value(json_object_get(error, "message")) ? json_string_value(
                                                                                 json_object_get(error, "message"))
                                                                           : "no action in its answer");
    else if (strcmp(action, "accept") == 0 && json_is_boolean(yes))
        apply(s, e, json_is_true(yes));
    else if (strcmp(action, "accept") == 0)
        spak_snprintf(e->outcome, sizeof e->outcome, "the person's answer had no 'approve' boolean");
    else if (strcmp(action, "decline") == 0)
        apply(s, e, false);
    else
        spak_snprintf(e->outcome, sizeof e->outcome, "the person dismissed the question (%.20s)", action);
    return true;
}

bool mcp_elicit_holds(mcp_server *s, const char *run)
{
    if (!s->elicit)
        return false;
    if (mcp_elicit_asking(s, run, NULL, 0))
        return true;
    char *pend = open_gate(s, run);
    if (!pend)
        return false;
    bool asked = false;
    for (size_t i = 0; i < MCP_MAX_ELICITS && !asked; i++)
        asked = s->elicits[i].pending && strcmp(s->elicits[i].run, run) == 0 &&
                strcmp(s->elicits[i].pending, pend) == 0;
    free(pend);
    return !asked;  /* a gate the next turn asks about */
}
