/*
 * cmd_import.c - `spak import t1 FILE.json`: a T1 tuning file (Kernel
 * Tuner's input format) translated into a spec (spec/t1.h, docs/t1.md).
 * Prints the spec, or writes it with -o; --set NAME=VALUES (repeatable)
 * replaces a parameter's values first; --points lists every point of the
 * space that meets the file's conditions with its grid and block by Kernel
 * Tuner's rules, one JSON object a line (what tests/suites/t1.sh compares
 * with Kernel Tuner's own functions).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "spec/spec.h"
#include "spec/t1.h"
#include "util.h"

static bool print_point(void *ud, const spak_t1_point *p)
{
    spak_buf *b = ud;
    spak_buf_reset(b);
    spak_buf_puts(b, "{\"point\": {");
    for (size_t i = 0; i < p->n; i++) {
        spak_buf_printf(b, "%s\"%s\": ", i ? ", " : "", p->names[i]);
        if (p->values[i].kind == SPAK_PY_STR) {
            json_t *s = json_string(p->values[i].s);
            char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
            spak_buf_puts(b, t ? t : "null");
            free(t);
            json_decref(s);
        } else {
            spak_py_print(&p->values[i], b);
        }
    }
    spak_buf_printf(b, "}, \"grid\": [%lld, %lld, %lld], \"block\": [%lld, %lld, %lld]}\n", (long long)p->grid[0],
                    (long long)p->grid[1], (long long)p->grid[2], (long long)p->block[0], (long long)p->block[1],
                    (long long)p->block[2]);
    return fputs(b->data, stdout) >= 0;
}

/* A spec that imports a T1 file (front matter t1:): the spec it stands for,
 * merged, printed or written to out_path. */
static int print_importer(const char *path, const char *out_path)
{
    spak_spec *s = NULL;
    spak_err err = {0};
    spak_status st = spak_spec_load(path, &s, &err);
    spak_buf b;
    spak_buf_init(&b, 0);
    if (s)
        (void)spak_diags_format(spak_spec_diags(s), &b);
    if (b.len)
        fputs(cli_safe_flags(b.data, SPAK_ESC_KEEP_NL), stderr);
    spak_buf_free(&b);
    size_t len = 0;
    const char *text = s ? spak_spec_source(s, &len) : NULL;
    int rc = EXIT_PROBLEM;
    if (!s)
        fprintf(stderr, "spak import: %s\n", cli_safe(err.msg));
    else if (st != SPAK_OK && st != SPAK_ERR_CHECK)
        fprintf(stderr, "spak import: %s\n", cli_safe(err.msg));
    else if (out_path && spak_write_file_atomic(out_path, text, len, &err) != SPAK_OK)
        fprintf(stderr, "spak import: %s\n", cli_safe(err.msg));
    else {
        if (!out_path)
            fwrite(text, 1, len, stdout);
        rc = st == SPAK_OK ? 0 : EXIT_PROBLEM;
    }
    spak_spec_free(s);
    return rc;
}

int cmd_import(int argc, char **argv)
{
    spak_t1_set sets[CLI_MAX_SETS];
    size_t n_sets = 0;
    argc = cli_take_sets("import", argc, argv, sets, &n_sets);
    if (argc < 0)
        return EXIT_USAGE;
    const char *out_path = NULL;
    bool points = false, count = false;
    int first;
    const cli_opt opts[] = {{"-o", "--out", NULL, &out_path}, {"--points", NULL, &points, NULL},
                            {"--count", NULL, &count, NULL}, {0}};
    int prc = cli_parse_opts("import", argc, argv, opts, 0, &first);
    if (prc)
        return prc;
    if (argc - first != 2 || strcmp(argv[first], "t1") != 0)
        return usage_error("import", "expected 't1 FILE.json'%s", "");
    const char *path = argv[first + 1];
    if (!spak_t1_is_path(path) && !points && !count)
        return print_importer(path, out_path);
    char *text = NULL;
    size_t len;
    spak_err err = {0};
    spak_t1 *t = NULL;
    spak_diags diags;
    spak_buf msgs, spec;
    spak_diags_init(&diags, path);
    spak_buf_init(&msgs, 1 << 20);
    spak_buf_init(&spec, 1 << 24);
    int rc = EXIT_PROBLEM;
    if (spak_read_file(path, SPAK_T1_MAX_BYTES, &text, &len, &err) != SPAK_OK) {
        fprintf(stderr, "spak import: %s\n", cli_safe(err.msg));
        goto out;
    }
    spak_status st = spak_t1_read(path, text, len, sets, n_sets, &t, &diags);
    if (st == SPAK_OK && (points || count)) {
        uint64_t n = 0;
        spak_buf line;
        spak_buf_init(&line, 0);
        st = spak_t1_points(t, points ? print_point : NULL, &line, &n, &err);
        spak_buf_free(&line);
        if (st != SPAK_OK)
            spak_buf_printf(&msgs, "%s: error: %s\n", path, err.msg);
        else if (count)
            printf("%llu\n", (unsigned long long)n);
    } else if (st == SPAK_OK) {
        /* the spec may be written anywhere: its sources are found beside the
         * T1 file, as Kernel Tuner finds them (base:, docs/language.md 2.2) */
        char dir[PATH_MAX];
        spak_spec_base_dir(NULL, path, dir, sizeof dir);
        spak_buf_puts(&spec, "---\nbase: \"");
        spak_buf_puts(&spec, dir);
        spak_buf_puts(&spec, "\"\n---\n");
        st = spak_t1_translate(t, &spec, &diags);
        if (st == SPAK_OK && out_path)
            st = spak_write_file_atomic(out_path, spec.data, spec.len, &err);
        else if (st == SPAK_OK)
            fputs(spec.data, stdout);
        if (st != SPAK_OK && err.msg[0])
            spak_buf_printf(&msgs, "spak import: %s\n", err.msg);
    }
    spak_diags_sort(&diags);
    (void)spak_diags_format(&diags, &msgs);  /* what fits is still worth showing */
    if (msgs.len)
        fputs(cli_safe_flags(msgs.data, SPAK_ESC_KEEP_NL), stderr);
    rc = st == SPAK_OK ? 0 : EXIT_PROBLEM;
out:
    spak_t1_free(t);
    spak_diags_free(&diags);
    spak_buf_free(&msgs);
    spak_buf_free(&spec);
    free(text);
    return rc;
}
