/*
 * spak - the command-line interface. The only place that prints to the user
 * or exits; everything else lives in libspak and returns a status.
 *
 * Exit status: 0 success, 1 the command ran and found a problem (an invalid
 * spec, a failed run), 2 usage error.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spak.h"
#include "ast.h"
#include "fmt.h"
#include "spec.h"
#include "util.h"

#define EXIT_PROBLEM 1
#define EXIT_USAGE 2

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage;
} command;

static const command *find_command(const char *name);

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
    fprintf(stderr, "spak %s: ", cmd);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    const command *c = find_command(cmd);
    if (c)
        fprintf(stderr, "usage: %s\n", c->usage);
    return EXIT_USAGE;
}

static bool is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static void print_command_help(const command *c)
{
    printf("usage: %s\n\n%s\n", c->usage, c->summary);
}

/* Print the diagnostics of a spec to stderr. */
static void print_diags(const spak_spec *s)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    if (spak_diags_format(spak_spec_diags(s), &b) == SPAK_OK && b.len)
        fputs(b.data, stderr);
    spak_buf_free(&b);
}

static json_t *diags_json(const spak_diags *d)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < d->n; i++) {
        const spak_diag *g = &d->items[i];
        json_array_append_new(arr, json_pack("{s:s,s:i,s:i,s:s,s:s}", "file", d->file, "line", g->line, "col",
                                             g->col, "severity",
                                             g->severity == SPAK_DIAG_ERROR ? "error" : "warning", "message", g->msg));
    }
    return arr;
}

/* ---- spak check ---- */

static int cmd_check(int argc, char **argv)
{
    bool json = false, quiet = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        if (strcmp(argv[first], "--json") == 0)
            json = true;
        else if (strcmp(argv[first], "-q") == 0 || strcmp(argv[first], "--quiet") == 0)
            quiet = true;
        else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else
            return usage_error("check", "unknown option '%s'", argv[first]);
    }
    if (first >= argc)
        return usage_error("check", "%sno spec file given", "");
    int rc = 0;
    json_t *out = json ? json_array() : NULL;
    for (int i = first; i < argc; i++) {
        spak_spec *s = NULL;
        spak_err err = {0};
        spak_status st = spak_spec_load(argv[i], &s, &err);
        if (!s) {
            if (json)
                json_array_append_new(out, json_pack("{s:s,s:b,s:s}", "file", argv[i], "valid", 0, "error", err.msg));
            else
                fprintf(stderr, "%s\n", err.msg);
            rc = EXIT_PROBLEM;
            continue;
        }
        const spak_diags *d = spak_spec_diags(s);
        if (st != SPAK_OK)
            rc = EXIT_PROBLEM;
        if (json) {
            json_t *o = json_pack("{s:s,s:b,s:I,s:I}", "file", argv[i], "valid", st == SPAK_OK, "errors",
                                  (json_int_t)d->n_errors, "warnings", (json_int_t)d->n_warnings);
            json_object_set_new(o, "diagnostics", diags_json(d));
            if (st == SPAK_OK) {
                const spak_model *m = spak_spec_model(s);
                json_object_set_new(o, "system", json_string(m->system_name));
            }
            json_array_append_new(out, o);
        } else {
            print_diags(s);
            if (st == SPAK_OK && !quiet) {
                const spak_model *m = spak_spec_model(s);
                size_t np = 0;
                for (size_t k = 0; k < m->n_loops; k++)
                    np += m->loops[k].n_params;
                printf("%s: ok: system %s (%zu design, %zu tuning parameters; %zu trace cases; %zu facts, %zu "
                       "rules; %zu engineering loops, %zu agent loops)%s\n",
                       argv[i], m->system_name, m->n_design, m->n_tuning, m->schema.n_cases, m->n_facts, m->n_rules,
                       m->n_loops, m->n_agent_loops, d->n_warnings ? " with warnings" : "");
            }
        }
        spak_spec_free(s);
    }
    if (json) {
        char *txt = json_dumps(out, JSON_INDENT(2));
        if (txt)
            puts(txt);
        free(txt);
        json_decref(out);
    }
    return rc;
}

/* ---- spak fmt ---- */

static int cmd_fmt(int argc, char **argv)
{
    bool write = false, check = false;
    int first = 1;
    for (; first < argc && argv[first][0] == '-' && argv[first][1]; first++) {
        if (strcmp(argv[first], "-w") == 0 || strcmp(argv[first], "--write") == 0)
            write = true;
        else if (strcmp(argv[first], "--check") == 0)
            check = true;
        else if (strcmp(argv[first], "--") == 0) {
            first++;
            break;
        } else
            return usage_error("fmt", "unknown option '%s'", argv[first]);
    }
    if (first >= argc)
        return usage_error("fmt", "%sno spec file given", "");
    if (!write && !check && argc - first > 1)
        return usage_error("fmt", "%sprinting takes one file; use --write or --check for several", "");
    int rc = 0;
    for (int i = first; i < argc; i++) {
        spak_spec *s = NULL;
        spak_err err = {0};
        spak_status st = spak_spec_load(argv[i], &s, &err);
        if (!s) {
            fprintf(stderr, "%s\n", err.msg);
            rc = EXIT_PROBLEM;
            continue;
        }
        if (st == SPAK_ERR_SYNTAX || st == SPAK_ERR_LIMIT || st == SPAK_ERR_NOMEM) {
            print_diags(s);
            fprintf(stderr, "%s: not formatted: the file does not parse\n", argv[i]);
            spak_spec_free(s);
            rc = EXIT_PROBLEM;
            continue;
        }
        spak_buf b;
        spak_buf_init(&b, 0);
        if (spak_fmt_file(spak_spec_file(s), &b) != SPAK_OK) {
            fprintf(stderr, "%s: out of memory while formatting\n", argv[i]);
            rc = EXIT_PROBLEM;
        } else {
            size_t len;
            const char *src = spak_spec_source(s, &len);
            bool same = len == b.len && memcmp(src, b.data ? b.data : "", len) == 0;
            if (check) {
                if (!same) {
                    printf("%s: not in canonical form\n", argv[i]);
                    rc = EXIT_PROBLEM;
                }
            } else if (write) {
                if (!same && spak_write_file_atomic(argv[i], b.data, b.len, &err) != SPAK_OK) {
                    fprintf(stderr, "%s\n", err.msg);
                    rc = EXIT_PROBLEM;
                }
            } else {
                fwrite(b.data ? b.data : "", 1, b.len, stdout);
            }
        }
        spak_buf_free(&b);
        spak_spec_free(s);
    }
    return rc;
}

/* ---- spak dump ---- */

static int cmd_dump(int argc, char **argv)
{
    if (argc != 2)
        return usage_error("dump", "%sexpected one spec file", "");
    spak_spec *s = NULL;
    spak_err err = {0};
    spak_status st = spak_spec_load(argv[1], &s, &err);
    if (!s) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_PROBLEM;
    }
    int rc = 0;
    if (st == SPAK_ERR_SYNTAX || st == SPAK_ERR_LIMIT || st == SPAK_ERR_NOMEM) {
        print_diags(s);
        rc = EXIT_PROBLEM;
    } else {
        spak_buf b;
        spak_buf_init(&b, 0);
        if (spak_ast_dump(spak_spec_file(s), &b) == SPAK_OK)
            fwrite(b.data, 1, b.len, stdout);
        else
            rc = EXIT_PROBLEM;
        spak_buf_free(&b);
    }
    spak_spec_free(s);
    return rc;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("spak %s\n", SPAK_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"check", cmd_check, "Parse and check spec files. Diagnostics go to stderr as file:line:col: error: ...;\n"
                         "exit 0 when every file is valid, 1 when one has errors, 2 for usage errors.\n"
                         "  --json    one JSON array with each file's validity and diagnostics on stdout\n"
                         "  --quiet   print nothing for valid files",
     "spak check [--json] [--quiet] FILE..."},
    {"fmt", cmd_fmt, "Print a spec in canonical form (comments kept; idempotent).\n"
                     "  --write, -w   rewrite the files in place (atomically)\n"
                     "  --check       exit 1 and name the files that are not in canonical form",
     "spak fmt [--write | --check] FILE..."},
    {"dump", cmd_dump, "Print the syntax tree of a spec (for tests and tools; comments are not part of it).",
     "spak dump FILE"},
    {"version", cmd_version, "Print the version.", "spak version"},
    {"help", cmd_help, "Show help for a command.", "spak help [COMMAND]"},
};

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < SPAK_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    fprintf(f, "spak %s - the Specification -> Programming -> Analysis -> Knowledge loop for kernels\n\n", SPAK_VERSION);
    fprintf(f, "usage: spak COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < SPAK_ARRAY_LEN(commands); i++) {
        const char *nl = strchr(commands[i].summary, '\n');
        int n = nl ? (int)(nl - commands[i].summary) : (int)strlen(commands[i].summary);
        fprintf(f, "  %-9s %.*s\n", commands[i].name, n, commands[i].summary);
    }
    fprintf(f, "\n'spak help COMMAND' or 'spak COMMAND --help' tells more. The language: docs/language.md\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stdout);
        return 0;
    }
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "spak: unknown command '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    print_command_help(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(0, NULL);
    const command *c = find_command(argv[1]);
    if (!c) {
        fprintf(stderr, "spak: unknown command '%s' (see 'spak help')\n", argv[1]);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (is_help(argv[i])) {
            print_command_help(c);
            return 0;
        }
    }
    return c->fn(argc - 1, argv + 1);
}
