/*
 * cmd_report.c - `spak report [--home DIR] [--out DIR] [--json] RUN`: write
 * the run's report (src/report.h) as report.md and report.html into DIR
 * (default HOME/reports/RUN, HOME found as cli.h says) and print the two paths, or
 * one JSON object with them.
 */
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report/report.h"
#include "store/store.h"
#include "util.h"

int cmd_report(int argc, char **argv)
{
    const char *given = NULL, *out_dir = NULL;
    bool json = false;
    int first;
    const cli_opt opts[] = {{"--json", NULL, &json, NULL}, {"--home", NULL, NULL, &given},
                            {"--out", NULL, NULL, &out_dir}, {0}};
    int rc = cli_parse_opts("report", argc, argv, opts, 0, &first);
    if (rc)
        return rc;
    if (first >= argc)
        return usage_error("report", "%sexpected a run id ('spak status' lists them)", "");
    if (argc - first > 1)
        return usage_error("report", "expected one run id, got a second: '%s'", argv[first + 1]);
    const char *run_id = argv[first];
    char home[PATH_MAX];
    if ((rc = cli_home("report", given, false, home, sizeof home)) != 0)
        return rc;
    char db[PATH_MAX], dir[PATH_MAX];
    if (!spak_snprintf(db, sizeof db, "%s/spak.db", home))
        return usage_error("report", "state directory path too long: '%s'", home);
    if (access(db, R_OK) != 0) {
        fprintf(stderr, "spak report: no store at %s (is --home right?)\n", db);
        return EXIT_PROBLEM;
    }
    if (!out_dir) {
        if (strchr(run_id, '/') || strcmp(run_id, "..") == 0 || strcmp(run_id, ".") == 0)
            return usage_error("report", "'%s' is not a run id", run_id);
        if (!spak_snprintf(dir, sizeof dir, "%s/reports/%s", home, run_id))
            return usage_error("report", "output path too long for run '%s'", run_id);
        out_dir = dir;
    }
    spak_store *st = NULL;
    spak_err err = {0};
    if (spak_store_open(db, &st, &err) != SPAK_OK) {
        fprintf(stderr, "spak report: %s\n", err.msg);
        return EXIT_PROBLEM;
    }
    spak_report_paths p;
    spak_status s = spak_report_write(st, run_id, out_dir, &p, &err);
    spak_store_close(st);
    if (s != SPAK_OK) {
        fprintf(stderr, "spak report: %s\n", err.msg);
        return EXIT_PROBLEM;
    }
    if (json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I}", "run_id", run_id, "markdown", p.md, "html", p.html, "evaluations",
                              (json_int_t)p.evaluations, "correct", (json_int_t)p.correct);
        cli_print_json(j, JSON_COMPACT, "{}");
        json_decref(j);
    } else {
        printf("%s\n%s\n", p.md, p.html);
    }
    return 0;
}
