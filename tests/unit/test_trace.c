/* test_trace.c - trace record scanning and schema validation (src/trace.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "analyze/trace.h"
#include "util.h"

static const char *const layouts[] = {"row", "col"};
static const spak_trace_field perf_fields[] = {
    {"tflops", SPAK_FIELD_FLOAT, NULL, 0},   {"iters", SPAK_FIELD_INT, NULL, 0},
    {"ok", SPAK_FIELD_BOOL, NULL, 0},        {"name", SPAK_FIELD_STRING, NULL, 0},
    {"layout", SPAK_FIELD_ENUM, layouts, 2},
};
static const spak_trace_field corr_fields[] = {
    {"passed", SPAK_FIELD_BOOL, NULL, 0},
    {"rel_err", SPAK_FIELD_FLOAT, NULL, 0},
};
static const spak_trace_case cases[] = {
    {"Performance", perf_fields, SPAK_ARRAY_LEN(perf_fields)},
    {"Correctness", corr_fields, SPAK_ARRAY_LEN(corr_fields)},
};
static const spak_trace_schema schema = {"TraceItem", cases, SPAK_ARRAY_LEN(cases)};

static void scan(const char *buf, size_t len, spak_trace_list *l)
{
    spak_err err = {0};
    spak_status rc = spak_trace_scan(buf, len, NULL, l, &err);
    if (rc != SPAK_OK)
        printf("# scan failed: %s\n", err.msg);
}

/* Scan one NUL-terminated text and expect exactly one record. */
static spak_trace_record *one(const char *text, spak_trace_list *l)
{
    scan(text, strlen(text), l);
    return l->n == 1 ? &l->items[0] : NULL;
}

static int has(const char *s, const char *needle)
{
    return s && strstr(s, needle) != NULL;
}

static void test_basic(void)
{
    const char out[] = "hello\r\n"
                       "__SPAK_TRACE__ {\"type\": \"Performance\", \"tflops\": 512.5, \"iters\": 10}\r\n"
                       "noise __ spak\n"
                       "__SPAK_TRACE__\t{\"type\":\"Correctness\",\"passed\":true,\"rel_err\":1e-6}\n";
    spak_trace_list l;
    scan(out, sizeof out - 1, &l);
    TAP_OK(l.n == 2, "basic: two records (got %zu)", l.n);
    TAP_OK(l.n_lines == 4 && l.n_errors == 0, "basic: 4 lines, no errors");
    if (l.n == 2) {
        TAP_OK(l.items[0].line == 2 && l.items[1].line == 4, "basic: line numbers 2 and 4");
        TAP_OK(l.items[0].index == 1 && l.items[1].index == 2, "basic: indexes 1 and 2");
        TAP_STREQ(l.items[0].type, "Performance", "basic: first type");
        TAP_STREQ(l.items[1].type, "Correctness", "basic: second type");
        TAP_OK(l.items[0].raw[strlen(l.items[0].raw) - 1] == '}', "basic: CR dropped from raw");
        TAP_OK(json_real_value(json_object_get(l.items[0].json, "tflops")) == 512.5, "basic: tflops parsed");
        TAP_OK(spak_trace_validate_all(&l, &schema, NULL) == SPAK_OK, "basic: validate_all ok");
        TAP_OK(l.items[0].valid && l.items[1].valid && l.n_errors == 0, "basic: both valid");
        /* Performance lacks ok/name/layout -> warnings, not errors */
        TAP_OK(has(l.items[0].warnings, "field 'ok' of case Performance is absent"), "basic: absent field warned: %s",
               l.items[0].warnings ? l.items[0].warnings : "(none)");
        TAP_OK(l.items[1].warnings == NULL, "basic: complete record has no warnings");
    }
    spak_trace_list_free(&l);
    TAP_OK(l.n == 0 && l.items == NULL, "list free leaves it empty");
}

static void test_empty(void)
{
    spak_trace_list l;
    TAP_OK(spak_trace_scan(NULL, 0, NULL, &l, NULL) == SPAK_OK && l.n == 0 && l.n_lines == 0, "empty: NULL/0 scans");
    spak_trace_list_free(&l);
    spak_err err = {0};
    TAP_OK(spak_trace_scan(NULL, 5, NULL, &l, &err) == SPAK_ERR_ARG, "empty: NULL with length is ARG");
    spak_trace_list_free(&l);
    spak_trace_record *r = one("__SPAK_TRACE__\n", &l);
    TAP_OK(r && !r->valid && has(r->error, "no JSON object after the marker"), "empty: bare marker is an error");
    spak_trace_list_free(&l);
    scan("no newline at all", 17, &l);
    TAP_OK(l.n == 0 && l.n_lines == 1, "empty: no records, one line");
    spak_trace_list_free(&l);
}

static void test_partial(void)
{
    spak_trace_list l;
    spak_trace_record *r = one("x\n__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":false}", &l);
    TAP_OK(r && r->valid && r->line == 2, "partial: complete JSON on an unterminated last line parses");
    spak_trace_list_free(&l);
    r = one("__SPAK_TRACE__ {\"type\":\"Performance\",\"tfl", &l);
    TAP_OK(r && !r->valid && !r->json && has(r->error, "malformed JSON") && has(r->error, "output cut off"),
           "partial: cut JSON is an error that says so: %s", r && r->error ? r->error : "");
    TAP_OK(r && has(r->error, "record 1 (line 1): "), "partial: error has the record/line prefix");
    spak_trace_list_free(&l);
}

static void test_nul_and_utf8(void)
{
    const char out[] = "bin\0ary\n__SPAK_TRACE__ {\"type\":\"Perf\0\"}\n__SPAK_TRACE__ {\"type\":\"A\xff\"}\n"
                       "__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true}\n";
    spak_trace_list l;
    scan(out, sizeof out - 1, &l);
    TAP_OK(l.n == 3 && l.n_errors == 2, "nul/utf8: 3 records, 2 errors (got %zu, %zu)", l.n, l.n_errors);
    if (l.n == 3) {
        TAP_OK(has(l.items[0].error, "NUL byte") && l.items[0].line == 2, "nul: NUL in record is an error");
        TAP_OK(has(l.items[0].raw, "\xEF\xBF\xBD"), "nul: raw shows U+FFFD for NUL");
        TAP_OK(has(l.items[1].error, "not valid UTF-8"), "utf8: invalid UTF-8 is an error");
        TAP_OK(spak_utf8_valid(l.items[1].raw, strlen(l.items[1].raw)), "utf8: raw is cleaned to valid UTF-8");
        TAP_OK(l.items[2].valid && l.items[2].line == 4, "nul: a NUL on a non-record line does not disturb later ones");
    }
    spak_trace_list_free(&l);
}

static void test_huge(void)
{
    size_t n = 200 * 1024;
    char *buf = malloc(n + 128);
    if (!buf) {
        TAP_OK(0, "huge: malloc");
        return;
    }
    size_t o = 0;
    memcpy(buf, "__SPAK_TRACE__ {\"type\":\"Performance\",\"name\":\"", 45);
    o = 45;
    memset(buf + o, 'a', n);
    o += n;
    memcpy(buf + o, "\"}\n__SPAK_TRACE__ {\"type\":\"Correctness\"}\n", 41);
    o += 41;
    spak_trace_list l;
    scan(buf, o, &l);
    TAP_OK(l.n == 2, "huge: two records");
    if (l.n == 2) {
        TAP_OK(has(l.items[0].error, "record too long") && !l.items[0].json, "huge: over-cap record is an error: %s",
               l.items[0].error ? l.items[0].error : "");
        TAP_OK(strlen(l.items[0].raw) <= SPAK_TRACE_EXCERPT_MAX, "huge: raw is an excerpt");
        TAP_OK(l.items[1].valid && l.items[1].line == 2, "huge: next record still read");
    }
    spak_trace_list_free(&l);
    /* a huge line without the marker is just skipped */
    memset(buf, 'x', n);
    memcpy(buf + n, "\n", 1);
    scan(buf, n + 1, &l);
    TAP_OK(l.n == 0 && l.n_lines == 1, "huge: long plain line is no record");
    spak_trace_list_free(&l);
    /* the cap can be raised */
    memcpy(buf, "__SPAK_TRACE__ {\"type\":\"X\",\"s\":\"", 32);
    memcpy(buf + n - 2, "\"}", 2);
    spak_trace_scan_opts opts = {.max_record_bytes = 1 << 20};
    TAP_OK(spak_trace_scan(buf, n, &opts, &l, NULL) == SPAK_OK && l.n == 1 && l.items[0].json,
           "huge: raised cap accepts the record");
    spak_trace_list_free(&l);
    free(buf);
}

static void test_bad_json(void)
{
    static const struct {
        const char *text, *want;
    } cases_[] = {
        {"__SPAK_TRACE__ [1, 2]\n", "record is an array, not an object"},
        {"__SPAK_TRACE__ 42\n", "record is an int, not an object"},
        {"__SPAK_TRACE__ \"s\"\n", "record is a string, not an object"},
        {"__SPAK_TRACE__ {\"tflops\": 1}\n", "record has no \"type\" member"},
        {"__SPAK_TRACE__ {\"type\": 7}\n", "\"type\" is int, not a string"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\"} trailing\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\"}{}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\", \"tflops\": NaN}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\", \"tflops\": Infinity}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\", \"tflops\": -Infinity}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\", \"tflops\": 1e999}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"Performance\", \"iters\": 99999999999999999999999}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"A\", \"type\": \"B\"}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {type: \"A\"}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"A\",}\n", "malformed JSON"},
        {"__SPAK_TRACE__ {\"type\": \"A\\u0000\"}\n", "malformed JSON"},
        {"log: __SPAK_TRACE__ {\"type\": \"A\"}\n", "marker not at start of line (column 6)"},
        {"  __SPAK_TRACE__ {\"type\": \"A\"}\n", "marker not at start of line (column 3)"},
    };
    for (size_t i = 0; i < SPAK_ARRAY_LEN(cases_); i++) {
        spak_trace_list l;
        spak_trace_record *r = one(cases_[i].text, &l);
        TAP_OK(r && !r->valid && has(r->error, cases_[i].want) && l.n_errors == 1, "bad json %zu: '%s' -> %s", i,
               cases_[i].want, r && r->error ? r->error : "(no error)");
        if (r) {
            spak_err err = {0};
            TAP_OK(spak_trace_validate(r, &schema, &err) == SPAK_ERR_TRACE && !r->valid && r->validated &&
                       has(err.msg, cases_[i].want),
                   "bad json %zu: validation keeps the scan error", i);
        }
        spak_trace_list_free(&l);
    }
}

/* Validate one record text against the schema; returns the record's error or
 * "" when valid, into out (copied). */
static spak_status check(const char *text, char *out, size_t n, char *warn, size_t wn)
{
    spak_trace_list l;
    spak_err err = {0};
    out[0] = warn[0] = '\0';
    spak_trace_record *r = one(text, &l);
    spak_status rc = SPAK_ERR_INTERNAL;
    if (r) {
        rc = spak_trace_validate(r, &schema, &err);
        if (r->error)
            spak_snprintf(out, n, "%s", r->error);
        if (r->warnings)
            spak_snprintf(warn, wn, "%s", r->warnings);
        if (rc == SPAK_ERR_TRACE && strcmp(err.msg, out) != 0)
            rc = SPAK_ERR_INTERNAL; /* err must repeat rec->error */
        if ((rc == SPAK_OK) != r->valid)
            rc = SPAK_ERR_INTERNAL;
    }
    spak_trace_list_free(&l);
    return rc;
}

static void test_validate(void)
{
    char e[512], w[512];
    TAP_OK(check("a\nb\n__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":\"fast\"}\n", e, sizeof e, w, sizeof w) ==
               SPAK_ERR_TRACE,
           "validate: string for float is an error");
    TAP_STREQ(e, "record 1 (line 3): field 'tflops' is string, case Performance declares float",
              "validate: precise message");

    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":3,\"iters\":7,\"ok\":true,\"name\":\"k\","
                 "\"layout\":\"col\"}",
                 e, sizeof e, w, sizeof w) == SPAK_OK &&
               !*e && !*w,
           "validate: int accepted for float; full record valid, no warnings (%s %s)", e, w);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":3.5e2}", e, sizeof e, w, sizeof w) == SPAK_OK,
           "validate: real for float");
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"iters\":3.0}", e, sizeof e, w, sizeof w) ==
                   SPAK_ERR_TRACE &&
               has(e, "field 'iters' is float, case Performance declares int"),
           "validate: 3.0 is not an int: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"ok\":1}", e, sizeof e, w, sizeof w) == SPAK_ERR_TRACE &&
               has(e, "field 'ok' is int, case Performance declares bool"),
           "validate: 1 is not a bool: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":null}", e, sizeof e, w, sizeof w) ==
                   SPAK_ERR_TRACE &&
               has(e, "field 'tflops' is null, case Performance declares float"),
           "validate: null never fits a record that did not fail: %s", e);
    /* a failure record keeps its reason: null (nothing measured) counts as absent */
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":false,\"rel_err\":null}", e, sizeof e, w,
                 sizeof w) == SPAK_OK &&
               !*e && has(w, "field 'rel_err' of case Correctness is absent"),
           "validate: null in a failure record (passed: false) counts as absent: %s / %s", e, w);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true,\"rel_err\":null}", e, sizeof e, w,
                 sizeof w) == SPAK_ERR_TRACE &&
               has(e, "field 'rel_err' is null"),
           "validate: null in a passing record is still an error: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"verdict\":\"stopped\",\"tflops\":null}", e, sizeof e,
                 w, sizeof w) == SPAK_OK && !*e,
           "validate: a record of a candidate stopped early (verdict stopped) may leave a field null: %s", e);
    {
        json_t *st = json_pack("{s:s,s:s,s:f}", "type", "Performance", "verdict", "stopped", "tflops", 1.5);
        json_t *ok = json_pack("{s:s,s:s,s:f}", "type", "Performance", "verdict", "ok", "tflops", 1.5);
        TAP_OK(!spak_trace_counts(st, NULL) && !spak_trace_counts(st, "Performance") && spak_trace_counts(ok, NULL),
               "counts: a stopped record counts in nothing (censored), an ok one does");
        json_decref(st);
        json_decref(ok);
        json_t *cost = json_pack("{s:s,s:s,s:f}", "type", "Cost", "scope", "run", "wall_s", 9.5);
        TAP_OK(!spak_trace_counts(cost, NULL) && !spak_trace_counts(cost, "Cost"),
               "counts: a judge's Cost record counts in nothing (its wall_s is no metric of the candidate)");
        json_decref(cost);
    }
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":false,\"bogus\":null}", e, sizeof e, w,
                 sizeof w) == SPAK_OK &&
               has(w, "field 'bogus' not declared"),
           "validate: an undeclared null in a failure record is still a warning: %s", w);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"layout\":\"diag\"}", e, sizeof e, w, sizeof w) ==
                   SPAK_ERR_TRACE,
           "validate: enum value not in union");
    TAP_STREQ(e, "record 1 (line 1): field 'layout' is \"diag\", case Performance declares \"row\" | \"col\"",
              "validate: enum message lists the union");
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"layout\":3}", e, sizeof e, w, sizeof w) ==
                   SPAK_ERR_TRACE &&
               has(e, "field 'layout' is int, case Performance declares \"row\" | \"col\""),
           "validate: non-string for enum: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"name\":[1]}", e, sizeof e, w, sizeof w) ==
                   SPAK_ERR_TRACE &&
               has(e, "field 'name' is array, case Performance declares string"),
           "validate: array for string: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":\"x\",\"iters\":\"y\"}", e, sizeof e, w,
                 sizeof w) == SPAK_ERR_TRACE &&
               has(e, "field 'tflops' is string") && has(e, "; field 'iters' is string"),
           "validate: every mismatch is reported: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Roofline\",\"x\":1}", e, sizeof e, w, sizeof w) == SPAK_ERR_TRACE,
           "validate: unknown case is an error");
    TAP_STREQ(e, "record 1 (line 1): type 'Roofline' is not a case of TraceItem (cases: Performance, Correctness)",
              "validate: unknown case message lists the cases");
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Cost\",\"scope\":\"run\",\"phases\":{\"probe\":1.5}}", e, sizeof e, w,
                 sizeof w) == SPAK_OK && !*e && !*w,
           "validate: a judge's Cost record is valid without a case of the schema: %s", e);
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true,\"rel_err\":0,\"max_abs\":2.5}", e,
                 sizeof e, w, sizeof w) == SPAK_OK &&
               !*e,
           "validate: undeclared field is not an error");
    TAP_STREQ(w, "field 'max_abs' not declared in case Correctness", "validate: undeclared field is a warning");
    TAP_OK(check("__SPAK_TRACE__ {\"type\":\"Correctness\",\"we\\nird\":1,\"passed\":true,\"rel_err\":0}", e,
                 sizeof e, w, sizeof w) == SPAK_OK &&
               has(w, "field 'we?ird' not declared"),
           "validate: control characters in names are not echoed: %s", w);

    /* re-validation replaces the old verdict; NULL schema = structure only */
    spak_trace_list l;
    spak_trace_record *r = one("__SPAK_TRACE__ {\"type\":\"Whatever\",\"a\":1}", &l);
    TAP_OK(r && spak_trace_validate(r, &schema, NULL) == SPAK_ERR_TRACE && r->error, "validate: invalid with schema");
    TAP_OK(r && spak_trace_validate(r, NULL, NULL) == SPAK_OK && r->valid && !r->error && !r->warnings,
           "validate: valid without schema (old error cleared)");
    spak_trace_list_free(&l);
}

static void test_record_cap(void)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    for (int i = 0; i < 10; i++)
        spak_buf_printf(&b, "__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true,\"rel_err\":%d}\n", i);
    spak_trace_list l;
    spak_trace_scan_opts opts = {.max_records = 4};
    TAP_OK(spak_trace_scan(b.data, b.len, &opts, &l, NULL) == SPAK_OK, "cap: scan ok");
    TAP_OK(l.n == 5 && l.n_dropped == 6 && l.n_errors == 1, "cap: 4 kept + 1 error record, 6 dropped (n=%zu d=%zu)",
           l.n, l.n_dropped);
    if (l.n == 5) {
        TAP_OK(has(l.items[4].error, "6 further records dropped: over the cap of 4 records") && l.items[4].line == 5,
               "cap: the drop is reported at the first dropped line: %s", l.items[4].error ? l.items[4].error : "");
        TAP_OK(spak_trace_validate_all(&l, &schema, NULL) == SPAK_OK && l.n_errors == 1,
               "cap: validate_all keeps the drop error");
    }
    spak_trace_list_free(&l);
    spak_buf_free(&b);
}

static void test_clean(void)
{
    size_t n;
    char *c = spak_text_clean("a\0b", 3, 0, &n);
    TAP_OK(c && n == 5 && memcmp(c, "a\xEF\xBF\xBD" "b", 5) == 0, "clean: NUL -> U+FFFD");
    free(c);
    c = spak_text_clean("\xC3\xA9\xC0\xAF\xED\xA0\x80", 7, 0, &n); /* é, overlong '/', surrogate */
    TAP_OK(c && strncmp(c, "\xC3\xA9", 2) == 0 && spak_utf8_valid(c, n) && n == 2 + 5 * 3,
           "clean: overlong and surrogate bytes replaced (n=%zu)", n);
    free(c);
    c = spak_text_clean("ab\xE2\x82\xAC", 5, 4, &n); /* cap cuts the euro sign */
    TAP_OK(c && n == 2 && strcmp(c, "ab") == 0, "clean: a cap never splits a sequence");
    free(c);
    c = spak_text_clean(NULL, 10, 0, &n);
    TAP_OK(c && n == 0 && *c == '\0', "clean: NULL gives an empty string");
    free(c);
}

int main(void)
{
    test_basic();
    test_empty();
    test_partial();
    test_nul_and_utf8();
    test_huge();
    test_bad_json();
    test_validate();
    test_record_cap();
    test_clean();
    return tap_done();
}
