/*
 * t1_import.c - a spec that imports a T1 file (t1.h, docs/t1.md): its
 * front matter names the file (`t1: "conv.json"`), its tuning_space
 * entries replace the values of the T1 parameters they name before
 * anything is evaluated (as `spak import t1 --set`), and every other entry
 * of its system block is merged into the translation by its words: a block
 * met in both is merged entry by entry (kernel NAME { reference {...} }
 * adds the reference), anything else replaces the translation's entry of
 * the same words or is added. The result is printed by the formatter and
 * loaded as the spec's text.
 */
#include "spec/t1_import.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spec/fmt.h"
#include "spec/parse.h"
#include "spec/t1.h"

#define IMPORT_MAX_SETS SPAK_T1_MAX_PARAMS

/* The folder of path into out[n] ("." when it has none). */
static void dir_of(const char *path, char *out, size_t n)
{
    spak_snprintf(out, n, "%s", path);
    char *sl = strrchr(out, '/');
    if (sl && sl != out)
        *sl = '\0';
    else
        spak_snprintf(out, n, sl ? "/" : ".");
}

/* The words of two entries are the same. */
static bool same_words(const spak_entry *a, const spak_entry *b)
{
    if (a->kind != SPAK_EN_PLAIN || b->kind != SPAK_EN_PLAIN || a->n_words != b->n_words || !a->n_words)
        return false;
    for (size_t i = 0; i < a->n_words; i++)
        if (strcmp(a->words[i].text, b->words[i].text) != 0)
            return false;
    return true;
}

static spak_status add_entry(spak_block *b, spak_entry *e, spak_arena *a)
{
    spak_entry **items = spak_arena_alloc(a, (b->n + 1) * sizeof *items);
    if (!items)
        return SPAK_ERR_NOMEM;
    if (b->n)
        memcpy(items, b->items, b->n * sizeof *items);
    items[b->n++] = e;
    b->items = items;
    return SPAK_OK;
}

/* The importer's entries of from merged into to (see the file comment). */
static spak_status merge(spak_block *to, const spak_block *from, spak_arena *a, int depth)
{
    for (size_t i = 0; i < from->n; i++) {
        spak_entry *e = from->items[i];
        spak_entry *match = NULL;
        size_t at = 0;
        for (size_t k = 0; k < to->n && !match; k++)
            if (same_words(to->items[k], e))
                match = to->items[at = k];
        spak_status st = SPAK_OK;
        if (!match)
            st = add_entry(to, e, a);
        else if (match->body && e->body && !e->value && depth < 8)
            st = merge(match->body, e->body, a, depth + 1);
        else
            to->items[at] = e;
        if (st != SPAK_OK)
            return st;
    }
    return SPAK_OK;
}

/* A spak value as the Python text the T1 reader evaluates: numbers as
 * spelled, strings and bare names quoted, booleans True/False, lists. */
static bool py_text(const spak_expr *e, spak_buf *b)
{
    switch (e->kind) {
    case SPAK_EX_NUMBER: return spak_buf_puts(b, e->text) == SPAK_OK;
    case SPAK_EX_BOOL: return spak_buf_puts(b, e->boolean ? "True" : "False") == SPAK_OK;
    case SPAK_EX_UNARY:
        return e->op == SPAK_OP_NEG && e->lhs->kind == SPAK_EX_NUMBER && spak_buf_putc(b, '-') == SPAK_OK &&
               py_text(e->lhs, b);
    case SPAK_EX_STRING: case SPAK_EX_NAME:
        spak_buf_putc(b, '\'');
        for (const char *c = e->text; *c; c++)
            if (*c == '\'' || *c == '\\' || (unsigned char)*c < 32)
                return false;
        return spak_buf_puts(b, e->text) == SPAK_OK && spak_buf_putc(b, '\'') == SPAK_OK;
    case SPAK_EX_LIST:
        spak_buf_putc(b, '[');
        for (size_t i = 0; i < e->n_items; i++)
            if ((i && spak_buf_puts(b, ", ") != SPAK_OK) || !py_text(e->items[i], b))
                return false;
        return spak_buf_putc(b, ']') == SPAK_OK;
    default: return false;
    }
}

/* The first `system` block of a file, or NULL. */
static spak_entry *system_of(const spak_file *f)
{
    for (size_t i = 0; f && f->top && i < f->top->n; i++)
        if (spak_entry_word_is(f->top->items[i], 0, "system") && f->top->items[i]->body)
            return f->top->items[i];
    return NULL;
}

/* The T1 file's parameters that the importer's tuning_space names become
 * sets (their Python text in a's memory); they leave the block, which keeps
 * only new parameters to merge. */
static void take_sets(spak_entry *sys, const spak_t1 *t, const spak_t1_set **sets_out, size_t *n, spak_arena *a,
                      spak_diags *d)
{
    static spak_t1_set sets[IMPORT_MAX_SETS];
    *n = 0;
    *sets_out = sets;
    for (size_t i = 0; i < sys->body->n; i++) {
        spak_entry *ts = sys->body->items[i];
        if (!spak_entry_word_is(ts, 0, "tuning_space") || !ts->body)
            continue;
        for (size_t k = 0; k < ts->body->n && *n < IMPORT_MAX_SETS; k++) {
            spak_entry *p = ts->body->items[k];
            spak_buf b;
            spak_buf_init(&b, 1 << 16);
            if (p->n_words != 1 || !p->value || p->body || !spak_t1_has_param(t, p->words[0].text)) {
                spak_buf_free(&b);
                continue;  /* a parameter of the importer's own, merged later; the checker reads it */
            }
            if (py_text(p->value, &b)) {
                sets[*n].name = p->words[0].text;
                sets[*n].values = spak_arena_strdup(a, b.data ? b.data : "");
                (*n)++;
            } else {
                spak_diags_add(d, SPAK_DIAG_ERROR, p->pos.line, p->pos.col,
                               "tuning_space '%s': the values of a T1 parameter must be numbers, strings or booleans",
                               p->words[0].text);
            }
            spak_buf_free(&b);
        }
    }
}

spak_status spak_t1_import(const char *path, const spak_file *importer, const char *t1_rel, spak_arena *a,
                           spak_diags *d, spak_buf *out)
{
    char dir[PATH_MAX], t1_path[2 * PATH_MAX];
    dir_of(path, dir, sizeof dir);
    spak_snprintf(t1_path, sizeof t1_path, "%s%s%s", t1_rel[0] == '/' ? "" : dir, t1_rel[0] == '/' ? "" : "/", t1_rel);
    spak_entry *sys = system_of(importer);
    if (!sys) {
        spak_diags_add(d, SPAK_DIAG_ERROR, 1, 1, "a spec that imports a T1 file needs a system block");
        return SPAK_ERR_CHECK;
    }
    char *text = NULL;
    size_t len = 0;
    spak_err err;
    if (spak_read_file(t1_path, SPAK_T1_MAX_BYTES, &text, &len, &err) != SPAK_OK) {
        spak_diags_add(d, SPAK_DIAG_ERROR, 1, 1, "t1: %s", err.msg);
        return SPAK_ERR_CHECK;
    }
    /* a first read learns the file's parameters, those the importer sets */
    const spak_t1_set *sets = NULL;
    size_t n_sets = 0;
    spak_diags first;
    spak_diags_init(&first, t1_path);
    spak_t1 *t0 = NULL;
    if (spak_t1_read(t1_path, text, len, NULL, 0, &t0, &first) == SPAK_OK)
        take_sets(sys, t0, &sets, &n_sets, a, d);
    spak_t1_free(t0);
    spak_diags_free(&first);
    spak_diags td;
    spak_diags_init(&td, t1_path);
    spak_t1 *t = NULL;
    spak_buf tr;
    spak_buf_init(&tr, 1 << 24);
    spak_status st = spak_t1_read(t1_path, text, len, sets, n_sets, &t, &td);
    free(text);
    if (st == SPAK_OK)
        st = spak_t1_translate(t, &tr, &td);
    /* the T1 reader's diagnostics, at the importer's t1: line with their own place */
    for (size_t i = 0; i < td.n; i++)
        spak_diags_add(d, td.items[i].severity, 2, 1, "%s:%d:%d: %s", t1_path, td.items[i].line, td.items[i].col,
                       td.items[i].msg);
    spak_diags_free(&td);
    spak_file *tf = NULL;
    if (st == SPAK_OK && (st = spak_parse(t1_path, tr.data, tr.len, a, d, &tf)) == SPAK_OK) {
        spak_entry *tsys = system_of(tf);
        /* the importer's own: its name, its entries; the kernel found beside the T1 file */
        for (size_t i = 0; tsys && i < tsys->n_words && i < sys->n_words; i++)
            tsys->words[i] = sys->words[i];
        spak_entry *prob = tsys ? spak_block_find(tsys->body, "problem") : NULL;
        spak_entry *src = prob && prob->body ? spak_block_find(prob->body, "source") : NULL;
        char tdir[PATH_MAX], real[PATH_MAX], abs[3 * PATH_MAX];
        dir_of(t1_path, tdir, sizeof tdir);
        if (realpath(tdir, real))  /* the merged spec's own folder is the importer's: the kernel's path absolute */
            spak_snprintf(tdir, sizeof tdir, "%s", real);
        if (src && src->value && src->value->kind == SPAK_EX_STRING && src->value->text[0] != '/' &&
            spak_snprintf(abs, sizeof abs, "%s/%s", tdir, src->value->text))
            src->value->text = spak_arena_strdup(a, abs);
        st = tsys ? merge(tsys->body, sys->body, a, 0) : SPAK_ERR_CHECK;
        if (st == SPAK_OK)
            st = spak_fmt_file(tf, out);
    }
    spak_t1_free(t);
    spak_buf_free(&tr);
    return st == SPAK_OK && !d->n_errors ? SPAK_OK : st == SPAK_ERR_NOMEM ? st : SPAK_ERR_CHECK;
}
