/* trace.c - see trace.h. */
#include "analyze/trace.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/records.h"
#include "util.h"

#define MARKER_LEN (sizeof(SPAK_TRACE_MARKER) - 1)
#define QUOTE_MAX 64 /* bytes of a name or value quoted in a message */

const char *spak_field_type_name(spak_field_type t)
{
    switch (t) {
    case SPAK_FIELD_STRING: return "string";
    case SPAK_FIELD_INT: return "int";
    case SPAK_FIELD_FLOAT: return "float";
    case SPAK_FIELD_BOOL: return "bool";
    case SPAK_FIELD_ENUM: return "enum";
    }
    return "unknown";
}

const spak_trace_case *spak_trace_schema_find_case(const spak_trace_schema *s, const char *name)
{
    if (!s || !name)
        return NULL;
    for (size_t i = 0; i < s->n_cases; i++)
        if (s->cases[i].name && strcmp(s->cases[i].name, name) == 0)
            return &s->cases[i];
    return NULL;
}

/* ---- text cleaning -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p[0..n), or 0 when it is not one;
 * a NUL byte counts as invalid here (it becomes U+FFFD), unlike in
 * spak_utf8_seq. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned cp;
    return p[0] == 0 ? 0 : spak_utf8_seq(p, n, &cp);
}

char *spak_text_clean(const char *p, size_t n, size_t cap, size_t *out_len)
{
    static const char repl[] = "\xEF\xBF\xBD"; /* U+FFFD */
    if (!p)
        n = 0;
    bool cut = cap && n > cap;
    if (cut)
        n = cap;
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t k = utf8_seq_len(s + i, n - i);
        if (k == 0) {
            /* An incomplete sequence cut by the cap at the very end is
             * dropped rather than replaced. */
            if (cut && n - i < 4 && s[i] >= 0xC0)
                break;
            memcpy(out + o, repl, 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

/* Append name/value for a one-line message: cleaned, control characters
 * shown as '?', at most QUOTE_MAX input bytes ("..." when cut). */
static spak_status put_quoted(spak_buf *b, const char *s, size_t n)
{
    size_t cut = n > QUOTE_MAX ? QUOTE_MAX : n;
    char *c = spak_text_clean(s, cut, 0, NULL);
    if (!c)
        return SPAK_ERR_NOMEM;
    for (char *q = c; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7F)
            *q = '?';
    spak_status rc = spak_buf_puts(b, c);
    free(c);
    if (rc == SPAK_OK && cut < n)
        rc = spak_buf_puts(b, "...");
    return rc;
}

/* ---- the list ------------------------------------------------------------- */

void spak_trace_list_init(spak_trace_list *l)
{
    memset(l, 0, sizeof *l);
}

static void record_clear(spak_trace_record *r)
{
    free(r->raw);
    free(r->error);
    free(r->warnings);
    if (r->json)
        json_decref(r->json);
    memset(r, 0, sizeof *r);
}

void spak_trace_list_free(spak_trace_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        record_clear(&l->items[i]);
    free(l->items);
    spak_trace_list_init(l);
}

/* A new zeroed record at the end of l, or NULL when out of memory. */
static spak_trace_record *list_push(spak_trace_list *l, size_t line)
{
    spak_trace_record *ni = spak_grow(l->items, &l->alloc, l->n, sizeof *ni);
    if (!ni)
        return NULL;
    l->items = ni;
    spak_trace_record *r = &l->items[l->n++];
    r->index = l->n;
    r->line = line;
    return r;
}

/* Set r->error to "record I (line L): " + formatted text. */
static spak_status SPAK_PRINTF(2, 3) record_fail(spak_trace_record *r, const char *fmt, ...)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    va_list ap;
    spak_status rc = spak_buf_printf(&b, "record %zu (line %zu): ", r->index, r->line);
    if (rc == SPAK_OK) {
        va_start(ap, fmt);
        rc = spak_buf_vprintf(&b, fmt, ap);
        va_end(ap);
    }
    if (rc != SPAK_OK) {
        spak_buf_free(&b);
        return SPAK_ERR_NOMEM;
    }
    free(r->error);
    r->error = spak_buf_take(&b);
    r->valid = false;
    return r->error ? SPAK_OK : SPAK_ERR_NOMEM;
}

static const char *json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "int";
    case JSON_REAL: return "float";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

/* Parse the body of one marker line into r. Problems become r->error. */
static spak_status parse_body(spak_trace_record *r, const char *body, size_t n, bool has_nl, size_t max_bytes)
{
    const char *cut_note = has_nl ? "" : " (last line has no newline: output cut off?)";

    r->raw = spak_text_clean(body, n, n > max_bytes ? SPAK_TRACE_EXCERPT_MAX : 0, NULL);
    if (!r->raw)
        return SPAK_ERR_NOMEM;
    if (n > max_bytes)
        return record_fail(r, "record too long (%zu bytes, cap %zu)", n, max_bytes);
    if (n == 0)
        return record_fail(r, "no JSON object after the marker%s", cut_note);
    if (memchr(body, '\0', n))
        return record_fail(r, "record contains a NUL byte");
    if (!spak_utf8_valid(body, n))
        return record_fail(r, "record is not valid UTF-8");

    json_error_t jerr;
    json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!j)
        return record_fail(r, "malformed JSON at column %d: %s%s", jerr.column, jerr.text, cut_note);
    if (!json_is_object(j)) {
        const char *kind = json_kind(j);
        spak_status rc = record_fail(r, "record is %s %s, not an object", strchr("aeiou", kind[0]) ? "an" : "a", kind);
        json_decref(j);
        return rc;
    }
    r->json = j;
    json_t *t = json_object_get(j, SPAK_REC_TYPE);
    if (!t)
        return record_fail(r, "record has no \"type\" member");
    if (!json_is_string(t))
        return record_fail(r, "\"type\" is %s, not a string", json_kind(t));
    r->type = json_string_value(t);
    r->valid = true;
    return SPAK_OK;
}

spak_status spak_trace_scan(const char *buf, size_t len, const spak_trace_scan_opts *opts,
                            spak_trace_list *out, spak_err *err)
{
    spak_trace_list_init(out);
    if (!buf && len > 0)
        return spak_errf(err, SPAK_ERR_ARG, "trace scan: NULL buffer with length %zu", len);
    size_t max_bytes = opts && opts->max_record_bytes ? opts->max_record_bytes : SPAK_TRACE_RECORD_MAX_DEFAULT;
    size_t max_recs = opts && opts->max_records ? opts->max_records : SPAK_TRACE_RECORDS_MAX_DEFAULT;
    size_t pos = 0, line = 0, first_dropped_line = 0;
    spak_status rc = SPAK_OK;

    while (pos < len && rc == SPAK_OK) {
        line++;
        const char *p = buf + pos;
        const char *nl = memchr(p, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - p) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && p[n - 1] == '\r')
            n--;

        bool at_start = n >= MARKER_LEN && memcmp(p, SPAK_TRACE_MARKER, MARKER_LEN) == 0;
        const char *elsewhere = at_start ? NULL : memmem(p, n, SPAK_TRACE_MARKER, MARKER_LEN);
        if (!at_start && !elsewhere)
            continue;
        if (out->n >= max_recs) {
            if (out->n_dropped++ == 0)
                first_dropped_line = line;
            continue;
        }
        spak_trace_record *r = list_push(out, line);
        if (!r) {
            rc = SPAK_ERR_NOMEM;
            break;
        }
        if (elsewhere) {
            r->raw = spak_text_clean(p, n, n > max_bytes ? SPAK_TRACE_EXCERPT_MAX : 0, NULL);
            rc = r->raw ? record_fail(r, "marker not at start of line (column %zu)", (size_t)(elsewhere - p) + 1)
                        : SPAK_ERR_NOMEM;
            continue;
        }
        const char *body = p + MARKER_LEN;
        size_t bn = n - MARKER_LEN;
        while (bn > 0 && (*body == ' ' || *body == '\t'))
            body++, bn--;
        rc = parse_body(r, body, bn, nl != NULL, max_bytes);
    }
    out->n_lines = line;
    if (rc == SPAK_OK && out->n_dropped > 0) {
        spak_trace_record *r = list_push(out, first_dropped_line);
        if (!r || !(r->raw = spak_text_clean("", 0, 0, NULL)))
            rc = SPAK_ERR_NOMEM;
        else
            rc = record_fail(r, "%zu further records dropped: over the cap of %zu records", out->n_dropped,
                             max_recs);
    }
    if (rc != SPAK_OK)
        return spak_errf(err, rc, "trace scan: out of memory");
    for (size_t i = 0; i < out->n; i++)
        out->n_errors += out->items[i].error != NULL;
    return SPAK_OK;
}

/* ---- validation ----------------------------------------------------------- */

static const spak_trace_field *case_field(const spak_trace_case *c, const char *name)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].name && strcmp(c->fields[i].name, name) == 0)
            return &c->fields[i];
    return NULL;
}

static bool enum_has(const spak_trace_field *f, const char *s)
{
    for (size_t i = 0; i < f->n_enum_values; i++)
        if (f->enum_values[i] && strcmp(f->enum_values[i], s) == 0)
            return true;
    return false;
}

static bool value_fits(const spak_trace_field *f, const json_t *v)
{
    switch (f->type) {
    case SPAK_FIELD_STRING: return json_is_string(v);
    case SPAK_FIELD_INT: return json_is_integer(v);
    case SPAK_FIELD_FLOAT: return json_is_number(v);
    case SPAK_FIELD_BOOL: return json_is_boolean(v);
    case SPAK_FIELD_ENUM: return json_is_string(v) && enum_has(f, json_string_value(v));
    }
    return false;
}

/* "float", or for an enum: "A" | "B". */
static spak_status put_declared(spak_buf *b, const spak_trace_field *f)
{
    if (f->type != SPAK_FIELD_ENUM)
        return spak_buf_puts(b, spak_field_type_name(f->type));
    spak_status rc = SPAK_OK;
    if (f->n_enum_values == 0)
        rc = spak_buf_puts(b, "an empty enum");
    for (size_t i = 0; i < f->n_enum_values && rc == SPAK_OK; i++) {
        const char *e = f->enum_values[i] ? f->enum_values[i] : "";
        if (i)
            rc = spak_buf_puts(b, " | ");
        if (rc == SPAK_OK)
            rc = spak_buf_putc(b, '"');
        if (rc == SPAK_OK)
            rc = put_quoted(b, e, strlen(e));
        if (rc == SPAK_OK)
            rc = spak_buf_putc(b, '"');
    }
    return rc;
}

static spak_status sep(spak_buf *b)
{
    return b->len ? spak_buf_puts(b, "; ") : SPAK_OK;
}

/* Check the members of r->json against case c, filling e (errors) and w (warnings). */
static spak_status check_case(const spak_trace_record *r, const spak_trace_case *c, spak_buf *e, spak_buf *w)
{
    const char *cname = c->name ? c->name : "";
    const char *key;
    json_t *v;
    spak_status rc = SPAK_OK;
    /* A failure record (passed: false) may have no value for what it could
     * not measure (a crash, a NaN output, a written input: "rel_err": null):
     * its null fields count as absent, so the record and its reason stay.
     * So may the record of a candidate stopped early (no ratio: it was not
     * timed beside the baseline). */
    const char *verdict = json_string_value(json_object_get(r->json, SPAK_FIELD_VERDICT));
    bool failure = json_is_false(json_object_get(r->json, SPAK_FIELD_PASSED)) ||
                   (verdict && strcmp(verdict, SPAK_VERDICT_STOPPED) == 0);
    json_object_foreach(r->json, key, v) {
        if (strcmp(key, SPAK_REC_TYPE) == 0)
            continue;
        if (failure && json_is_null(v) && case_field(c, key))
            continue;
        const spak_trace_field *f = case_field(c, key);
        if (!f) {
            if ((rc = sep(w)) || (rc = spak_buf_puts(w, "field '")) || (rc = put_quoted(w, key, strlen(key))) ||
                (rc = spak_buf_puts(w, "' not declared in case ")) || (rc = put_quoted(w, cname, strlen(cname))))
                return rc;
            continue;
        }
        if (value_fits(f, v))
            continue;
        if ((rc = sep(e)) || (rc = spak_buf_puts(e, "field '")) || (rc = put_quoted(e, key, strlen(key))) ||
            (rc = spak_buf_puts(e, "' is ")))
            return rc;
        if (json_is_string(v) && f->type == SPAK_FIELD_ENUM) {
            if ((rc = spak_buf_putc(e, '"')) ||
                (rc = put_quoted(e, json_string_value(v), json_string_length(v))) || (rc = spak_buf_putc(e, '"')))
                return rc;
        } else if ((rc = spak_buf_puts(e, json_kind(v)))) {
            return rc;
        }
        if ((rc = spak_buf_puts(e, ", case ")) || (rc = put_quoted(e, cname, strlen(cname))) ||
            (rc = spak_buf_puts(e, " declares ")) || (rc = put_declared(e, f)))
            return rc;
    }
    for (size_t i = 0; i < c->n_fields; i++) {
        const char *fname = c->fields[i].name ? c->fields[i].name : "";
        const json_t *fv = json_object_get(r->json, fname);
        if (fv && !(failure && json_is_null(fv)))
            continue;
        if ((rc = sep(w)) || (rc = spak_buf_puts(w, "field '")) || (rc = put_quoted(w, fname, strlen(fname))) ||
            (rc = spak_buf_puts(w, "' of case ")) || (rc = put_quoted(w, cname, strlen(cname))) ||
            (rc = spak_buf_puts(w, " is absent")))
            return rc;
    }
    return SPAK_OK;
}

spak_status spak_trace_validate(spak_trace_record *rec, const spak_trace_schema *schema, spak_err *err)
{
    rec->validated = true;
    if (!rec->json || !rec->type) {
        /* structural error from the scan; it stays */
        rec->valid = false;
        if (!rec->error && record_fail(rec, "record did not parse") != SPAK_OK)
            return spak_errf(err, SPAK_ERR_NOMEM, "trace validate: out of memory");
        return spak_errf(err, SPAK_ERR_TRACE, "%s", rec->error);
    }
    free(rec->error);
    free(rec->warnings);
    rec->error = rec->warnings = NULL;
    rec->valid = true;
    if (!schema)
        return SPAK_OK;

    spak_buf e, w;
    spak_buf_init(&e, 0);
    spak_buf_init(&w, 0);
    spak_status rc = SPAK_OK;
    const spak_trace_case *c = spak_trace_schema_find_case(schema, rec->type);
    if (!c && strcmp(rec->type, SPAK_REC_COST) == 0) {  /* the judges' own, about the run itself */
        spak_buf_free(&e);
        spak_buf_free(&w);
        return SPAK_OK;
    }
    if (!c) {
        const char *vn = schema->variant_name ? schema->variant_name : "the trace schema";
        if (!(rc = spak_buf_puts(&e, "type '")) && !(rc = put_quoted(&e, rec->type, strlen(rec->type))) &&
            !(rc = spak_buf_printf(&e, "' is not a case of %s (cases:", vn))) {
            for (size_t i = 0; i < schema->n_cases && rc == SPAK_OK; i++)
                rc = spak_buf_printf(&e, "%s %s", i ? "," : "", schema->cases[i].name ? schema->cases[i].name : "");
            if (rc == SPAK_OK)
                rc = spak_buf_puts(&e, schema->n_cases ? ")" : " none)");
        }
    } else {
        rc = check_case(rec, c, &e, &w);
    }
    if (rc == SPAK_OK && e.len > 0)
        rc = record_fail(rec, "%s", e.data);
    if (rc == SPAK_OK && w.len > 0 && !(rec->warnings = spak_buf_take(&w)))
        rc = SPAK_ERR_NOMEM;
    spak_buf_free(&e);
    spak_buf_free(&w);
    if (rc != SPAK_OK) {
        rec->valid = false;
        return spak_errf(err, SPAK_ERR_NOMEM, "trace validate: out of memory");
    }
    if (rec->error)
        return spak_errf(err, SPAK_ERR_TRACE, "%s", rec->error);
    return SPAK_OK;
}

spak_status spak_trace_validate_all(spak_trace_list *l, const spak_trace_schema *schema, spak_err *err)
{
    l->n_errors = l->n_warnings = 0;
    for (size_t i = 0; i < l->n; i++) {
        spak_status rc = spak_trace_validate(&l->items[i], schema, NULL);
        if (rc == SPAK_ERR_NOMEM)
            return spak_errf(err, rc, "trace validate: out of memory");
        l->n_errors += l->items[i].error != NULL;
        l->n_warnings += l->items[i].warnings != NULL;
    }
    return SPAK_OK;
}

static bool of_case(const json_t *rec, const char *case_name)
{
    const char *t = json_string_value(json_object_get(rec, SPAK_REC_TYPE));
    return !case_name || (t && strcmp(t, case_name) == 0);
}

bool spak_trace_counts(const json_t *rec, const char *case_name)
{
    const char *verdict = json_string_value(json_object_get(rec, SPAK_FIELD_VERDICT));
    const char *type = json_string_value(json_object_get(rec, SPAK_REC_TYPE));
    if (type && strcmp(type, SPAK_REC_COST) == 0)
        return false;
    return of_case(rec, case_name) && !json_is_true(json_object_get(rec, SPAK_FIELD_HELDOUT)) &&
           !(verdict && strcmp(verdict, SPAK_VERDICT_STOPPED) == 0);
}
