/* transfer.c - lessons of earlier runs as rules (transfer.h). */
#include "knowledge/transfer.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/device.h"
#include "knowledge/learn.h"

/* How far a lesson's shape class is from this problem's: |K - K'| of the
 * size buckets 2^K, 0 for equal classes without a size ("any"), and far
 * otherwise. */
static long class_distance(const char *mine, const char *theirs)
{
    long a, b;
    if (spak_learn_shape_class_log2(mine, &a) && spak_learn_shape_class_log2(theirs, &b))
        return labs(a - b);
    return mine && theirs && strcmp(mine, theirs) == 0 ? 0 : LONG_MAX / 2;
}

typedef struct lesson_pick {
    const spak_lesson *l;
    long distance;
    size_t order;
} lesson_pick;

static int by_distance(const void *pa, const void *pb)
{
    const lesson_pick *a = pa, *b = pb;
    if (a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* One lesson as a rule: its subject "p=v,q=w" becomes prefer (or exclude,
 * for an effect that hurt) actions. */
static void add_rule(spak_transfer *t, const spak_lesson *l)
{
    bool eff = strcmp(l->kind, "effect") == 0;
    /* the texts live as long as the transfer, in a JSON array it owns */
    json_t *acts = json_array();
    char buf[1024];
    spak_snprintf(buf, sizeof buf, "%s", l->subject);
    char *save = NULL;
    for (char *pair = strtok_r(buf, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char act[600];
        spak_snprintf(act, sizeof act, "%s %s = '%s'", eff && l->effect < 1 ? "exclude" : "prefer", pair, eq + 1);
        json_array_append_new(acts, json_string(act));
    }
    json_t *txt = json_pack("{s:s,s:s?,s:o}", "title", l->text ? l->text : l->subject, "shape_class", l->shape_class,
                            "actions", acts);
    json_array_append_new(t->text, txt);
    size_t na = json_array_size(acts);
    spak_rule_action *ra = calloc(na ? na : 1, sizeof *ra);
    if (!ra)
        return;
    for (size_t q = 0; q < na; q++) {
        ra[q].key = "recommend";
        ra[q].text = json_string_value(json_array_get(acts, q));
    }
    t->owned[t->n_owned++] = ra;
    spak_rule_def *r = &t->rules[t->n_rules++];
    r->title = json_string_value(json_object_get(txt, "title"));
    r->confidence = l->confidence;
    r->actions = ra;
    r->n_actions = na;
}

spak_status spak_transfer_load(spak_transfer *t, spak_store *store, const spak_model *m, const char *target,
                               spak_err *err)
{
    /* lessons are per device: the GPU for a CUDA problem, else the CPU (as learn.c records them) */
    bool cuda = strcmp(target, "cuda") == 0;
    json_t *dev = cuda ? spak_device_gpu_json() : spak_device_cpu_json();
    const char *name = json_string_value(json_object_get(dev, cuda ? "gpu" : "cpu"));
    const char *fam = m->problem ? spak_block_string(m->problem, "family") : NULL;
    spak_lesson *ls = NULL;
    size_t n = 0;
    spak_status st = spak_store_lesson_list(store, name ? name : "unknown", fam ? fam : "", NULL, &ls, &n, err);
    json_decref(dev);
    if (st != SPAK_OK)
        return st;
    char cls[128];
    spak_learn_shape_class(m, cls, sizeof cls);
    lesson_pick *pick = calloc(n ? n : 1, sizeof *pick);
    t->rules = calloc(SPAK_TRANSFER_MAX_RULES, sizeof *t->rules);
    t->text = json_array();
    if (!pick || !t->rules || !t->text) {
        free(pick);
        spak_store_lessons_free(ls, n);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    size_t np = 0;
    long nearest_best = LONG_MAX;
    for (size_t i = 0; i < n; i++) {
        const spak_lesson *l = &ls[i];
        if (!l->subject || !l->kind)
            continue;
        bool eff = strcmp(l->kind, "effect") == 0, best = strcmp(l->kind, "best_config") == 0;
        if (!(eff && (l->effect > 1 || l->effect < 0.67)) && !best)
            continue;
        pick[np] = (lesson_pick){l, class_distance(cls, l->shape_class), i};
        if (best && pick[np].distance < nearest_best)
            nearest_best = pick[np].distance;
        np++;
    }
    qsort(pick, np, sizeof *pick, by_distance);
    for (size_t i = 0; i < np && t->n_rules < SPAK_TRANSFER_MAX_RULES; i++) {
        if (strcmp(pick[i].l->kind, "effect") != 0 && pick[i].distance > nearest_best)
            continue; /* a best configuration of a farther shape class */
        add_rule(t, pick[i].l);
    }
    free(pick);
    spak_store_lessons_free(ls, n);
    return SPAK_OK;
}

void spak_transfer_free(spak_transfer *t)
{
    for (size_t i = 0; i < t->n_owned; i++)
        free(t->owned[i]);
    free(t->rules);
    json_decref(t->text);
    memset(t, 0, sizeof *t);
}
