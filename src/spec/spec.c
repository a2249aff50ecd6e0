/*
 * spec.c - the spak_spec object (spec.h): load = read + parse (parse.c) +
 * check (check.c); the spec owns the source, the tree, the diagnostics and
 * the model, all freed together.
 */
#include "spec/spec.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spec/check.h"
#include "spec/lex.h"    /* SPAK_MAX_SPEC_BYTES */
#include "spec/parse.h"
#include "spec/sources.h"
#include "spec/t1.h"
#include "spec/t1_import.h"

static bool front_value(const char *fm, const char *key, char *out, size_t n);

struct spak_spec {
    char *path;
    char *src;
    size_t len;
    spak_arena arena;
    spak_diags diags;
    spak_file *file;
    spak_model model;
    bool valid;
};

spak_status spak_spec_load_mem(const char *path, const char *src, size_t len, spak_spec **out, spak_err *err)
{
    *out = NULL;
    spak_spec *s = calloc(1, sizeof *s);
    if (!s)
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    s->path = strdup(path);
    s->src = malloc(len + 1);
    if (!s->path || !s->src) {
        free(s->path);
        free(s->src);
        free(s);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
    }
    memcpy(s->src, src, len);
    s->src[len] = '\0';
    s->len = len;
    spak_arena_init(&s->arena);
    spak_diags_init(&s->diags, s->path);
    *out = s;
    spak_status st = spak_parse(s->path, s->src, s->len, &s->arena, &s->diags, &s->file);
    if (st == SPAK_ERR_NOMEM)
        return spak_errf(err, st, "%s: out of memory while parsing", path);
    if (st == SPAK_OK) {
        if (spak_check(s->file, &s->arena, &s->diags, &s->model) == SPAK_ERR_NOMEM)
            return spak_errf(err, SPAK_ERR_NOMEM, "%s: out of memory while checking", path);
        st = s->diags.n_errors ? SPAK_ERR_CHECK : SPAK_OK;
    }
    spak_diags_sort(&s->diags);
    s->valid = st == SPAK_OK;
    if (st != SPAK_OK)
        (void)spak_errf(err, st, "%s: %zu error%s", path, s->diags.n_errors,
                        s->diags.n_errors == 1 ? "" : "s"); /* fills err; st is returned */
    return st;
}

/* d's diagnostics moved onto the end of s's (d is emptied). */
static void take_diags(spak_diags *to, spak_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        spak_diags_add(to, d->items[i].severity, d->items[i].line, d->items[i].col, "%s", d->items[i].msg);
    spak_diags_free(d);
}

/* The merged spec of d-labelled pieces: text (NULL: the merge failed, the
 * spec is then the original src with d's errors) loaded as path's spec;
 * the checker's diagnostics about the generated text are said to be there
 * (at 1:1: no line of the file wrote them), then d's. */
static spak_status load_generated(const char *path, const char *what, const char *text, size_t tlen,
                                  const char *src, size_t len, spak_diags *d, spak_spec **out, spak_err *err)
{
    spak_status lst = spak_spec_load_mem(path, text ? text : "", text ? tlen : 0, out, err);
    if (!*out) {
        spak_diags_free(d);
        return lst;
    }
    spak_spec *s = *out;
    spak_diags checked = s->diags;
    spak_diags_init(&s->diags, s->path);
    if (text)
        for (size_t i = 0; i < checked.n; i++)
            spak_diags_add(&s->diags, checked.items[i].severity, 1, 1, "in %s, line %d col %d: %s", what,
                           checked.items[i].line, checked.items[i].col, checked.items[i].msg);
    spak_diags_free(&checked);
    take_diags(&s->diags, d);
    spak_diags_sort(&s->diags);
    if (!text) {
        s->valid = false;
        free(s->src);
        s->src = strndup(src, len);
        s->len = s->src ? len : 0;
    }
    spak_status st = s->valid ? SPAK_OK : SPAK_ERR_CHECK;
    if (st != SPAK_OK)
        (void)spak_errf(err, st, "%s: %zu error%s", path, s->diags.n_errors, s->diags.n_errors == 1 ? "" : "s");
    return st;
}

/* A T1 file (spec/t1.h, docs/t1.md): read and translated into a spec,
 * which is then loaded as its text. The T1 reader's diagnostics point into
 * the JSON; the checker's, about the translation, say where in it (at the
 * JSON's 1:1, since no line of the JSON wrote them). The spec's source is
 * the translation: what a run stores and a resume reads back. */
static spak_status load_t1(const char *path, const char *src, size_t len, const spak_t1_set *sets, size_t n_sets,
                           spak_spec **out, spak_err *err)
{
    spak_diags d;
    spak_diags_init(&d, path);
    spak_buf text;
    spak_buf_init(&text, SPAK_MAX_SPEC_BYTES);
    spak_t1 *t = NULL;
    spak_status st = spak_t1_read(path, src, len, sets, n_sets, &t, &d);
    if (st == SPAK_OK)
        st = spak_t1_translate(t, &text, &d);
    spak_t1_free(t);
    if (st == SPAK_ERR_NOMEM || d.oom) {
        spak_diags_free(&d);
        spak_buf_free(&text);
        return spak_errf(err, SPAK_ERR_NOMEM, "%s: out of memory", path);
    }
    /* a failed translation still gives a spec: the JSON and its errors */
    char what[PATH_MAX + 64];
    spak_snprintf(what, sizeof what, "its translation ('spak import t1 %s' prints it)", path);
    st = load_generated(path, what, st == SPAK_OK ? text.data : NULL, text.len, src, len, &d, out, err);
    spak_buf_free(&text);
    return st;
}

/* A spec whose front matter names a T1 file (`t1: "FILE"`, t1_import.h):
 * *handled false when it names none (the caller loads it as it is). */
static spak_status load_importer(const char *path, const char *src, size_t len, spak_spec **out, spak_err *err,
                                 bool *handled)
{
    *handled = false;
    if (len < 3 || strncmp(src, "---", 3) != 0)
        return SPAK_OK;
    spak_arena a;
    spak_arena_init(&a);
    spak_diags d;
    spak_diags_init(&d, path);
    spak_file *f = NULL;
    char t1[PATH_MAX];
    spak_status st = spak_parse(path, src, len, &a, &d, &f);
    if (st != SPAK_OK || !front_value(f->front_matter, "t1:", t1, sizeof t1)) {
        spak_diags_free(&d);
        spak_arena_free(&a);
        return st == SPAK_ERR_NOMEM ? spak_errf(err, st, "%s: out of memory", path) : SPAK_OK;
    }
    *handled = true;
    spak_buf text;
    spak_buf_init(&text, SPAK_MAX_SPEC_BYTES);
    st = spak_t1_import(path, f, t1, &a, &d, &text);
    spak_arena_free(&a);
    if (st == SPAK_ERR_NOMEM || d.oom) {
        spak_diags_free(&d);
        spak_buf_free(&text);
        return spak_errf(err, SPAK_ERR_NOMEM, "%s: out of memory", path);
    }
    char what[PATH_MAX + 64];
    spak_snprintf(what, sizeof what, "its merge with the T1 file %s", t1);
    st = load_generated(path, what, st == SPAK_OK ? text.data : NULL, text.len, src, len, &d, out, err);
    spak_buf_free(&text);
    return st;
}

spak_status spak_spec_load_source(const char *path, spak_spec **out, spak_err *err)
{
    char *src;
    size_t len;
    *out = NULL;
    spak_status st = spak_read_file(path, SPAK_MAX_SPEC_BYTES, &src, &len, err);
    if (st != SPAK_OK)
        return st;
    st = spak_spec_load_mem(path, src, len, out, err);
    free(src);
    return st;
}

spak_status spak_spec_load(const char *path, spak_spec **out, spak_err *err)
{
    return spak_spec_load_sets(path, NULL, 0, out, err);
}

spak_status spak_spec_load_sets(const char *path, const spak_t1_set *sets, size_t n_sets, spak_spec **out,
                                spak_err *err)
{
    char *src;
    size_t len;
    *out = NULL;
    if (n_sets && !spak_t1_is_path(path))
        return spak_errf(err, SPAK_ERR_ARG, "%s: --set replaces the parameter values of a T1 file (FILE.json); "
                         "a spec sets its own in its tuning_space", path);
    spak_status st = spak_read_file(path, spak_t1_is_path(path) ? SPAK_T1_MAX_BYTES : SPAK_MAX_SPEC_BYTES, &src,
                                    &len, err);
    if (st != SPAK_OK)
        return st;
    bool handled = false;
    if (spak_t1_is_path(path))
        st = load_t1(path, src, len, sets, n_sets, out, err);
    else if ((st = load_importer(path, src, len, out, err, &handled)) == SPAK_OK && !handled)
        st = spak_spec_load_mem(path, src, len, out, err);
    free(src);
    return st;
}

void spak_spec_free(spak_spec *s)
{
    if (!s)
        return;
    spak_arena_free(&s->arena);
    spak_diags_free(&s->diags);
    free(s->src);
    free(s->path);
    free(s);
}

spak_status spak_spec_check_sources(spak_spec *s)
{
    if (!s->valid)
        return SPAK_ERR_CHECK;
    /* a v(n+1) in a run's folder names its original's folder (base:): its
     * sources are found there, in a run and so here */
    const char *fm = s->file ? s->file->front_matter : NULL;
    char base[PATH_MAX];
    bool based = spak_spec_front_base(fm, base, sizeof base);
    if (based)
        spak_spec_base_dir(fm, s->path, base, sizeof base);
    if (spak_check_sources(&s->model, s->path, based ? base : NULL, &s->diags) == 0)
        return SPAK_OK;
    s->valid = false;
    spak_diags_sort(&s->diags);
    return SPAK_ERR_CHECK;
}

const spak_diags *spak_spec_diags(const spak_spec *s) { return &s->diags; }
const spak_file *spak_spec_file(const spak_spec *s) { return s->file; }
const spak_model *spak_spec_model(const spak_spec *s) { return &s->model; }
spak_arena *spak_spec_arena(spak_spec *s) { return &s->arena; }

const char *spak_spec_source(const spak_spec *s, size_t *len)
{
    if (len)
        *len = s->len;
    return s->src;
}

bool spak_spec_front_base(const char *fm, char *out, size_t n)
{
    return front_value(fm, "base:", out, n);
}

static bool front_value(const char *fm, const char *key, char *out, size_t n)
{
    size_t kl = strlen(key);
    for (const char *p = fm; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > kl && strncmp(p, key, kl) == 0) {
            const char *v = p + kl, *e = p + len;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                e--;
            if (e - v >= 2 && *v == '"' && e[-1] == '"')
                v++, e--;
            if (e > v && (size_t)(e - v) < n) {
                memcpy(out, v, (size_t)(e - v));
                out[e - v] = '\0';
                return true;
            }
        }
        p += len + (eol ? 1 : 0);
    }
    return false;
}

void spak_spec_base_dir(const char *fm, const char *path, char *out, size_t n)
{
    char dir[PATH_MAX], base[PATH_MAX] = "", tmp[2 * PATH_MAX + 2];
    spak_snprintf(dir, sizeof dir, "%s", path ? path : "");
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        spak_snprintf(dir, sizeof dir, ".");
    if (!dir[0])
        spak_snprintf(dir, sizeof dir, "/");
    if (spak_spec_front_base(fm, base, sizeof base) && base[0] == '/')
        spak_snprintf(tmp, sizeof tmp, "%s", base);
    else if (base[0])
        spak_snprintf(tmp, sizeof tmp, "%s/%s", dir, base);
    else
        spak_snprintf(tmp, sizeof tmp, "%s", dir);
    char real[PATH_MAX];
    spak_snprintf(out, n, "%s", realpath(tmp, real) ? real : tmp);
}
