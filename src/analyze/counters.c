/*
 * counters.c - hardware counters only when the analysis needs them
 * (counters.h).
 */
#include "analyze/counters.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "analyze/records.h"
#include "util.h"

static const char *const names[] = {"new", "every", "never"};

bool spak_counters_parse(const char *s, spak_counters_when *out)
{
    for (size_t i = 0; s && i < SPAK_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (spak_counters_when)i;
            return true;
        }
    return false;
}

const char *spak_counters_name(spak_counters_when w)
{
    return (size_t)w < SPAK_ARRAY_LEN(names) ? names[w] : "?";
}

bool spak_counters_flag(const char *a)
{
    return a && strcmp(a, "--ncu") == 0;
}

static bool is_design(const spak_model *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n_design; i++)
        if (strlen(m->design[i].name) == len && strncmp(m->design[i].name, name, len) == 0)
            return true;
    return false;
}

void spak_counters_structure(const spak_model *m, const char *cand_key, char *out, size_t n)
{
    size_t used = 0;
    if (n)
        out[0] = '\0';
    if (cand_key && strncmp(cand_key, "code:", 5) == 0) { /* a code candidate: its source ("code:TAG|point") */
        size_t len = strcspn(cand_key, "|");
        spak_snprintf(out, n, "%.*s", (int)len, cand_key);
        return;
    }
    for (const char *p = cand_key ? cand_key : ""; *p;) {
        const char *end = strchr(p, ','), *eq = strchr(p, '=');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (eq && eq < p + len && is_design(m, p, (size_t)(eq - p)) && used + len + 2 <= n) {
            if (used)
                out[used++] = ',';
            memcpy(out + used, p, len);
            out[used += len] = '\0';
        }
        p += len + (end ? 1 : 0);
    }
}

/* Whether the evaluation's records say its structure was profiled: a
 * Counters record with numbers, or one where ncu ran and gave none (it
 * would give none again); not one the judge wrote without running ncu
 * ("not profiled: ...": the shape failed, or the candidate was stopped
 * early). */
static bool has_counters(spak_store *st, const char *run_id, int64_t eval_id, spak_err *err, spak_status *rc)
{
    spak_trace_row *rows = NULL;
    size_t nr = 0;
    bool found = false;
    *rc = spak_store_trace_list(st, run_id, eval_id, &rows, &nr, err);
    for (size_t i = 0; *rc == SPAK_OK && i < nr && !found; i++) {
        if (!rows[i].case_name || strcmp(rows[i].case_name, SPAK_REC_COUNTERS) != 0 || !rows[i].record_json)
            continue;
        json_t *r = json_loads(rows[i].record_json, 0, NULL);
        const char *why = json_string_value(json_object_get(r, "reason"));
        found = json_is_true(json_object_get(r, "available")) || !why || strncmp(why, "not profiled", 12) != 0;
        json_decref(r);
    }
    spak_store_trace_rows_free(rows, nr);
    return found;
}

/* an evaluation not yet ended (with --jobs N, measured beside this one) */
static bool in_flight(const char *status)
{
    return status && (strcmp(status, SPAK_EVAL_PLANNED) == 0 || strcmp(status, SPAK_EVAL_BUILDING) == 0 ||
                      strcmp(status, SPAK_EVAL_RUNNING) == 0);
}

spak_status spak_counters_prior(spak_store *st, const char *run_id, const spak_model *m, const char *structure,
                                int64_t before, int64_t *prior, bool *flying, spak_err *err)
{
    spak_eval *ev = NULL;
    size_t ne = 0;
    *prior = 0;
    *flying = false;
    spak_status rc = spak_store_eval_list(st, run_id, &ev, &ne, err);
    char s[1024];
    int64_t first_flying = 0;
    for (size_t i = 0; rc == SPAK_OK && i < ne && !*prior; i++) {
        if (ev[i].eval_id >= before)
            continue;
        spak_counters_structure(m, ev[i].cand_key, s, sizeof s);
        if (strcmp(s, structure) != 0)
            continue;
        if (in_flight(ev[i].status)) {
            if (!first_flying)
                first_flying = ev[i].eval_id;
        } else if (has_counters(st, run_id, ev[i].eval_id, err, &rc)) {
            *prior = ev[i].eval_id;
        }
    }
    if (rc == SPAK_OK && !*prior && first_flying)
        *prior = first_flying, *flying = true;
    spak_store_evals_free(ev, ne);
    return rc;
}

/* av without its counters flags */
static void drop_flags(spak_cand_argv *av)
{
    size_t k = 0;
    for (size_t i = 0; i < av->n; i++) {
        if (i > 0 && spak_counters_flag(av->argv[i])) {
            free(av->argv[i]);
            continue;
        }
        av->argv[k++] = av->argv[i];
    }
    for (size_t i = k; i < av->n; i++)
        av->argv[i] = NULL;
    av->n = k;
}

spak_status spak_counters_args(spak_store *st, const char *run_id, const spak_model *m, spak_counters_when w,
                               int64_t eval_id, const char *cand_key, spak_cand_argv *av, char *note, size_t n,
                               spak_err *err)
{
    bool asks = false;
    for (size_t i = 1; i < av->n; i++)
        asks = asks || spak_counters_flag(av->argv[i]);
    if (note && n)
        note[0] = '\0';
    if (!asks)
        return SPAK_OK;
    if (w == SPAK_COUNTERS_EVERY) {
        if (note)
            spak_snprintf(note, n, "counters taken (--counters every)");
        return SPAK_OK;
    }
    if (w == SPAK_COUNTERS_NEVER) {
        drop_flags(av);
        if (note)
            spak_snprintf(note, n, "counters not taken (--counters never)");
        return SPAK_OK;
    }
    char s[1024];
    int64_t prior = 0;
    bool flying = false;
    spak_counters_structure(m, cand_key, s, sizeof s);
    spak_status rc = spak_counters_prior(st, run_id, m, s, eval_id, &prior, &flying, err);
    if (rc != SPAK_OK)
        return rc;
    if (!prior) {
        if (note)
            spak_snprintf(note, n, "counters taken: the first evaluation of %s", *s ? s : "the spec's one structure");
        return SPAK_OK;
    }
    drop_flags(av);
    if (note && flying)  /* if that one ends unprofiled, the next evaluation of the structure profiles */
        spak_snprintf(note, n, "counters not taken: %s is being evaluated (with its counters) at evaluation %lld",
                      *s ? s : "the structure", (long long)prior);
    else if (note)
        spak_snprintf(note, n, "counters not taken: %s was profiled at evaluation %lld", *s ? s : "the structure",
                      (long long)prior);
    return SPAK_OK;
}
