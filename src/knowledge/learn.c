/* learn.c - crystallization (learn.h). */
#include "knowledge/learn.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyze/records.h"
#include "analyze/evaluate.h"
#include "analyze/trace.h"
#include "spec/fmt.h"
#include "knowledge/knowledge.h"
#include "spec/parse.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "store/scopes.h"

#define ALPHA_T 0.01
#define NOISE_FACTOR 3.0  /* an effect must exceed 3x the measurement noise */
#define DEFAULT_NOISE 0.05 /* relative noise assumed when a record gives no spread */

typedef struct learn_ev {
    int64_t id;
    uint64_t index;
    double logm;     /* log(metric) */
    double noise;    /* relative standard error of the metric from timing spread */
    bool noise_measured;
    uint64_t unreached; /* bit p: parameter p cannot act on this candidate (build/reach.h) */
} learn_ev;

/* The relative standard error of an evaluation's metric, from the spread of
 * its timings: p20..p80 spans 1.68 sigma of a normal; the median's standard
 * error is 1.2533 sigma / sqrt(reps); the metric is a geometric mean over
 * shapes, so errors of its logs add in quadrature / k. */
static bool eval_noise(spak_store *st, const char *run_id, int64_t eval_id, double *out)
{
    spak_trace_row *rows = NULL;
    size_t n = 0;
    if (spak_store_trace_list(st, run_id, eval_id, &rows, &n, NULL) != SPAK_OK)
        return false;
    double s2 = 0;
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rows[i].valid || !rows[i].record_json)
            continue;
        json_t *j = json_loads(rows[i].record_json, 0, NULL);
        if (!j)
            continue;
        if (!spak_trace_counts(j, NULL)) {  /* a held-out shape's spread is no evidence */
            json_decref(j);
            continue;
        }
        double t = json_number_value(json_object_get(j, SPAK_FIELD_TIME_MS));
        double p20 = json_number_value(json_object_get(j, SPAK_FIELD_TIME_MS_P20));
        double p80 = json_number_value(json_object_get(j, SPAK_FIELD_TIME_MS_P80));
        double reps = json_number_value(json_object_get(j, SPAK_FIELD_REPS));
        if (t > 0 && p80 >= p20 && p20 > 0 && reps >= 1) {
            double sigma = (p80 - p20) / 1.683 / t;
            double se = 1.2533 * sigma / sqrt(reps);
            s2 += se * se;
            k++;
        }
        json_decref(j);
    }
    spak_store_trace_rows_free(rows, n);
    if (!k)
        return false;
    *out = sqrt(s2) / k;
    return true;
}

static void sanitize(const char *in, char *out, size_t n)
{
    size_t k = 0;
    for (; *in && k + 1 < n; in++) {
        unsigned char c = (unsigned char)*in;
        out[k++] = (char)(((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) ? c : '_');
    }
    out[k] = '\0';
}

static void value_text(const spak_expr *v, char *buf, size_t n)
{
    spak_snprintf(buf, n, "%s%s", v->kind == SPAK_EX_UNARY ? "-" : "", spak_value_text(v));
}

/* A value as it is written in an action: numbers bare, the rest quoted. */
static void action_value(const spak_expr *v, char *buf, size_t n)
{
    char t[200];
    value_text(v, t, sizeof t);
    if (v->kind == SPAK_EX_NUMBER || v->kind == SPAK_EX_UNARY || v->kind == SPAK_EX_BOOL)
        spak_snprintf(buf, n, "%s", t);
    else
        spak_snprintf(buf, n, "'%s'", t);
}

static spak_learned *push(spak_learn_result *r)
{
    spak_learned *q = realloc(r->items, (r->n + 1) * sizeof *q);
    if (!q)
        return NULL;
    r->items = q;
    memset(&q[r->n], 0, sizeof *q);
    q[r->n].effect = NAN;
    q[r->n].uncertainty = NAN;
    return &q[r->n++];
}

static void evidence_list(const learn_ev *evs, size_t n, const bool *in, char *buf, size_t bn, const char *run_id)
{
    size_t off = 0;
    spak_snprintf(buf, bn, "run %s: evaluations", run_id);
    off = strlen(buf);
    int shown = 0;
    for (size_t i = 0; i < n && off + 16 < bn; i++) {
        if (!in[i])
            continue;
        if (shown == 12) {
            spak_snprintf(buf + off, bn - off, " ...");
            break;
        }
        spak_snprintf(buf + off, bn - off, "%s %lld", shown ? "," : "", (long long)evs[i].id);
        off = strlen(buf);
        shown++;
    }
}

/* ---- the statistics ---- */

#define RULE_ALPHA 0.05   /* Holm-adjusted p below this, with RULE_MIN_N pairs: a rule */
#define RULE_MIN_N 3      /* fewer controlled pairs: a hypothesis at most */

/* Regularized incomplete beta I_x(a, b) by its continued fraction (Lentz). */
static double betacf(double a, double b, double x)
{
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = fabs(d) < 1e-300 ? 1e300 : 1 / d;
    double h = d;
    for (int m = 1; m <= 300; m++) {
        double m2 = 2 * m, aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2));
        d = 1 + aa * d;
        c = 1 + aa / c;
        d = fabs(d) < 1e-300 ? 1e300 : 1 / d;
        c = fabs(c) < 1e-300 ? 1e-300 : c;
        h *= d * c;
        aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
        d = 1 + aa * d;
        c = 1 + aa / c;
        d = fabs(d) < 1e-300 ? 1e300 : 1 / d;
        c = fabs(c) < 1e-300 ? 1e-300 : c;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-12)
            break;
    }
    return h;
}

static double ibeta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double bt = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x));
    return x < (a + 1) / (a + b + 2) ? bt * betacf(a, b, x) / a : 1 - bt * betacf(b, a, 1 - x) / b;
}

/* Two-sided p of a t statistic with df degrees of freedom (df <= 0: normal). */
static double p_two_sided(double t, double df)
{
    if (!(df > 0))
        return erfc(fabs(t) / sqrt(2.0));
    return ibeta(df / 2, 0.5, df / (df + t * t));
}

/* The t quantile for a two-sided 95% interval, by bisection on p_two_sided. */
static double t_crit_95(double df)
{
    double lo = 0, hi = 100;
    for (int i = 0; i < 80; i++) {
        double mid = (lo + hi) / 2;
        if (p_two_sided(mid, df) > 0.05)
            lo = mid;
        else
            hi = mid;
    }
    return (lo + hi) / 2;
}

/* Holm's step-down adjustment of the m p-values in place (order kept). */
static void holm(double *p, size_t m)
{
    size_t *ord = malloc((m ? m : 1) * sizeof *ord);
    double *adj = malloc((m ? m : 1) * sizeof *adj);
    if (!ord || !adj) {
        for (size_t i = 0; i < m; i++)
            p[i] = 1;  /* no adjustment possible: nothing may pass */
        free(ord);
        free(adj);
        return;
    }
    for (size_t i = 0; i < m; i++)
        ord[i] = i;
    for (size_t i = 1; i < m; i++)  /* insertion sort: m is a few dozen */
        for (size_t j = i; j > 0 && p[ord[j]] < p[ord[j - 1]]; j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    double run = 0;
    for (size_t k = 0; k < m; k++) {
        double a = (double)(m - k) * p[ord[k]];
        run = a > run ? a : run;
        adj[ord[k]] = run < 1 ? run : 1;
    }
    memcpy(p, adj, m * sizeof *p);
    free(ord);
    free(adj);
}

/* One effect under test: P = V against P's other values, from controlled
 * pairs only. A context is the rest of the point (every other parameter's
 * value, P's digit zeroed); in each context where P exists and both V and
 * another value were measured, one observation d = mean log(metric) at V -
 * mean log(metric) at the others. */
typedef struct effect_test {
    size_t p, v;
    int n, n_in, n_out;
    double diff, se, df, stat, pval, floor;
} effect_test;

static bool controlled(const spak_space *sp, const learn_ev *evs, size_t n, size_t (*digits)[SPAK_SPACE_MAX_PARAMS],
                       const bool (*act)[SPAK_SPACE_MAX_PARAMS], const uint64_t *ctx, effect_test *t, bool *in)
{
    double s = 0, q = 0, z2 = 0;
    int nz = 0;
    t->n = t->n_in = t->n_out = 0;
    for (size_t i = 0; i < n; i++)
        in[i] = false;
    for (size_t i = 0; i < n; i++) {
        if (!act[i][t->p])
            continue;  /* P does not exist there: it cannot act */
        bool first = true;
        for (size_t k = 0; k < i && first; k++)
            first = !(act[k][t->p] && ctx[k] == ctx[i]);
        if (!first)
            continue;  /* this context was counted at its first evaluation */
        double a = 0, b = 0;
        int na = 0, nb = 0;
        for (size_t k = i; k < n; k++) {
            if (!act[k][t->p] || ctx[k] != ctx[i])
                continue;
            if (digits[k][t->p] == t->v)
                a += evs[k].logm, na++;
            else
                b += evs[k].logm, nb++;
        }
        if (!na || !nb)
            continue;
        for (size_t k = i; k < n; k++)
            if (act[k][t->p] && ctx[k] == ctx[i]) {
                in[k] = true;
                z2 += evs[k].noise * evs[k].noise;
                nz++;
                if (digits[k][t->p] == t->v)
                    t->n_in++;
                else
                    t->n_out++;
            }
        double d = a / na - b / nb;
        s += d, q += d * d;
        t->n++;
    }
    (void)sp;
    if (!t->n)
        return false;
    double mn = z2 / nz;  /* the measurements' own noise, squared (relative) */
    t->diff = s / t->n;
    double var = t->n > 1 ? (q - t->n * t->diff * t->diff) / (t->n - 1) : 0;
    if (var < 0)
        var = 0;
    /* the spread of the pairs, and at least the timing noise of a difference */
    t->se = sqrt(var / t->n + 2 * mn / t->n);
    t->df = t->n > 1 ? t->n - 1 : 0;
    if (t->se <= 0)
        t->se = 1e-12;
    t->stat = t->diff / t->se;
    t->pval = p_two_sided(t->stat, t->df);
    t->floor = NOISE_FACTOR * sqrt(mn);
    return true;
}

static void effect_lesson(spak_learn_result *r, const spak_space *sp, const effect_test *t, double p_adj, int tests,
                          const learn_ev *evs, size_t n, const bool *in, const char *run_id)
{
    spak_learned *l = push(r);
    if (!l)
        return;
    char val[200];
    const char *pn = sp->params[t->p].name;
    value_text(sp->params[t->p].values[t->v], val, sizeof val);
    double tc = t_crit_95(t->df);
    l->rule = t->n >= RULE_MIN_N && p_adj < RULE_ALPHA;
    spak_snprintf(l->kind, sizeof l->kind, "effect");
    spak_snprintf(l->param, sizeof l->param, "%s", pn);
    spak_snprintf(l->value, sizeof l->value, "%s", val);
    spak_snprintf(l->subject, sizeof l->subject, "%s=%s", pn, val);
    l->effect = exp(t->diff);
    l->lo = exp(t->diff - tc * t->se);
    l->hi = exp(t->diff + tc * t->se);
    l->uncertainty = exp(tc * t->se) - 1;
    l->p = t->pval;
    l->p_adj = p_adj;
    l->tests = tests;
    l->confidence = 1 - p_adj;
    l->stat = t->stat;
    l->n = t->n;
    l->n_in = t->n_in;
    l->n_out = t->n_out;
    evidence_list(evs, n, in, l->evidence, sizeof l->evidence, run_id);
    spak_snprintf(l->text, sizeof l->text,
                  "%s%s = %s %s: %.2fx the other values of %s [%.2f, %.2f] over %d controlled pair%s (%d vs %d "
                  "evaluations; p = %.2g, Holm-adjusted over %d effects %.2g)",
                  l->rule ? "" : "hypothesis: ", pn, val, t->diff > 0 ? "helps" : "hurts", l->effect, pn, l->lo, l->hi,
                  t->n, t->n == 1 ? "" : "s", t->n_in, t->n_out, t->pval, tests, p_adj);
}

/* The effects of every parameter value, each from controlled pairs among the
 * evaluations where the parameter exists; all tested at once, Holm-adjusted;
 * those that clear the noise floor and p < 0.05 before adjustment are
 * reported, as rules when they have RULE_MIN_N pairs and adjusted p <
 * RULE_ALPHA, else as hypotheses. Every test (reported or not) is kept in
 * *all (for the rule checks). */
static void effects(const char *run_id, const spak_space *sp, const learn_ev *evs, size_t n, spak_learn_result *r,
                    effect_test **all, size_t *n_all)
{
    *all = NULL;
    *n_all = 0;
    size_t cap = 0;
    for (size_t p = 0; p < sp->n; p++)
        cap += sp->params[p].n_values;
    bool *in = calloc(n ? n : 1, sizeof *in);
    size_t (*digits)[SPAK_SPACE_MAX_PARAMS] = calloc(n ? n : 1, sizeof *digits);
    bool (*act)[SPAK_SPACE_MAX_PARAMS] = calloc(n ? n : 1, sizeof *act);
    uint64_t *ctx = calloc(n ? n : 1, sizeof *ctx);
    effect_test *tt = calloc(cap ? cap : 1, sizeof *tt);
    double *padj = calloc(cap ? cap : 1, sizeof *padj);
    if (!in || !digits || !act || !ctx || !tt || !padj)
        goto out;
    for (size_t i = 0; i < n; i++) {
        spak_space_digits(sp, evs[i].index, digits[i]);
        spak_space_active(sp, digits[i], act[i]);
        for (size_t p = 0; p < sp->n; p++)
            if (evs[i].unreached >> p & 1)
                act[i][p] = false;  /* it exists but cannot act here: as if absent */
    }
    size_t m = 0;
    for (size_t p = 0; p < sp->n; p++) {
        if (sp->params[p].n_values < 2)
            continue;
        for (size_t i = 0; i < n; i++) {
            uint64_t c = 0;
            for (size_t q = 0; q < sp->n; q++)
                c = c * sp->params[q].n_values + (q == p || !act[i][q] ? 0 : digits[i][q]);
            ctx[i] = c;
        }
        for (size_t v = 0; v < sp->params[p].n_values; v++) {
            tt[m].p = p;
            tt[m].v = v;
            if (controlled(sp, evs, n, digits, (const bool (*)[SPAK_SPACE_MAX_PARAMS])act, ctx, &tt[m], in))
                padj[m] = tt[m].pval, m++;
        }
    }
    holm(padj, m);
    for (size_t k = 0; k < m; k++) {
        const effect_test *t = &tt[k];
        if (!(t->pval < RULE_ALPHA) || !(fabs(t->diff) > t->floor))
            continue;
        /* the evidence list: recompute the contexts of this parameter */
        for (size_t i = 0; i < n; i++) {
            uint64_t c = 0;
            for (size_t q = 0; q < sp->n; q++)
                c = c * sp->params[q].n_values + (q == t->p || !act[i][q] ? 0 : digits[i][q]);
            ctx[i] = c;
        }
        effect_test again = *t;
        (void)controlled(sp, evs, n, digits, (const bool (*)[SPAK_SPACE_MAX_PARAMS])act, ctx, &again, in);
        effect_lesson(r, sp, t, padj[k], (int)m, evs, n, in, run_id);
    }
    for (size_t k = 0; k < m; k++)
        tt[k].pval = padj[k];  /* what the rule checks read: the adjusted p */
    *all = tt;
    *n_all = m;
    tt = NULL;
out:
    free(in);
    free(digits);
    free(act);
    free(ctx);
    free(tt);
    free(padj);
}

/* ---- v(n+1) ---- */

static spak_entry *find_block(spak_block *b, const char *head)
{
    for (size_t i = 0; b && i < b->n; i++)
        if (spak_entry_word_is(b->items[i], 0, head) && b->items[i]->body)
            return b->items[i];
    return NULL;
}

/* Parse snippet (a `system S { knowledge { ... } }`) into arena; its knowledge entries. */
static spak_block *snippet_knowledge(spak_arena *a, const char *text, spak_err *err)
{
    spak_diags d;
    spak_diags_init(&d, "learned");
    spak_file *f = NULL;
    spak_status st = spak_parse("learned", text, strlen(text), a, &d, &f);
    spak_block *kb = NULL;
    if (st == SPAK_OK && f && f->top->n == 1 && f->top->items[0]->body) {
        spak_entry *k = find_block(f->top->items[0]->body, "knowledge");
        if (k)
            kb = k->body;
    }
    if (!kb) {
        spak_buf b;
        spak_buf_init(&b, 4096);
        (void)spak_diags_format(&d, &b);  /* a short message is still the message */
        (void)spak_errf(err, SPAK_ERR_INTERNAL, "learned knowledge does not parse (a bug): %s",
                        b.data ? b.data : "");  /* the NULL return is the failure; err says why */
        spak_buf_free(&b);
    }
    spak_diags_free(&d);
    return kb;
}

static const char *entry_title(const spak_entry *e)
{
    return e->n_words >= 2 ? e->words[1].text : "";
}

/* Put the snippet's entries into the knowledge block, replacing entries of
 * the same kind and name. */
static spak_status graft(spak_arena *a, spak_block *sys, spak_block *add, spak_err *err)
{
    spak_entry *k = find_block(sys, "knowledge");
    if (!k) {
        spak_entry *ne = spak_arena_alloc(a, sizeof *ne);
        spak_block *nb = spak_arena_alloc(a, sizeof *nb);
        spak_word *w = spak_arena_alloc(a, sizeof *w);
        spak_entry **items = spak_arena_alloc(a, (sys->n + 1) * sizeof *items);
        if (!ne || !nb || !w || !items)
            return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        w->text = "knowledge";
        ne->words = w;
        ne->n_words = 1;
        ne->body = nb;
        ne->blank_before = true;
        if (sys->n)
            memcpy(items, sys->items, sys->n * sizeof *items);
        items[sys->n] = ne;
        sys->items = items;
        sys->n++;
        k = ne;
    }
    spak_block *kb = k->body;
    spak_entry **items = spak_arena_alloc(a, (kb->n + add->n + 1) * sizeof *items);
    if (!items)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < kb->n; i++) {
        spak_entry *e = kb->items[i];
        spak_entry *repl = NULL;
        for (size_t j = 0; j < add->n; j++) {
            spak_entry *x = add->items[j];
            if (x && strcmp(spak_entry_head(x), spak_entry_head(e)) == 0 &&
                strcmp(entry_title(x), entry_title(e)) == 0) {
                repl = x;
                x->leading = e->leading;
                x->blank_before = e->blank_before;
                add->items[j] = NULL;  /* placed */
                break;
            }
        }
        items[n++] = repl ? repl : e;
    }
    bool first = true;
    for (size_t j = 0; j < add->n; j++)
        if (add->items[j]) {
            add->items[j]->blank_before = true;
            if (first) {
                spak_comment *c = spak_arena_alloc(a, sizeof *c);
                if (c) {
                    c->text = "// learned by spak learn: measured lessons with their evidence";
                    add->items[j]->leading.first = add->items[j]->leading.last = c;
                }
                first = false;
            }
            items[n++] = add->items[j];
        }
    kb->items = items;
    kb->n = n;
    return SPAK_OK;
}

static void append_kv(spak_buf *b, const char *key, const char *val)
{
    spak_buf_printf(b, "            %s: ", key);
    (void)spak_fmt_string(val, b);  /* a value cut short fails the snippet's parse, which says so */
    spak_buf_puts(b, "\n");
}

static char *bump_front_matter(const char *fm, int *version, const char *base)
{
    spak_buf b;
    spak_buf_init(&b, 1 << 20);
    *version = 1;
    bool found = false;
    const char *p = fm ? fm : "";
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (base && len > 5 && strncmp(p, "base:", 5) == 0) {
            /* replaced below by the absolute one */
        } else if (!found && len > 8 && strncmp(p, "version:", 8) == 0) {
            long v;
            char tmp[32];
            size_t k = 0;
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            while (k + 1 < sizeof tmp && q < p + len && *q >= '0' && *q <= '9')
                tmp[k++] = *q++;
            tmp[k] = '\0';
            if (spak_parse_long(tmp, 0, 1000000, &v))
                *version = (int)v;
            spak_buf_printf(&b, "version: %d\n", *version + 1);
            found = true;
        } else {
            spak_buf_append(&b, p, len);
            spak_buf_putc(&b, '\n');
        }
        p += len + (eol ? 1 : 0);
    }
    if (!found)
        spak_buf_printf(&b, "version: %d\n", *version + 1);
    if (base)
        spak_buf_printf(&b, "base: \"%s\"\n", base);
    return spak_buf_take(&b);
}

/* Whether two spec texts are the same but for the dates their lessons were
 * written (lines `date: "YYYY-MM-DD"`): the same lessons. */
static bool same_lessons(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ' || *b == ' ') { /* indentation is the formatter's: the same for the same text */
            if (*a != *b)
                return false;
            a++, b++;
        }
        bool da = strncmp(a, "date: \"", 7) == 0, db = strncmp(b, "date: \"", 7) == 0;
        if (da && db) {
            a += strcspn(a, "\n");
            b += strcspn(b, "\n");
        }
        size_t la = strcspn(a, "\n"), lb = strcspn(b, "\n");
        if (la != lb || memcmp(a, b, la) != 0)
            return false;
        a += la, b += lb;
        if (!*a || !*b)
            return !*a && !*b;
        a++, b++;
    }
}

/* Whether the file at path holds text (but for dates). */
static bool file_has(const char *path, const char *text)
{
    char *old = NULL;
    size_t n;
    bool same = spak_read_file(path, (size_t)16 << 20, &old, &n, NULL) == SPAK_OK && same_lessons(old, text);
    free(old);
    return same;
}

/* The last '.' of path's file name (a folder such as /tmp/x.v9bxFS has
 * none of its own), or NULL. */
static char *name_dot(char *path)
{
    char *file = strrchr(path, '/');
    return strrchr(file ? file + 1 : path, '.');
}

/* NAME.spak or NAME.vN.spak -> DIR/NAME.v(N+1).spak (DIR: dir, NULL = the
 * spec's own folder), the first that does not exist; or the first that
 * already holds text (the same lessons: *same set). */
static void next_path(const char *spec_path, const char *dir, int version, const char *text, char *out, size_t n,
                      bool *same)
{
    char base[4096];
    const char *name = strrchr(spec_path, '/');
    if (dir)
        spak_snprintf(base, sizeof base, "%s/%s", dir, name ? name + 1 : spec_path);
    else
        spak_snprintf(base, sizeof base, "%s", spec_path);
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".spak") == 0)
        base[len - 5] = '\0';
    /* the version suffix: ".v" then digits, in the file's name only */
    char *dot = name_dot(base);
    if (dot && dot[1] == 'v' && dot[2] && strspn(dot + 2, "0123456789") == strlen(dot + 2))
        *dot = '\0';
    *same = false;
    for (int v = version + 1; v < version + 1000; v++) {
        spak_snprintf(out, n, "%s.v%d.spak", base, v);
        if (access(out, F_OK) != 0)
            return;
        if (file_has(out, text)) {
            *same = true;
            return;
        }
    }
}

/* The end of a learned fact: its evidence, where and when it was measured. */
static void fact_tail(spak_buf *b, const char *evidence, const char *device, const char *date)
{
    append_kv(b, "evidence", evidence);
    append_kv(b, "device", device);
    append_kv(b, "date", date);
    spak_buf_puts(b, "        }\n");
}

/* The end of a learned rule: its confidence, then the evidence naming the
 * fact it rests on first. */
static void rule_tail(spak_buf *b, double confidence, const char *fact, const spak_learned *l,
                      const spak_learn_result *r, const char *date)
{
    spak_buf_printf(b, "            confidence: %.3g\n", confidence);
    char ev[700];
    spak_snprintf(ev, sizeof ev, "fact %s; %s", fact, l->evidence);
    fact_tail(b, ev, r->device, date);
}

/* An effect: a fact with its numbers, and a machine-readable rule when it is
 * large enough to act on (prefer what helped, exclude what hurt badly). */
static void write_effect(spak_buf *b, const spak_space *sp, const spak_learn_result *r, const spak_learned *l,
                         const char *date)
{
    char name[300], sp_[200], sv[200];
    sanitize(l->param, sp_, sizeof sp_);
    sanitize(l->value, sv, sizeof sv);
    spak_snprintf(name, sizeof name, "lesson_%s_%s", sp_, sv);
    spak_buf_printf(b, "        fact %s {\n", name);
    append_kv(b, "kind", l->rule ? (l->effect >= 1 ? "effect: helps" : "effect: hurts")
                                 : (l->effect >= 1 ? "hypothesis: helps" : "hypothesis: hurts"));
    append_kv(b, "description", l->text);
    spak_buf_printf(b, "            effect: %.4g\n            uncertainty: %.3g\n            confidence: %.3g\n",
                    l->effect, l->uncertainty, l->confidence);
    fact_tail(b, l->evidence, r->device, date);
    size_t p = 0;
    for (; p < sp->n && strcmp(sp->params[p].name, l->param) != 0; p++)
        ;
    size_t vi = 0;
    for (; p < sp->n && vi < sp->params[p].n_values; vi++) {
        char t[200];
        value_text(sp->params[p].values[vi], t, sizeof t);
        if (strcmp(t, l->value) == 0)
            break;
    }
    /* a hypothesis stays a fact: only a rule-grade effect steers the next run */
    if (!l->rule || p >= sp->n || vi >= sp->params[p].n_values || !(l->effect > 1 || l->effect < 0.67))
        return;
    char av[220], title[400], act[500];
    action_value(sp->params[p].values[vi], av, sizeof av);
    bool pref = l->effect > 1;
    spak_snprintf(title, sizeof title, "Learned: %s %s = %s", pref ? "prefer" : "avoid", l->param, l->value);
    spak_snprintf(act, sizeof act, "%s %s = %s", pref ? "prefer" : "exclude", l->param, av);
    spak_buf_puts(b, "        rule ");
    (void)spak_fmt_string(title, b);  /* cut short, the snippet's parse fails and says so */
    spak_buf_puts(b, " {\n");
    append_kv(b, pref ? "recommend" : "apply", act);
    rule_tail(b, l->confidence, name, l, r, date);
}

/* "recommend: prefer P = V" for one "P=V" pair of a candidate key (n bytes),
 * for each value of P written V. */
static void recommend_pair(spak_buf *b, const spak_space *sp, const char *k, size_t n)
{
    char pair[300], pname[200], pval[200];
    spak_snprintf(pair, sizeof pair, "%.*s", (int)n, k);
    char *eq = strchr(pair, '=');
    if (!eq)
        return;
    *eq = '\0';
    spak_snprintf(pname, sizeof pname, "%s", pair);
    spak_snprintf(pval, sizeof pval, "%s", eq + 1);
    for (size_t p = 0; p < sp->n; p++)
        if (strcmp(sp->params[p].name, pname) == 0)
            for (size_t vi = 0; vi < sp->params[p].n_values; vi++) {
                char t[200], av[220], act[500];
                value_text(sp->params[p].values[vi], t, sizeof t);
                if (strcmp(t, pval) != 0)
                    continue;
                action_value(sp->params[p].values[vi], av, sizeof av);
                spak_snprintf(act, sizeof act, "prefer %s = %s", pname, av);
                append_kv(b, "recommend", act);
            }
}

/* The best configuration: a fact, and a rule that starts the next run there
 * (prefer each of its values). */
static void write_best(spak_buf *b, const spak_space *sp, const spak_learn_result *r, const spak_learned *l,
                       const char *date)
{
    char name[300], sc[200];
    sanitize(r->shape_class, sc, sizeof sc);
    spak_snprintf(name, sizeof name, "best_%s_%s", r->family[0] ? r->family : "config", sc);
    spak_buf_printf(b, "        fact %s {\n", name);
    append_kv(b, "kind", "best configuration");
    append_kv(b, "description", l->text);
    append_kv(b, "candidate", l->subject);
    append_kv(b, "shape_class", r->shape_class);
    spak_buf_printf(b, "            confidence: %.3g\n", l->confidence);
    fact_tail(b, l->evidence, r->device, date);
    spak_buf_puts(b, "        rule \"Learned: start from the best configuration\" {\n");
    for (const char *k = l->subject; *k;) {
        const char *comma = strchr(k, ',');
        size_t len = comma ? (size_t)(comma - k) : strlen(k);
        recommend_pair(b, sp, k, len);
        k += len + (comma ? 1 : 0);
    }
    rule_tail(b, l->confidence, name, l, r, date);
}

/* A rule whose recommendation measured worse keeps its entries, with less
 * confidence and a review flag. */
static void write_rule_check(spak_buf *b, const spak_model *m, const spak_learned *l)
{
    const spak_rule_def *rd = NULL;
    for (size_t i = 0; i < m->n_rules; i++)
        if (strcmp(m->rules[i].title, l->subject) == 0)
            rd = &m->rules[i];
    if (!rd || !rd->entry->body)
        return;
    spak_buf_puts(b, "        rule ");
    (void)spak_fmt_string(rd->title, b);  /* cut short, the snippet's parse fails and says so */
    spak_buf_puts(b, " {\n");
    for (size_t q = 0; q < rd->entry->body->n; q++) {
        const spak_entry *x = rd->entry->body->items[q];
        if (spak_entry_word_is(x, 0, "confidence") || spak_entry_word_is(x, 0, "review") || !x->value)
            continue;
        spak_buf_printf(b, "            %s: ", spak_entry_head(x));
        (void)spak_fmt_expr(x->value, b);  /* cut short, the snippet's parse fails and says so */
        spak_buf_puts(b, "\n");
    }
    spak_buf_printf(b, "            confidence: %.3g\n", l->confidence);
    append_kv(b, "review", l->text);
    append_kv(b, "evidence", l->evidence);
    spak_buf_puts(b, "        }\n");
}

/* The lessons as the text of `system Learned { knowledge { ... } }`, parsed
 * into the spec's arena: its knowledge entries (NULL and err on failure). */
static spak_block *lessons_knowledge(spak_spec *spec, const spak_model *m, const spak_space *sp,
                                     const spak_learn_result *r, const char *date, spak_err *err)
{
    spak_buf b;
    spak_buf_init(&b, 4 << 20);
    spak_buf_puts(&b, "system Learned {\n    knowledge {\n");
    for (size_t i = 0; i < r->n; i++) {
        const spak_learned *l = &r->items[i];
        if (strcmp(l->kind, "effect") == 0)
            write_effect(&b, sp, r, l, date);
        else if (strcmp(l->kind, "best_config") == 0)
            write_best(&b, sp, r, l, date);
        else if (strcmp(l->kind, "rule_check") == 0)
            write_rule_check(&b, m, l);
    }
    spak_buf_puts(&b, "    }\n}\n");
    if (b.len == 0) {
        spak_buf_free(&b);
        (void)spak_errf(err, SPAK_ERR_NOMEM, "out of memory");  /* the NULL return is the failure */
        return NULL;
    }
    spak_arena *a = spak_spec_arena(spec);
    char *snip = spak_arena_strdup(a, b.data);
    spak_buf_free(&b);
    if (!snip) {
        (void)spak_errf(err, SPAK_ERR_NOMEM, "out of memory");  /* the NULL return is the failure */
        return NULL;
    }
    return snippet_knowledge(a, snip, err);
}

/* The spec with the lessons grafted in and its version bumped, formatted
 * into r (text and diff against v(n)), and checked: v(n+1) must be a valid
 * spec. *version receives n. */
static spak_status next_spec_text(spak_spec *spec, const spak_model *m, spak_block *add, const char *spec_path,
                                  const char *base, spak_learn_result *r, int *version, spak_err *err)
{
    spak_arena *a = spak_spec_arena(spec);
    spak_file *f = (spak_file *)spak_spec_file(spec);
    spak_status st = graft(a, (spak_block *)m->system, add, err);
    if (st != SPAK_OK)
        return st;
    char *fm = bump_front_matter(f->front_matter, version, base);
    if (!fm)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    f->front_matter = spak_arena_strdup(a, fm);
    free(fm);
    spak_buf out;
    spak_buf_init(&out, 8 << 20);
    st = spak_fmt_file(f, &out);
    if (st != SPAK_OK) {
        spak_buf_free(&out);
        return spak_errf(err, st, "cannot format spec v(n+1)");
    }
    r->new_spec_text = spak_buf_take(&out);
    size_t olen;
    const char *old = spak_spec_source(spec, &olen);
    r->diff = spak_text_diff(old, r->new_spec_text);
    spak_spec *chk = NULL;
    st = spak_spec_load_mem(spec_path, r->new_spec_text, strlen(r->new_spec_text), &chk, err);
    if (st != SPAK_OK) {
        spak_buf d;
        spak_buf_init(&d, 1 << 16);
        if (chk)
            (void)spak_diags_format(spak_spec_diags(chk), &d);  /* a short message is still the message */
        st = spak_errf(err, SPAK_ERR_INTERNAL, "spec v(n+1) does not check (a bug): %s", d.data ? d.data : "");
        spak_buf_free(&d);
        spak_spec_free(chk);
        return st;
    }
    spak_spec_free(chk);
    return SPAK_OK;
}

/* the folder of path, "." when it names none */
static void dir_of(const char *path, char *out, size_t n)
{
    spak_snprintf(out, n, "%s", path);
    char *slash = strrchr(out, '/');
    if (!slash)
        spak_snprintf(out, n, ".");
    else if (slash == out)
        out[1] = '\0';
    else
        *slash = '\0';
}

/* The absolute folder the original's relative paths start from, into
 * base[n], when v(n+1) goes to another folder (out_path's, or out_dir) than
 * the original's: v(n+1) then names it in its front matter (`base:`), so it
 * runs where it is written. "" when it stays beside the original, or when a
 * path holds a quote (left relative: it would not survive the quoting). */
static void moved_base(const spak_spec *spec, const char *spec_path, const spak_learn_opts *o, char *base, size_t n)
{
    char to[PATH_MAX], orig[PATH_MAX], real_to[PATH_MAX], real_orig[PATH_MAX];
    base[0] = '\0';
    if (!o->out_dir && !o->out_path)
        return; /* beside the original */
    if (o->out_dir)
        spak_snprintf(to, sizeof to, "%s", o->out_dir);
    else
        dir_of(o->out_path, to, sizeof to);
    dir_of(spec_path, orig, sizeof orig);
    if (realpath(to, real_to) && realpath(orig, real_orig) && strcmp(real_to, real_orig) == 0)
        return;
    spak_spec_base_dir(spak_spec_file(spec)->front_matter, spec_path, base, n);
    if (base[0] != '/' || strpbrk(base, "\"\\\n"))
        base[0] = '\0';
}

/* v(n+1): the lessons grafted into the run's spec, checked, and written
 * (o->out_path, else NAME.v(n+1).spak in o->out_dir or beside the spec)
 * when o->write_spec, unless the same lessons were written there before. */
static spak_status write_spec(spak_spec *spec, const spak_model *m, const spak_space *sp, const spak_run *run,
                              spak_learn_result *r, const spak_learn_opts *o, const char *date, spak_err *err)
{
    spak_block *add = lessons_knowledge(spec, m, sp, r, date, err);
    if (!add)
        return err ? err->status : SPAK_ERR_INTERNAL;
    int version;
    char base[PATH_MAX];
    const char *sp_path = run->spec_path ? run->spec_path : "spec.spak";
    moved_base(spec, sp_path, o, base, sizeof base);
    spak_status st = next_spec_text(spec, m, add, run->spec_path ? run->spec_path : "spec", base[0] ? base : NULL, r,
                                    &version, err);
    if (st != SPAK_OK)
        return st;
    if (o->out_path) {
        spak_snprintf(r->new_spec_path, sizeof r->new_spec_path, "%s", o->out_path);
        r->unchanged = file_has(o->out_path, r->new_spec_text);
    } else {
        next_path(sp_path, o->out_dir, version, r->new_spec_text, r->new_spec_path, sizeof r->new_spec_path,
                  &r->unchanged);
        char next[4200]; /* the crystallization's v(n+1) in the run's folder */
        spak_snprintf(next, sizeof next, "%s/spec.next.spak", o->out_dir ? o->out_dir : "");
        if (o->out_dir && !r->unchanged && file_has(next, r->new_spec_text)) {
            spak_snprintf(r->new_spec_path, sizeof r->new_spec_path, "%s", next);
            r->unchanged = true;
        }
    }
    if (run->spec_path && strcmp(r->new_spec_path, run->spec_path) == 0)
        return spak_errf(err, SPAK_ERR_ARG, "refusing to overwrite the original spec %s", run->spec_path);
    if (r->unchanged)
        return SPAK_OK; /* the same lessons are there: nothing to write (new_spec_path names them) */
    if (o->write_spec) {
        st = spak_write_file_atomic(r->new_spec_path, r->new_spec_text, strlen(r->new_spec_text), err);
        if (st != SPAK_OK)
            return st;
    } else {
        r->new_spec_path[0] = '\0';
    }
    return SPAK_OK;
}

/* ---- the whole step ---- */

void spak_learn_shape_class(const spak_model *m, char *out, size_t n)
{
    /* size bucket: round(log2(geometric mean of every dimension of every shape)) */
    const spak_entry *e = m->problem ? spak_block_find(m->problem, "shapes") : NULL;
    double s = 0;
    int k = 0;
    if (e && e->value && e->value->kind == SPAK_EX_LIST)
        for (size_t i = 0; i < e->value->n_items; i++) {
            const char *t = spak_value_text(e->value->items[i]);
            while (*t) {
                double v = strtod(t, (char **)&t);
                if (v > 0) {
                    s += log2(v);
                    k++;
                }
                while (*t && (*t < '0' || *t > '9'))
                    t++;
            }
        }
    if (k)
        spak_snprintf(out, n, "size~2^%ld", lround(s / k));
    else
        spak_snprintf(out, n, "any");
}

bool spak_learn_shape_class_log2(const char *shape_class, long *k)
{
    char *end;
    if (!shape_class || strncmp(shape_class, "size~2^", 7) != 0)
        return false;
    errno = 0;
    long v = strtol(shape_class + 7, &end, 10);
    if (errno || end == shape_class + 7 || *end)
        return false;
    *k = v;
    return true;
}

/* The loop the run used: named in its first journal row; else the spec's first. */
static const spak_loop_def *run_loop(spak_store *st, const char *run_id, const spak_model *m)
{
    const spak_loop_def *loop = m->n_loops ? &m->loops[0] : NULL;
    spak_journal_entry *j = NULL;
    size_t nj = 0;
    if (spak_store_journal_list(st, run_id, &j, &nj, NULL) == SPAK_OK && nj && j[0].detail_json) {
        json_t *d = json_loads(j[0].detail_json, 0, NULL);
        const char *ln = json_string_value(json_object_get(d, "loop"));
        if (ln && spak_model_loop(m, ln))
            loop = spak_model_loop(m, ln);
        json_decref(d);
    }
    spak_store_journal_free(j, nj);
    return loop;
}

/* Where the lessons hold: device, family, shape class. */
static void describe_run(const spak_run *run, const spak_model *m, spak_learn_result *r)
{
    json_t *dev = run->device_json ? json_loads(run->device_json, 0, NULL) : NULL;
    const char *cpu = dev ? json_string_value(json_object_get(dev, "cpu")) : NULL;
    const char *gpu = dev ? json_string_value(json_object_get(dev, "gpu")) : NULL;
    spak_snprintf(r->device, sizeof r->device, "%s", gpu ? gpu : cpu ? cpu : "unknown");
    json_decref(dev);
    const char *fam = m->problem ? spak_block_string(m->problem, "family") : NULL;
    spak_snprintf(r->family, sizeof r->family, "%s", fam ? fam : "");
    spak_learn_shape_class(m, r->shape_class, sizeof r->shape_class);
}

/* The evaluations lessons are drawn from (done, correct, with a positive
 * metric, a point of the space) into evs (n of them; evs holds nevl);
 * *best the index of the best, SIZE_MAX when there is none. */
static void usable_evals(spak_store *st, const char *run_id, const spak_space *sp, const spak_loop_def *loop,
                         const spak_eval *evl, size_t nevl, learn_ev *evs, size_t *n_out, size_t *best_out)
{
    size_t n = 0, best = SIZE_MAX;
    bool maximize = loop->objective == SPAK_OBJ_MAXIMIZE;
    for (size_t i = 0; i < nevl; i++) {
        if (strcmp(evl[i].status, SPAK_EVAL_DONE) != 0 || evl[i].correct == 0 || isnan(evl[i].metric) ||
            evl[i].metric <= 0 || !evl[i].cand_key)
            continue;
        uint64_t idx;
        if (!spak_space_find(sp, evl[i].cand_key, &idx))
            continue;
        learn_ev *x = &evs[n];
        x->id = evl[i].eval_id;
        x->index = idx;
        /* larger is better in log space whatever the objective */
        x->logm = maximize ? log(evl[i].metric) : -log(evl[i].metric);
        x->unreached = spak_result_unreached(evl[i].result_json, sp);
        x->noise_measured = eval_noise(st, run_id, x->id, &x->noise);
        if (!x->noise_measured)
            x->noise = DEFAULT_NOISE;
        if (best == SIZE_MAX || x->logm > evs[best].logm)
            best = n;
        n++;
    }
    *n_out = n;
    *best_out = best;
}

/* Mark every lesson when any evaluation they may be drawn from has
 * untrusted records (one run, one measure command: in practice all or
 * none): the flag, the text and the evidence say so. */
static void mark_untrusted(const spak_eval *evl, size_t nevl, spak_learn_result *r)
{
    bool any = false;
    for (size_t i = 0; i < nevl && !any; i++)
        any = spak_result_untrusted(evl[i].result_json);
    for (size_t i = 0; any && i < r->n; i++) {
        spak_learned *l = &r->items[i];
        l->untrusted = true;
        size_t tl = strlen(l->text), el = strlen(l->evidence);
        spak_snprintf(l->text + tl, sizeof l->text - tl, " (untrusted records)");
        spak_snprintf(l->evidence + el, sizeof l->evidence - el, "; untrusted records, not from one of spak's judges");
    }
}

/* The run's own best, as its summary names it (the re-time's winner, or
 * the best on the paired ratio where the evaluations have one: the rule
 * the engine ranked by, "ranked_on"): its evaluation id, 0 when the run has
 * no summary (not ended) or no best; *ranked_on gets the rule ("" unknown). */
static long long run_best(const char *summary_json, char *ranked_on, size_t n)
{
    ranked_on[0] = '\0';
    json_t *sum = summary_json ? json_loads(summary_json, 0, NULL) : NULL;
    json_t *id = json_object_get(json_object_get(sum, "best"), "eval_id");
    long long best = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
    const char *on = json_string_value(json_object_get(sum, "ranked_on"));
    if (on)
        spak_snprintf(ranked_on, n, "%s", on);
    json_decref(sum);
    return best;
}

/* The best_config lesson: evaluation be, the best of n correct ones
 * (ranked_on: how the run ranked it, "" when learn ranked on the metric). */
static void best_config(spak_learn_result *r, const char *run_id, const spak_loop_def *loop, const spak_eval *be,
                        size_t n, const char *ranked_on)
{
    spak_learned *l = push(r);
    if (!l)
        return;
    spak_snprintf(l->kind, sizeof l->kind, "best_config");
    spak_snprintf(l->subject, sizeof l->subject, "%s", be->cand_key);
    l->effect = be->ratio;
    l->confidence = n >= 2 ? 1 - ALPHA_T : 0.5;
    spak_snprintf(l->evidence, sizeof l->evidence, "run %s: evaluation %lld of %zu correct, %s%s", run_id,
                  (long long)be->eval_id, n, ranked_on[0] ? "the run's best, ranked on the " : "the best on the ",
                  ranked_on[0] ? ranked_on : loop->metric);
    spak_snprintf(l->text, sizeof l->text, "best of %zu correct candidates on %s for %s %s: %s with %s %.4g%s%.3fx %s",
                  n, r->device, r->family[0] ? r->family : "this problem", r->shape_class, be->cand_key, loop->metric,
                  be->metric, isnan(be->ratio) ? "" : ", ", isnan(be->ratio) ? 0.0 : be->ratio,
                  isnan(be->ratio) ? "" : "the baseline");
}

/* rule_check lessons: a rule that recommends P = V (prefer or set) or
 * excludes it, contradicted by this run's controlled pairs (the effect of
 * P = V points the other way), has its confidence recomputed from them,
 * whatever it was: the Holm-adjusted p of the contradicting effect (the
 * chance that data this contrary come from a rule that holds). Below its old
 * confidence and the rule threshold (1 - RULE_ALPHA), it is written back with
 * it and a review line. */
static void rule_checks(const spak_model *m, const spak_space *sp, const effect_test *tests, size_t n_tests,
                        spak_learn_result *r)
{
    for (size_t i = 0; i < m->n_rules; i++) {
        const spak_rule_def *rd = &m->rules[i];
        for (size_t a = 0; a < rd->n_actions; a++) {
            spak_action act;
            if (!spak_action_parse(rd->actions[a].text, rd->actions[a].key, sp, &act, NULL, 0))
                continue;
            bool up = act.kind == SPAK_ACT_PREFER || act.kind == SPAK_ACT_SET;
            if (!up && act.kind != SPAK_ACT_EXCLUDE)
                continue;
            const effect_test *t = NULL;
            for (size_t k = 0; k < n_tests && !t; k++)
                if (tests[k].p == act.param && tests[k].v == act.values[0])
                    t = &tests[k];
            if (!t)
                continue;  /* no controlled pair: nothing to recompute from */
            bool agrees = up ? t->diff > 0 : t->diff < 0;
            double old = rd->confidence >= 0 ? rd->confidence : 1.0;
            /* data that point the rule's way but are too few to confirm it
             * leave it as it is: only a contradiction demotes */
            double now = t->pval;
            if (agrees || !(now < old) || now >= 1 - RULE_ALPHA)
                continue;
            spak_learned *l = push(r);
            if (!l)
                break;
            spak_snprintf(l->kind, sizeof l->kind, "rule_check");
            spak_snprintf(l->subject, sizeof l->subject, "%s", rd->title);
            l->confidence = now;
            l->effect = exp(t->diff);
            l->n = t->n;
            l->p_adj = t->pval;
            spak_snprintf(l->evidence, sizeof l->evidence, "%d controlled pairs of this run", t->n);
            spak_snprintf(l->text, sizeof l->text,
                          "review: '%s' measured %.2fx the other values over %d controlled pairs (Holm-adjusted p "
                          "%.2g); confidence recomputed from the data %.2g -> %.2g, below the rule threshold %.2g",
                          rd->actions[a].text, exp(t->diff), t->n, t->pval, old, now, 1 - RULE_ALPHA);
        }
    }
}

/* One line of the insights log: the lesson as JSON. */
static void insight_line(FILE *fp, const char *run_id, const spak_learn_result *r, const spak_learned *l,
                         const char *date)
{
    json_t *line = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "date", date, "run_id", run_id, "device",
                             r->device, "family", r->family, "shape_class", r->shape_class, "kind", l->kind,
                             "subject", l->subject, "text", l->text, "evidence", l->evidence);
    json_object_set_new(line, "effect", isnan(l->effect) ? json_null() : json_real(l->effect));
    json_object_set_new(line, "uncertainty", isnan(l->uncertainty) ? json_null() : json_real(l->uncertainty));
    json_object_set_new(line, "confidence", json_real(l->confidence));
    if (l->untrusted)
        json_object_set_new(line, "untrusted", json_true());
    char *t = json_dumps(line, JSON_COMPACT);
    if (t)
        fprintf(fp, "%s\n", t);
    free(t);
    json_decref(line);
}

/* The lesson as a row of the store. */
static spak_status insert_lesson(spak_store *st, const char *run_id, const spak_learn_result *r,
                                 const spak_learned *l, spak_err *err)
{
    spak_lesson les = {.run_id = (char *)run_id, .device = (char *)r->device, .family = (char *)r->family,
                       .shape_class = (char *)r->shape_class, .kind = (char *)l->kind, .subject = (char *)l->subject,
                       .effect = l->effect, .uncertainty = l->uncertainty, .confidence = l->confidence,
                       .text = (char *)l->text};
    json_t *evj = json_pack("{s:s,s:s,s:f,s:i,s:i}", "evidence", l->evidence, "param", l->param, "stat",
                            isnan(l->stat) ? 0.0 : l->stat, "n_in", l->n_in, "n_out", l->n_out);
    if (l->untrusted)
        json_object_set_new(evj, "untrusted", json_true());
    char *evs = json_dumps(evj, JSON_COMPACT);
    les.evidence_json = evs;
    spak_status s = spak_store_lesson_insert(st, &les, NULL, err);
    free(evs);
    json_decref(evj);
    return s;
}

/* The lessons into the store (once per run, however often it is learned
 * from) and appended to the insights log. */
static spak_status record(spak_store *st, const char *run_id, const spak_learn_opts *o, spak_learn_result *r,
                          const char *date, spak_err *err)
{
    bool already = false;
    spak_status s = spak_store_learned_get(st, run_id, &already, err);
    if (s != SPAK_OK)
        return s;
    if (!already && (s = spak_store_learned_put(st, run_id, err)) != SPAK_OK)
        return s;
    if (o->insights_path)
        spak_snprintf(r->insights_path, sizeof r->insights_path, "%s", o->insights_path);
    else if (r->new_spec_path[0]) {
        spak_snprintf(r->insights_path, sizeof r->insights_path, "%s", r->new_spec_path);
        char *dot = name_dot(r->insights_path);
        if (dot)
            *dot = '\0';
        size_t L = strlen(r->insights_path);
        spak_snprintf(r->insights_path + L, sizeof r->insights_path - L, ".insights.jsonl");
    }
    FILE *fp = r->insights_path[0] ? fopen(r->insights_path, "a") : NULL;
    for (size_t i = 0; i < r->n && s == SPAK_OK; i++) {
        if (!already)
            s = insert_lesson(st, run_id, r, &r->items[i], err);
        if (fp)
            insight_line(fp, run_id, r, &r->items[i], date);
    }
    if (fp)
        fclose(fp);
    return s;
}

spak_status spak_learn(spak_store *st, const char *run_id, const spak_learn_opts *o, spak_learn_result *r,
                       spak_err *err)
{
    memset(r, 0, sizeof *r);
    spak_run run = {0};
    spak_spec *spec = NULL;
    spak_eval *evl = NULL;
    size_t nevl = 0;
    learn_ev *evs = NULL;
    effect_test *tests = NULL;
    spak_status s = spak_store_run_get(st, run_id, &run, err);
    if (s != SPAK_OK)
        return s;
    s = spak_spec_load_mem(run.spec_path ? run.spec_path : "spec", run.spec_text ? run.spec_text : "",
                           run.spec_text ? strlen(run.spec_text) : 0, &spec, err);
    if (s != SPAK_OK)
        goto out;
    const spak_model *m = spak_spec_model(spec);
    const spak_loop_def *loop = run_loop(st, run_id, m);
    if (!loop) {
        s = spak_errf(err, SPAK_ERR_CHECK, "the run's spec has no engineering_loop");
        goto out;
    }
    spak_space sp;
    s = spak_space_init_loop(&sp, loop, err);
    if (s != SPAK_OK)
        goto out;
    describe_run(&run, m, r);
    s = spak_store_eval_list(st, run_id, &evl, &nevl, err);
    if (s != SPAK_OK)
        goto out;
    evs = calloc(nevl ? nevl : 1, sizeof *evs);
    if (!evs) {
        s = spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        goto out;
    }
    size_t n, best, n_tests = 0;
    usable_evals(st, run_id, &sp, loop, evl, nevl, evs, &n, &best);
    /* the best the run itself named (its re-time, its ranking on the
     * paired ratio), not a re-ranking here on the metric alone, which
     * drifts with the baseline's own speed from one evaluation to the next */
    char ranked_on[32];
    long long rb = run_best(run.summary_json, ranked_on, sizeof ranked_on);
    bool named = false;
    for (size_t k = 0; rb && k < n && !named; k++)
        if (evs[k].id == rb) {
            best = k;
            named = true;
        }
    if (!named)
        ranked_on[0] = '\0';
    effects(run_id, &sp, evs, n, r, &tests, &n_tests);
    for (size_t i = 0; best != SIZE_MAX && i < nevl; i++)
        if (evl[i].eval_id == evs[best].id)
            best_config(r, run_id, loop, &evl[i], n, ranked_on);
    rule_checks(m, &sp, tests, n_tests, r);
    mark_untrusted(evl, nevl, r);
    char date[32];
    spak_format_utc(spak_now_wall(), date, sizeof date);
    date[10] = '\0';
    s = write_spec(spec, m, &sp, &run, r, o, date, err);
    if (s == SPAK_OK && o->record && !r->unchanged) /* the same lessons are never logged twice */
        s = record(st, run_id, o, r, date, err);
out:
    free(tests);
    free(evs);
    spak_store_evals_free(evl, nevl);
    spak_spec_free(spec);
    spak_store_run_free(&run);
    return s;
}

void spak_learn_result_free(spak_learn_result *r)
{
    free(r->items);
    free(r->new_spec_text);
    free(r->diff);
    memset(r, 0, sizeof *r);
}

/* ---- diff ---- */

typedef struct lines {
    const char **p;
    size_t *len;
    size_t n;
} lines;

static bool split_lines(const char *s, lines *L)
{
    size_t n = 0;
    for (const char *q = s; *q; q++)
        if (*q == '\n')
            n++;
    n++;
    L->p = malloc(n * sizeof *L->p);
    L->len = malloc(n * sizeof *L->len);
    if (!L->p || !L->len)
        return false;
    L->n = 0;
    const char *q = s;
    while (*q) {
        const char *e = strchr(q, '\n');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        L->p[L->n] = q;
        L->len[L->n++] = len;
        q += len + (e ? 1 : 0);
    }
    return true;
}

static bool line_eq(const lines *a, size_t i, const lines *b, size_t j)
{
    return a->len[i] == b->len[j] && memcmp(a->p[i], b->p[j], a->len[i]) == 0;
}

char *spak_text_diff(const char *a, const char *b)
{
    lines A = {0}, B = {0};
    spak_buf out;
    spak_buf_init(&out, 16 << 20);
    unsigned *t = NULL;
    if (!split_lines(a, &A) || !split_lines(b, &B))
        goto done;
    size_t n = A.n, m = B.n;
    if ((n + 1) * (m + 1) > (size_t)64 << 20) {
        spak_buf_puts(&out, "(files too large to diff)\n");
        goto done;
    }
    /* LCS table from the end */
    t = calloc((n + 1) * (m + 1), sizeof *t);
    if (!t)
        goto done;
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = n; i-- > 0;)
        for (size_t j = m; j-- > 0;)
            T(i, j) = line_eq(&A, i, &B, j) ? T(i + 1, j + 1) + 1 : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
    size_t i = 0, j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && line_eq(&A, i, &B, j)) {
            i++, j++;
            continue;
        }
        /* a hunk: context of up to 2 lines before */
        size_t ci = i >= 2 ? i - 2 : 0;
        spak_buf_printf(&out, "@@ line %zu @@\n", i + 1);
        for (size_t k = ci; k < i; k++) {
            spak_buf_puts(&out, " ");
            spak_buf_append(&out, A.p[k], A.len[k]);
            spak_buf_puts(&out, "\n");
        }
        while (i < n || j < m) {
            if (i < n && j < m && line_eq(&A, i, &B, j))
                break;
            if (j < m && (i == n || T(i, j + 1) >= T(i + 1, j))) {
                spak_buf_puts(&out, "+");
                spak_buf_append(&out, B.p[j], B.len[j]);
                spak_buf_puts(&out, "\n");
                j++;
            } else {
                spak_buf_puts(&out, "-");
                spak_buf_append(&out, A.p[i], A.len[i]);
                spak_buf_puts(&out, "\n");
                i++;
            }
        }
    }
#undef T
done:
    free(t);
    free(A.p);
    free(A.len);
    free(B.p);
    free(B.len);
    return spak_buf_take(&out);
}
