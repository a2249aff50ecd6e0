/*
 * cmd_export.c - results outside the database:
 *   spak export [--home DIR] [--format json|csv|t4] [-o FILE] RUN
 *   spak compare [--home DIR] [--json] [--level L] A B
 * export writes one run in spak's JSON or CSV layout or in the T4
 * autotuning results format (src/report/export.h, docs/export.md); compare
 * puts the same candidates of two runs side by side (src/report/compare.h).
 * A and B are run ids of the home or files that `spak export --format json`
 * wrote (an operand with a '/' or ending in .json is a file), so a run
 * measured on another machine compares with one measured here.
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "report/compare.h"
#include "report/export.h"
#include "util.h"

/* the document of operand `what`: a file when it names one (a '/' in it or
 * a .json ending), else a run of the store *st (opened on first use from
 * home). Says what went wrong as `spak CMD: ...` and returns EXIT_PROBLEM,
 * or 0 with *doc set. */
static int load_doc(const char *cmd, const char *what, const char *home, spak_store **st, json_t **doc)
{
    spak_err err = {0};
    size_t n = strlen(what);
    if (strchr(what, '/') || (n > 5 && strcmp(what + n - 5, ".json") == 0)) {
        char *text = NULL;
        size_t len = 0;
        spak_status s = spak_read_file(what, SPAK_EXPORT_MAX_BYTES, &text, &len, &err);
        if (s == SPAK_OK)
            s = spak_export_read(text, len, doc, &err);
        free(text);
        if (s != SPAK_OK) {
            /* spak_export_read's messages start with line:col where they have one */
            fprintf(stderr, "spak %s: %s:%s%s\n", cmd, cli_safe(what), isdigit((unsigned char)err.msg[0]) ? "" : " ",
                    cli_safe(err.msg));
            return EXIT_PROBLEM;
        }
        return 0;
    }
    if (!*st) {
        char found[4096];
        int hr = cli_home(cmd, home, false, found, sizeof found); /* as git finds its folder; creates nothing */
        if (hr != 0)
            return hr;
        spak_engine_opts o = {.home = found};
        if (spak_engine_open_store(&o, st, &err) != SPAK_OK) {
            fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(err.msg));
            return EXIT_PROBLEM;
        }
    }
    if (spak_export_run(*st, what, doc, &err) != SPAK_OK) {
        fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(err.msg));
        return EXIT_PROBLEM;
    }
    return 0;
}

/* text to FILE (atomically) or, without one, to stdout: made safe for a
 * terminal when stdout is one (the file and a pipe get the bytes as they
 * are; CSV keeps its line ends) */
static int emit(const char *cmd, const char *path, const char *text, bool json)
{
    spak_err err = {0};
    if (path) {
        if (spak_write_file_atomic(path, text, strlen(text), &err) != SPAK_OK) {
            fprintf(stderr, "spak %s: %s\n", cmd, cli_safe(err.msg));
            return EXIT_PROBLEM;
        }
        return 0;
    }
    if (!isatty(STDOUT_FILENO)) {
        fputs(text, stdout);
    } else if (json) {
        fputs(cli_safe_flags(text, SPAK_ESC_JSON), stdout);
    } else {
        /* CSV on a terminal: a line at a time, its CR dropped (the escape
         * would show it as \x0d) */
        for (const char *p = text; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            char *line = strndup(p, n && p[n - 1] == '\r' ? n - 1 : n);
            if (line)
                printf("%s\n", cli_safe_flags(line, SPAK_ESC_KEEP_NL));
            free(line);
            p += n + (nl ? 1 : 0);
        }
    }
    return fflush(stdout) == 0 ? 0 : EXIT_PROBLEM;
}

/* doc in format fmt, as text (malloc'd) into *text */
static spak_status render(const json_t *doc, const char *fmt, char **text, spak_err *err)
{
    *text = NULL;
    if (strcmp(fmt, "csv") == 0) {
        spak_buf b;
        spak_buf_init(&b, 0);
        spak_status s = spak_export_csv(doc, &b, err);
        if (s == SPAK_OK)
            *text = spak_buf_take(&b);
        spak_buf_free(&b);
        return s;
    }
    json_t *t4 = NULL;
    if (strcmp(fmt, "t4") == 0) {
        spak_status s = spak_export_t4(doc, &t4, err);
        if (s != SPAK_OK)
            return s;
    }
    char *t = json_dumps(t4 ? t4 : doc, JSON_INDENT(2));
    json_decref(t4);
    size_t n = t ? strlen(t) : 0;
    *text = t ? realloc(t, n + 2) : NULL;
    if (!*text) {
        free(t);
        return spak_errf(err, SPAK_ERR_NOMEM, "out of memory writing JSON");
    }
    memcpy(*text + n, "\n", 2);
    return SPAK_OK;
}

int cmd_export(int argc, char **argv)
{
    const char *home = NULL, *fmt = "json", *path = NULL;
    const cli_opt opts[] = {{"--home", NULL, NULL, &home},
                            {"--format", NULL, NULL, &fmt},
                            {"--output", "-o", NULL, &path},
                            {0}};
    int first;
    int rc = cli_parse_opts("export", argc, argv, opts, CLI_DASHDASH | CLI_MISSING_VALUE, &first);
    if (rc)
        return rc;
    if (strcmp(fmt, "json") != 0 && strcmp(fmt, "csv") != 0 && strcmp(fmt, "t4") != 0)
        return usage_error("export", "--format is json, csv or t4, not '%s'", fmt);
    if (first != argc - 1)
        return usage_error("export", "%sexpected one run id ('spak status' lists them)", "");
    spak_store *st = NULL;
    json_t *doc = NULL;
    rc = load_doc("export", argv[first], home, &st, &doc);
    spak_store_close(st);
    if (rc)
        return rc;
    char *text = NULL;
    spak_err err = {0};
    if (render(doc, fmt, &text, &err) != SPAK_OK) {
        fprintf(stderr, "spak export: %s\n", err.msg);
        rc = EXIT_PROBLEM;
    } else {
        rc = emit("export", path, text, strcmp(fmt, "csv") != 0);
    }
    free(text);
    json_decref(doc);
    return rc;
}

/* a string member for the terminal, "-" when it is not a string (a spec
 * path is null in a run without one) */
static const char *str_of(const json_t *v)
{
    return json_is_string(v) ? cli_safe(json_string_value(v)) : "-";
}

/* a number as people read it, "-" for none */
static const char *num3(char *buf, size_t n, const json_t *v)
{
    if (json_is_number(v))
        snprintf(buf, n, "%.4g", json_number_value(v));
    else
        snprintf(buf, n, "-");
    return buf;
}

/* the comparison for people: one line per row, then who is in one run only
 * and the counts */
static void print_compare(const json_t *c)
{
    const json_t *a = json_object_get(c, "a"), *b = json_object_get(c, "b");
    printf("A: %s (%s)\nB: %s (%s)\nB's time over A's, %g%% intervals from the repetitions (Welch, unpaired)\n",
           str_of(json_object_get(a, "run_id")),
           str_of(json_object_get(a, "spec")),
           str_of(json_object_get(b, "run_id")),
           str_of(json_object_get(b, "spec")),
           100 * json_number_value(json_object_get(c, "level")));
    printf("%-36s %-16s %10s %10s %8s  %-17s %s\n", "CANDIDATE", "SHAPE", "A ms", "B ms", "B/A", "INTERVAL",
           "VERDICT");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(c, "rows"), i, r) {
        char ta[32], tb[32], ra[32], iv[64] = "-";
        json_t *ci = json_object_get(r, "ratio_ci");
        if (json_array_size(ci) == 2)
            snprintf(iv, sizeof iv, "[%.4g-%.4g]", json_number_value(json_array_get(ci, 0)),
                     json_number_value(json_array_get(ci, 1)));
        const char *shape = json_string_value(json_object_get(r, "shape"));
        printf("%-36s %-16s %10s %10s %8s  %-17s %s\n", str_of(json_object_get(r, "candidate")),
               cli_safe(shape ? shape : "-"), num3(ta, sizeof ta, json_object_get(r, "a_time_ms")),
               num3(tb, sizeof tb, json_object_get(r, "b_time_ms")), num3(ra, sizeof ra, json_object_get(r, "ratio")),
               iv, str_of(json_object_get(r, "verdict")));
    }
    static const char *const only[2] = {"only_in_a", "only_in_b"};
    for (int k = 0; k < 2; k++) {
        json_array_foreach(json_object_get(c, only[k]), i, r)
            printf("only in %c: %s (%s: %s)\n", k ? 'B' : 'A',
                   str_of(json_object_get(r, "candidate")), k ? "A" : "B",
                   str_of(json_object_get(r, "in_other")));
    }
    const json_t *n = json_object_get(c, "counts");
    char g[32];
    printf("%lld compared: %lld faster, %lld slower, %lld same, %lld unknown; geometric mean B/A %s\n",
           (long long)json_integer_value(json_object_get(n, "compared")),
           (long long)json_integer_value(json_object_get(n, "faster")),
           (long long)json_integer_value(json_object_get(n, "slower")),
           (long long)json_integer_value(json_object_get(n, "same")),
           (long long)json_integer_value(json_object_get(n, "unknown")),
           num3(g, sizeof g, json_object_get(c, "geomean_ratio")));
}

int cmd_compare(int argc, char **argv)
{
    const char *home = NULL, *level_s = NULL;
    bool json = false;
    const cli_opt opts[] = {{"--home", NULL, NULL, &home},
                            {"--json", NULL, &json, NULL},
                            {"--level", NULL, NULL, &level_s},
                            {0}};
    int first;
    int rc = cli_parse_opts("compare", argc, argv, opts, CLI_DASHDASH | CLI_MISSING_VALUE, &first);
    if (rc)
        return rc;
    double level = 0.95;
    if (level_s && (!spak_parse_double(level_s, &level) || !(level > 0 && level < 1)))
        return usage_error("compare", "--level is a number between 0 and 1 (e.g. 0.95), not '%s'", level_s);
    if (first != argc - 2)
        return usage_error("compare", "%sexpected two runs, A and B (run ids or files of 'spak export')", "");
    spak_store *st = NULL;
    json_t *da = NULL, *db = NULL, *c = NULL;
    rc = load_doc("compare", argv[first], home, &st, &da);
    if (!rc)
        rc = load_doc("compare", argv[first + 1], home, &st, &db);
    spak_store_close(st);
    spak_err err = {0};
    if (!rc && spak_compare_runs(da, db, level, &c, &err) != SPAK_OK) {
        fprintf(stderr, "spak compare: %s\n", err.msg);
        rc = EXIT_PROBLEM;
    }
    if (!rc && json) {
        char *t = json_dumps(c, JSON_INDENT(2));
        if (t)
            puts(cli_safe_flags(t, SPAK_ESC_JSON));
        rc = t ? 0 : EXIT_PROBLEM;
        free(t);
    } else if (!rc) {
        print_compare(c);
    }
    json_decref(da);
    json_decref(db);
    json_decref(c);
    return rc;
}
