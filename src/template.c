/* template.c - {{name}} expansion and word splitting (template.h). */
#include "template.h"

#include <string.h>

const char *spak_template_name(const char *s, const char **name, size_t *n)
{
    const char *end = strstr(s + 2, "}}");
    if (!end)
        return NULL;
    const char *b = s + 2, *z = end;
    while (b < z && *b == ' ')
        b++;
    while (z > b && z[-1] == ' ')
        z--;
    *name = b;
    *n = (size_t)(z - b);
    return end;
}

spak_status spak_template_expand(const char *s, spak_template_lookup lookup, void *ud, spak_buf *out, spak_err *err)
{
    while (*s) {
        if (s[0] == '{' && s[1] == '{') {
            const char *b;
            size_t n;
            const char *end = spak_template_name(s, &b, &n);
            if (!end)
                return spak_errf(err, SPAK_ERR_ARG, "'{{' without '}}' in '%s'", s);
            char name[128];
            spak_snprintf(name, sizeof name, "%.*s", (int)n, b);
            size_t before = out->len;
            spak_status st = lookup(ud, name, out, err);
            if (st != SPAK_OK) {
                if (st == SPAK_ERR_LIMIT && out->len == before)
                    return spak_errf(err, SPAK_ERR_LIMIT, "expanded command argument too long");
                return st;
            }
            s = end + 2;
            continue;
        }
        /* the text up to the next '{{' in one piece */
        const char *next = strstr(s + 1, "{{");
        size_t l = next ? (size_t)(next - s) : strlen(s);
        if (spak_buf_append(out, s, l) != SPAK_OK)
            return spak_errf(err, SPAK_ERR_LIMIT, "expanded command argument too long");
        s += l;
    }
    return SPAK_OK;
}

spak_status spak_template_expand_into(const char *s, spak_template_lookup lookup, void *ud, char *out, size_t n,
                                      spak_err *err)
{
    if (n == 0)
        return spak_errf(err, SPAK_ERR_LIMIT, "expanded command argument too long");
    spak_buf b;
    spak_buf_init(&b, n - 1);  /* the cap bounds the length, the NUL needs one more */
    spak_status st = spak_template_expand(s, lookup, ud, &b, err);
    if (st == SPAK_OK)
        memcpy(out, b.data ? b.data : "", b.len + 1);
    spak_buf_free(&b);
    return st;
}

spak_status spak_template_split(const char *cmd, const char *what, char *store, size_t store_n,
                                char *words[SPAK_TEMPLATE_MAX_WORDS], size_t *nw, spak_err *err)
{
    size_t k = 0, n = 0;
    const char *p = cmd;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (n + 1 >= SPAK_TEMPLATE_MAX_WORDS)
            return spak_errf(err, SPAK_ERR_LIMIT, "%s has more than %d words", what, SPAK_TEMPLATE_MAX_WORDS - 1);
        words[n++] = store + k;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
            if (*p == '"' || *p == '\'') {
                char q = *p++;
                while (*p && *p != q) {
                    if (k + 2 > store_n)
                        return spak_errf(err, SPAK_ERR_LIMIT, "%s too long", what);
                    store[k++] = *p++;
                }
                if (*p != q)
                    return spak_errf(err, SPAK_ERR_ARG, "%s: unterminated quote", what);
                p++;
                continue;
            }
            if (k + 2 > store_n)
                return spak_errf(err, SPAK_ERR_LIMIT, "%s too long", what);
            store[k++] = *p++;
        }
        if (k + 1 > store_n)  /* an empty last word ("") still needs its NUL */
            return spak_errf(err, SPAK_ERR_LIMIT, "%s too long", what);
        store[k++] = '\0';
    }
    words[n] = NULL;
    *nw = n;
    return SPAK_OK;
}
