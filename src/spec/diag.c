/* diag.c - see diag.h. */
#include "spec/diag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spak_diags_init(spak_diags *d, const char *file)
{
    memset(d, 0, sizeof *d);
    d->file = file;
    d->max_errors = SPAK_DIAG_MAX_ERRORS;
}

void spak_diags_free(spak_diags *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->items[i].msg);
    free(d->items);
    d->items = NULL;
    d->n = d->alloc = 0;
}

bool spak_diags_full(const spak_diags *d)
{
    return d->n_errors >= d->max_errors;
}

void spak_diags_add(spak_diags *d, spak_diag_severity sev, int line, int col, const char *fmt, ...)
{
    if (sev == SPAK_DIAG_ERROR) {
        d->n_errors++;
        if (d->n_errors > d->max_errors) {
            d->truncated = true;
            return;
        }
    } else {
        d->n_warnings++;
        if (d->n_warnings > 4 * d->max_errors) {
            d->truncated = true;
            return;
        }
    }
    spak_diag *p = spak_grow(d->items, &d->alloc, d->n, sizeof *p);
    if (!p) {
        d->oom = true;
        return;
    }
    d->items = p;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *m = strdup(buf);
    if (!m) {
        d->oom = true;
        return;
    }
    spak_diag *g = &d->items[d->n++];
    g->severity = sev;
    g->line = line;
    g->col = col;
    g->msg = m;
}

static int diag_cmp(const void *a, const void *b)
{
    const spak_diag *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->col != y->col)
        return x->col < y->col ? -1 : 1;
    return 0;
}

void spak_diags_sort(spak_diags *d)
{
    /* insertion sort: stable, and lists are short */
    for (size_t i = 1; i < d->n; i++) {
        spak_diag t = d->items[i];
        size_t j = i;
        while (j > 0 && diag_cmp(&d->items[j - 1], &t) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = t;
    }
}

spak_status spak_diags_format(const spak_diags *d, spak_buf *out)
{
    spak_status st = SPAK_OK;
    for (size_t i = 0; i < d->n && st == SPAK_OK; i++) {
        const spak_diag *g = &d->items[i];
        st = spak_buf_printf(out, "%s:%d:%d: %s: %s\n", d->file, g->line, g->col,
                             g->severity == SPAK_DIAG_ERROR ? "error" : "warning", g->msg);
    }
    if (st == SPAK_OK && d->truncated)
        st = spak_buf_printf(out, "%s: too many diagnostics (%zu errors, %zu warnings), stopped reporting\n",
                             d->file, d->n_errors, d->n_warnings);
    if (st == SPAK_OK && d->oom)
        st = spak_buf_printf(out, "%s: out of memory while recording diagnostics\n", d->file);
    return st;
}
