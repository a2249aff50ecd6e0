/* diff.c - a unified diff applied strictly (diff.h). */
#include "program/diff.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct line {
    const char *p;
    size_t n;  /* without its newline */
} line;

/* The lines of text (a last line without a newline counts). */
static spak_status split(const char *s, size_t len, line **out, size_t *n, spak_err *err)
{
    size_t alloc = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t k = nl ? (size_t)(nl - (s + i)) : len - i;
        line *grown = spak_grow(*out, &alloc, *n + 1, sizeof **out);
        if (!grown)
            return spak_errf(err, SPAK_ERR_NOMEM, "out of memory");
        *out = grown;
        (*out)[(*n)++] = (line){s + i, k};
        i += k + (nl ? 1 : 0);
    }
    return SPAK_OK;
}

/* A decimal number at *p (advanced); false when none or too large. */
static bool num(const char **p, const char *end, long *v)
{
    long x = 0;
    const char *q = *p;
    while (q < end && *q >= '0' && *q <= '9') {
        if (x > 100000000L)
            return false;
        x = x * 10 + (*q - '0');
        q++;
    }
    if (q == *p)
        return false;
    *p = q;
    *v = x;
    return true;
}

/* "@@ -a[,b] +c[,d] @@...": the old start and count, the new count. */
static bool hunk_header(const line *l, long *a, long *b, long *d)
{
    const char *p = l->p, *end = l->p + l->n;
    long c;
    *b = *d = 1;
    if (l->n < 4 || strncmp(p, "@@ -", 4) != 0)
        return false;
    p += 4;
    if (!num(&p, end, a))
        return false;
    if (p < end && *p == ',' && (++p, !num(&p, end, b)))
        return false;
    if (end - p < 2 || p[0] != ' ' || p[1] != '+')
        return false;
    p += 2;
    if (!num(&p, end, &c))
        return false;
    if (p < end && *p == ',' && (++p, !num(&p, end, d)))
        return false;
    return end - p >= 3 && strncmp(p, " @@", 3) == 0;
}

/* The shown text of a line for a message: at most 80 bytes. */
static int shown(const line *l)
{
    return l->n > 80 ? 80 : (int)l->n;
}

/* One hunk: its lines from dl[*k] (just after the header), applied to the
 * source lines from start; *k is left after the hunk. */
static spak_status apply_hunk(const line *sl, size_t ns, const line *dl, size_t nd, size_t *k, long hunk_no,
                              size_t start, long b, long d, spak_buf *out, spak_err *err)
{
    long seen_old = 0, seen_new = 0;
    bool last_emitted = false;
    size_t hdr = *k;  /* the header's line is dl[hdr - 1] */
    while (*k < nd && (seen_old < b || seen_new < d || (dl[*k].n > 0 && dl[*k].p[0] == '\\'))) {
        const line *l = &dl[*k];
        char c = l->n ? l->p[0] : ' ';
        line body = {l->n ? l->p + 1 : l->p, l->n ? l->n - 1 : 0};
        if (c == '\\') {  /* "\ No newline at end of file": of the line before */
            if (last_emitted && out->len > 0 && out->data[out->len - 1] == '\n')
                out->data[--out->len] = 0;
            (*k)++;
            continue;
        }
        if (c != ' ' && c != '-' && c != '+')
            return spak_errf(err, SPAK_ERR_SYNTAX,
                             "hunk %ld (diff line %zu): a hunk line starts with ' ', '-' or '+', not '%c'; the header "
                             "(diff line %zu) says %ld old and %ld new lines, %ld and %ld were read",
                             hunk_no, *k + 1, c, hdr, b, d, seen_old, seen_new);
        if (c != '+') {
            size_t at = start + (size_t)seen_old;
            if (seen_old >= b)
                return spak_errf(err, SPAK_ERR_SYNTAX, "hunk %ld (diff line %zu): more old lines than its header's %ld",
                                 hunk_no, *k + 1, b);
            if (at >= ns)
                return spak_errf(err, SPAK_ERR_STATE,
                                 "hunk %ld (diff line %zu): the source has %zu lines; this hunk reads line %zu", hunk_no,
                                 *k + 1, ns, at + 1);
            if (sl[at].n != body.n || memcmp(sl[at].p, body.p, body.n) != 0)
                return spak_errf(err, SPAK_ERR_STATE,
                                 "hunk %ld (diff line %zu) does not match source line %zu: the diff has '%.*s', the "
                                 "source '%.*s' (a diff applies to the run's best source exactly; read it again)",
                                 hunk_no, *k + 1, at + 1, shown(&body), body.p, shown(&sl[at]), sl[at].p);
            seen_old++;
        }
        if (c != '-') {
            if (seen_new >= d)
                return spak_errf(err, SPAK_ERR_SYNTAX, "hunk %ld (diff line %zu): more new lines than its header's %ld",
                                 hunk_no, *k + 1, d);
            seen_new++;
            if (spak_buf_append(out, body.p, body.n) != SPAK_OK || spak_buf_putc(out, '\n') != SPAK_OK)
                return spak_errf(err, SPAK_ERR_LIMIT, "the patched source is too large");
        }
        last_emitted = c != '-';
        (*k)++;
    }
    if (seen_old < b || seen_new < d)
        return spak_errf(err, SPAK_ERR_SYNTAX,
                         "hunk %ld (diff line %zu) ends early: its header says %ld old and %ld new lines, the diff "
                         "has %ld and %ld",
                         hunk_no, hdr, b, d, seen_old, seen_new);
    return SPAK_OK;
}

/* The source's lines [from, to) as they are, newlines included. */
static spak_status copy_lines(const char *src, size_t src_len, const line *sl, size_t ns, size_t from, size_t to,
                              spak_buf *out)
{
    if (from >= to)
        return SPAK_OK;
    const char *a = sl[from].p;
    const char *z = to < ns ? sl[to].p : src + src_len;
    return spak_buf_append(out, a, (size_t)(z - a));
}

spak_status spak_diff_apply(const char *src, size_t src_len, const char *diff, size_t diff_len, spak_buf *out,
                            spak_err *err)
{
    line *sl = NULL, *dl = NULL;
    size_t ns = 0, nd = 0, k = 0, pos = 0;
    long hunks = 0;
    spak_status st;
    if (diff_len > SPAK_DIFF_MAX_BYTES) {
        st = spak_errf(err, SPAK_ERR_LIMIT, "the diff is over %u bytes", SPAK_DIFF_MAX_BYTES);
        goto out;
    }
    if ((st = split(src, src_len, &sl, &ns, err)) != SPAK_OK || (st = split(diff, diff_len, &dl, &nd, err)) != SPAK_OK)
        goto out;
    /* the file headers before the first hunk */
    while (k < nd && !(dl[k].n >= 2 && strncmp(dl[k].p, "@@", 2) == 0)) {
        static const char *const heads[] = {"diff ", "--- ", "+++ ", "index ", "new file", "old mode", "new mode"};
        bool ok = dl[k].n == 0;
        for (size_t i = 0; i < SPAK_ARRAY_LEN(heads) && !ok; i++)
            ok = dl[k].n >= strlen(heads[i]) && strncmp(dl[k].p, heads[i], strlen(heads[i])) == 0;
        if (!ok) {
            st = spak_errf(err, SPAK_ERR_SYNTAX, "diff line %zu: '%.*s' comes before the first hunk ('@@ -a,b +c,d @@')",
                           k + 1, shown(&dl[k]), dl[k].p);
            goto out;
        }
        k++;
    }
    while (k < nd) {
        long a, b, d;
        if (!hunk_header(&dl[k], &a, &b, &d)) {
            bool blank = dl[k].n == 0;
            if (blank && k + 1 == nd)
                break;
            st = spak_errf(err, SPAK_ERR_SYNTAX,
                           "diff line %zu: '%.*s' is not a hunk header '@@ -a,b +c,d @@' (a diff changes one file; "
                           "counts in a header must equal the hunk's lines)",
                           k + 1, shown(&dl[k]), dl[k].p);
            goto out;
        }
        hunks++;
        size_t start = b == 0 ? (size_t)a : (size_t)(a > 0 ? a - 1 : 0);
        if (start < pos || start > ns) {
            st = spak_errf(err, SPAK_ERR_STATE,
                           "hunk %ld (diff line %zu) starts at source line %ld: %s (the source has %zu lines)", hunks,
                           k + 1, a, start < pos ? "before the end of the hunk before it" : "past the end", ns);
            goto out;
        }
        if ((st = copy_lines(src, src_len, sl, ns, pos, start, out)) != SPAK_OK)
            goto out;
        k++;
        if ((st = apply_hunk(sl, ns, dl, nd, &k, hunks, start, b, d, out, err)) != SPAK_OK)
            goto out;
        pos = start + (size_t)b;
    }
    if (hunks == 0) {
        st = spak_errf(err, SPAK_ERR_SYNTAX, "the diff has no hunk ('@@ -a,b +c,d @@')");
        goto out;
    }
    st = copy_lines(src, src_len, sl, ns, pos, ns, out);
    if (st != SPAK_OK)
        spak_errf(err, st, "the patched source is too large");
out:
    free(sl);
    free(dl);
    return st;
}
