/* sources.c - see sources.h. */
#include "spec/sources.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/space.h"
#include "template.h"

/* Points visited per space, and distinct files kept to report each once:
 * a space has at most SPAK_SPACE_MAX_POINTS points, but a source template
 * names a few parameters, so its files are few. */
#define MAX_FILES 256

typedef struct resolver {
    const spak_space *sp;
    size_t digits[SPAK_SPACE_MAX_PARAMS];
    bool act[SPAK_SPACE_MAX_PARAMS];
    const char *dir;
    bool rooted;           /* the template names {{root}}: the path already starts at dir */
} resolver;

static spak_status lookup(void *ud, const char *name, spak_buf *out, spak_err *err)
{
    resolver *r = ud;
    for (size_t i = 0; i < r->sp->n; i++)
        if (strcmp(r->sp->params[i].name, name) == 0) {
            /* a parameter absent at this point expands to nothing, as in a run */
            if (!r->act[i])
                return SPAK_OK;
            const spak_expr *v = r->sp->params[i].values[r->digits[i]];
            if (v->kind == SPAK_EX_UNARY)
                spak_buf_puts(out, "-");
            return spak_buf_puts(out, spak_value_text(v));
        }
    if (strcmp(name, "root") == 0) {
        r->rooted = true;
        return spak_buf_puts(out, r->dir);
    }
    return spak_errf(err, SPAK_ERR_ARG, "{{%s}} has no value before a run", name);
}

typedef struct seen {
    char *files[MAX_FILES];
    size_t n;
} seen;

static bool seen_add(seen *s, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->files[i], path) == 0)
            return false;
    if (s->n < MAX_FILES) {
        s->files[s->n] = strdup(path);
        if (s->files[s->n])
            s->n++;
    }
    return true;
}

/* One template over one space; returns the errors added. */
static size_t check_template(const spak_entry *x, const spak_space *sp, const char *dir, bool based, const char *key,
                             seen *s, spak_diags *d)
{
    resolver r = {.sp = sp, .dir = dir};
    size_t errors = 0;
    for (uint64_t k = 0; k < sp->total && s->n < MAX_FILES; k++) {
        if (!spak_space_exists(sp, k))
            continue;
        spak_space_digits(sp, k, r.digits);
        spak_space_active(sp, r.digits, r.act);
        char rel[PATH_MAX], path[PATH_MAX];
        spak_err err = {0};
        if (spak_template_expand_into(x->value->text, lookup, &r, rel, sizeof rel, &err) != SPAK_OK)
            return errors;  /* unresolvable before a run, or malformed: the run reports it */
        bool as_is = rel[0] == '/' || r.rooted;
        if (!spak_snprintf(path, sizeof path, "%s%s%s", as_is ? "" : dir, as_is ? "" : "/", rel) ||
            !seen_add(s, path))
            continue;
        if (access(path, R_OK) == 0)
            continue;
        int e = errno;
        char point[512] = "";
        if (sp->n && !spak_space_key(sp, k, point, sizeof point))
            spak_snprintf(point, sizeof point, "number %llu", (unsigned long long)k);
        char needed[600];
        spak_snprintf(needed, sizeof needed, ", needed by the point %s", point);
        spak_diags_add(d, SPAK_DIAG_ERROR, x->value->pos.line, x->value->pos.col,
                       "problem %s: cannot read %s (%s)%s; a relative path starts at %s", key, path, strerror(e),
                       point[0] ? needed : "", based ? "the front matter's base: folder" : "the spec's directory");
        errors++;
    }
    return errors;
}

size_t spak_check_sources(const spak_model *m, const char *spec_path, const char *base_dir, spak_diags *d)
{
    if (!m->problem)
        return 0;
    char dir[PATH_MAX];
    const char *sl = strrchr(spec_path, '/');
    if (base_dir)
        spak_snprintf(dir, sizeof dir, "%s", base_dir);
    else if (!sl)
        spak_snprintf(dir, sizeof dir, ".");
    else if (sl == spec_path)
        spak_snprintf(dir, sizeof dir, "/");
    else
        spak_snprintf(dir, sizeof dir, "%.*s", (int)(sl - spec_path), spec_path);
    static const char *const keys[] = {"source", "baseline_source"};
    seen s = {0};
    size_t errors = 0;
    for (size_t q = 0; q < 2; q++) {
        const spak_entry *x = spak_block_find(m->problem, keys[q]);
        if (!x || !x->value || x->value->kind != SPAK_EX_STRING)
            continue;
        /* the baseline is built without parameters: the empty space */
        size_t nl = q == 0 ? m->n_loops : 0;
        for (size_t l = 0; l <= nl; l++) {
            spak_param_def all[2 * SPAK_SPACE_MAX_PARAMS];
            const spak_param_def *params = NULL;
            size_t n = 0;
            if (l < nl) {
                params = m->loops[l].params;
                n = m->loops[l].n_params;
            } else if (q == 0 && nl == 0) {
                for (size_t i = 0; i < m->n_design && n < SPAK_ARRAY_LEN(all); i++)
                    all[n++] = m->design[i];
                for (size_t i = 0; i < m->n_tuning && n < SPAK_ARRAY_LEN(all); i++)
                    all[n++] = m->tuning[i];
                params = all;
            } else if (q == 0) {
                break;  /* the loops' spaces were all visited */
            }
            spak_space sp;  /* a loop's with its restrictions: an excluded point names no file */
            if ((l < nl ? spak_space_init_loop(&sp, &m->loops[l], NULL) : spak_space_init(&sp, params, n, NULL)) !=
                SPAK_OK)
                continue;
            errors += check_template(x, &sp, dir, base_dir != NULL, keys[q], &s, d);
        }
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.files[i]);
    return errors;
}
