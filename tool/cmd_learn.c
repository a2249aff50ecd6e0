/*
 * spak learn RUN - crystallization on demand: lessons from the run's
 * measurements, spec v(n+1) next to the original (never overwriting it),
 * the diff v(n) -> v(n+1), and an insights log (JSONL).
 */
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "knowledge/learn.h"
#include "util.h"

static bool ask_tty(const char *question)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return false;
    fprintf(tty, "%s [y/N] ", question);
    fflush(tty);
    char line[32] = "";
    bool yes = fgets(line, sizeof line, tty) && (line[0] == 'y' || line[0] == 'Y');
    fclose(tty);
    return yes;
}

static bool have_tty(void)
{
    FILE *tty = isatty(STDIN_FILENO) ? fopen("/dev/tty", "r+") : NULL;
    if (tty)
        fclose(tty);
    return tty != NULL;
}

int cmd_learn(int argc, char **argv)
{
    spak_engine_opts o = {.seed = -1};
    bool json = false, dry = false, approve = false;
    const char *out_path = NULL, *policy = "write";
    int i;
    const cli_opt opts[] = {{"--json", NULL, &json, NULL},         {"--dry-run", NULL, &dry, NULL},
                            {"--approve", NULL, &approve, NULL},   {"--home", NULL, NULL, &o.home},
                            {"--out", NULL, NULL, &out_path},      {"--policy", NULL, NULL, &policy},
                            {0}};
    int prc = cli_parse_opts("learn", argc, argv, opts, 0, &i);
    if (prc)
        return prc;
    if (strcmp(policy, "write") != 0 && strcmp(policy, "skip") != 0)
        return usage_error("learn", "--policy is write or skip, not '%s'", policy);
    if (i != argc - 1)
        return usage_error("learn", "%sexpected one run id", "");
    const char *run_id = argv[i];
    char home[PATH_MAX];
    if ((prc = cli_home("learn", o.home, false, home, sizeof home)) != 0)
        return prc;
    o.home = home;
    spak_store *st = NULL;
    spak_err err = {0};
    if (spak_engine_open_store(&o, &st, &err) != SPAK_OK) {
        fprintf(stderr, "spak learn: %s\n", err.msg);
        return EXIT_PROBLEM;
    }
    /* first compute everything without writing */
    spak_learn_opts lo = {.out_path = out_path, .write_spec = false, .record = false};
    spak_learn_result r;
    spak_status s = spak_learn(st, run_id, &lo, &r, &err);
    if (s != SPAK_OK) {
        fprintf(stderr, "spak learn: %s\n", err.msg);
        spak_learn_result_free(&r);
        spak_store_close(st);
        return EXIT_PROBLEM;
    }
    FILE *msg = json ? stderr : stdout;
    /* lessons quote candidate keys and record values: escaped for the terminal */
    fprintf(msg, "spak learn: run %s on %s (%s, %s): %zu lessons\n", cli_safe(run_id), cli_safe(r.device),
            cli_safe(r.family[0] ? r.family : "-"), cli_safe(r.shape_class), r.n);
    for (size_t k = 0; k < r.n; k++)
        fprintf(msg, "  [%s%s] %s\n", cli_safe(r.items[k].kind), r.items[k].untrusted ? ", untrusted" : "",
                cli_safe(r.items[k].text));
    fprintf(msg, "--- diff v(n) -> v(n+1)\n%s", cli_safe_flags(r.diff ? r.diff : "", SPAK_ESC_KEEP_NL));
    bool write = !dry;
    if (write && approve) {
        if (have_tty())
            write = ask_tty("write spec v(n+1) and record the lessons?");
        else {
            write = strcmp(policy, "write") == 0;
            fprintf(msg, "spak learn: no terminal to ask; policy '%s'\n", policy);
        }
    }
    spak_learn_result_free(&r);
    if (write) {
        lo.write_spec = true;
        lo.record = true;
        s = spak_learn(st, run_id, &lo, &r, &err);
        if (s != SPAK_OK) {
            fprintf(stderr, "spak learn: %s\n", err.msg);
            spak_learn_result_free(&r);
            spak_store_close(st);
            return EXIT_PROBLEM;
        }
        fprintf(msg, "spak learn: wrote %s and appended %zu lessons to %s\n", r.new_spec_path, r.n, r.insights_path);
    } else {
        fprintf(msg, "spak learn: nothing written (%s)\n", dry ? "--dry-run" : "not approved");
        memset(&r, 0, sizeof r);
    }
    if (json) {
        json_t *o2 = json_pack("{s:s,s:s,s:s,s:s,s:b}", "run_id", run_id, "device", r.device, "family", r.family,
                               "shape_class", r.shape_class, "written", write);
        json_object_set_new(o2, "spec", r.new_spec_path[0] ? json_string(r.new_spec_path) : json_null());
        json_object_set_new(o2, "insights", r.insights_path[0] ? json_string(r.insights_path) : json_null());
        json_t *arr = json_array();
        for (size_t k = 0; k < r.n; k++) {
            spak_learned *l = &r.items[k];
            json_t *x = json_pack("{s:s,s:s,s:s,s:s}", "kind", l->kind, "subject", l->subject, "text", l->text,
                                  "evidence", l->evidence);
            json_object_set_new(x, "effect", isnan(l->effect) ? json_null() : json_real(l->effect));
            json_object_set_new(x, "confidence", json_real(l->confidence));
            if (strcmp(l->kind, "effect") == 0) {
                /* the evidence behind an effect: pairs, interval, the test */
                json_object_set_new(x, "lesson", json_string(l->rule ? "rule" : "hypothesis"));
                json_object_set_new(x, "n", json_integer(l->n));
                json_object_set_new(x, "interval", json_pack("[f,f]", l->lo, l->hi));
                json_object_set_new(x, "p", json_real(l->p));
                json_object_set_new(x, "p_adjusted", json_real(l->p_adj));
                json_object_set_new(x, "tests", json_integer(l->tests));
                json_object_set_new(x, "correction", json_string("holm"));
            }
            if (l->untrusted)
                json_object_set_new(x, "untrusted", json_true());
            json_array_append_new(arr, x);
        }
        json_object_set_new(o2, "lessons", arr);
        cli_print_json(o2, JSON_COMPACT, "{}");
        json_decref(o2);
    }
    spak_learn_result_free(&r);
    spak_store_close(st);
    return 0;
}
