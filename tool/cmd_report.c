/*
 * cmd_report.c - `spak report [--home DIR] [--out DIR] [--json] RUN`: write
 * the run's report (src/report.h) as report.md and report.html into DIR
 * (default HOME/reports/RUN, HOME being .spak) and print the two paths, or
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
    const char *home = ".spak", *out_dir = NULL, *run_id = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0)
            json = true;
        else if (strcmp(a, "--home") == 0 && i + 1 < argc)
            home = argv[++i];
        else if (strcmp(a, "--out") == 0 && i + 1 < argc)
            out_dir = argv[++i];
        else if (a[0] == '-' && a[1])
            return usage_error("report", "unknown option or missing value: '%s'", a);
        else if (run_id)
            return usage_error("report", "expected one run id, got a second: '%s'", a);
        else
            run_id = a;
    }
    if (!run_id)
        return usage_error("report", "%sexpected a run id ('spak status' lists them)", "");
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
        char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
        puts(t ? t : "{}");
        free(t);
        json_decref(j);
    } else {
        printf("%s\n%s\n", p.md, p.html);
    }
    return 0;
}
