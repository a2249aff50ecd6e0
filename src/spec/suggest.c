/* suggest.c - see suggest.h. */
#include "spec/suggest.h"

#include <ctype.h>
#include <string.h>

#include "util.h"

#define MAXN 64

static size_t lower(const char *s, char *out)
{
    size_t n = 0;
    while (s[n] && n < MAXN) {
        out[n] = (char)tolower((unsigned char)s[n]);
        n++;
    }
    out[n] = '\0';
    return s[n] ? MAXN + 1 : n;  /* MAXN + 1: too long to compare by edits */
}

/* Optimal string alignment distance of a[0..na) and b[0..nb), both at most
 * MAXN bytes (a (MAXN+1)^2 table on the stack, 17 KB). */
static int osa(const char *a, size_t na, const char *b, size_t nb)
{
    int d[MAXN + 1][MAXN + 1];
    for (size_t i = 0; i <= na; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[na][nb];
}

/* Equal lengths, one position differs: a substituted letter (not a swap). */
static bool one_substitution(const char *a, const char *b, size_t n)
{
    size_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff += a[i] != b[i];
    return diff == 1;
}

bool spak_suggest_close(const char *a, const char *b, int *dist)
{
    char la[MAXN + 1], lb[MAXN + 1];
    size_t na = lower(a, la), nb = lower(b, lb);
    if (na > MAXN || nb > MAXN) {
        bool eq = strlen(a) == strlen(b);
        for (size_t i = 0; eq && a[i]; i++)
            eq = tolower((unsigned char)a[i]) == tolower((unsigned char)b[i]);
        if (dist)
            *dist = 0;
        return eq;
    }
    int d = osa(la, na, lb, nb);
    if (dist)
        *dist = d;
    size_t len = na > nb ? na : nb;
    if (d == 0)
        return true;
    if (len <= 4)
        return d == 1 && !(na == nb && one_substitution(la, lb, na));
    if (len <= 7)
        return d == 1;
    return d <= 2;
}

void spak_suggest_init(spak_suggest *s, const char *name)
{
    s->name = name;
    s->best = NULL;
    s->best_d = 1 << 30;
}

void spak_suggest_try(spak_suggest *s, const char *cand)
{
    int d;
    if (!cand || !s->name || strcmp(cand, s->name) == 0 || !spak_suggest_close(s->name, cand, &d))
        return;
    if (d < s->best_d) {  /* ties keep the first: the order of the caller's list */
        s->best = cand;
        s->best_d = d;
    }
}

const char *spak_suggest_list(const char *name, const char *const *cands, size_t n)
{
    spak_suggest s;
    spak_suggest_init(&s, name);
    for (size_t i = 0; n ? i < n : cands[i] != NULL; i++)
        spak_suggest_try(&s, cands[i]);
    return s.best;
}

const char *spak_suggest_text(const char *best, char *buf, size_t n)
{
    if (!best || !spak_snprintf(buf, n, " (did you mean '%s'?)", best))
        buf[0] = '\0';
    return buf;
}
