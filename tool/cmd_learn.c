/*
 * spak learn RUN - crystallization on demand: lessons from the run's
 * measurements, spec v(n+1) in the run's folder of the home (next to the
 * original with --write; never over it), the diff v(n) -> v(n+1), and an
 * insights log (JSONL). The same lessons are never written twice.
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
    bool json = false, dry = false, approve = false, beside = false;
    const char *out_path = NULL, *policy = "write";
    int i;
    const cli_opt opts[] = {{"--json", NULL, &json, NULL},         {"--dry-run", NULL, &dry, NULL},
                            {"--approve", NULL, &approve, NULL},   {"--write", NULL, &beside, NULL},
                            {"--home", NULL, NULL, &o.home},
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
    if (beside && out_path)
        return usage_error("learn", "%s", "--write (next to the spec) and --out PATH name two places: give one");
    char home[PATH_MAX], dir[PATH_MAX + 64];
    if ((prc = cli_home("learn", o.home, false, home, sizeof home)) != 0)
        return prc;
    o.home = home;
    spak_store *st = NULL;
    spak_err err = {0};
    if (spak_engine_open_store(&o, &st, &err) != SPAK_OK) {
        fprintf(stderr, "spak learn: %s\n", err.msg);
        return EXIT_PROBLEM;
    }
    /* v(n+1) into the run's folder, where its state lives; beside the spec
     * only when asked (--write) */
    spak_snprintf(dir, sizeof dir, "%s/runs/%s", home, run_id);
    if (!beside && !out_path && !strpbrk(run_id, "/") && spak_mkdirs(dir, &err) != SPAK_OK) {
        fprintf(stderr, "spak learn: %s\n", err.msg);
        spak_store_close(st);
        return EXIT_PROBLEM;
    }
    /* first compute everything without writing */
    spak_learn_opts lo = {.out_path = out_path, .out_dir = beside || out_path ? NULL : dir, .write_spec = false,
                          .record = false};
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
    if (write) {
        spak_learn_result_free(&r);
        lo.write_spec = true;
        lo.record = true;
        s = spak_learn(st, run_id, &lo, &r, &err);
        if (s != SPAK_OK) {
            fprintf(stderr, "spak learn: %s\n", err.msg);
            spak_learn_result_free(&r);
            spak_store_close(st);
            return EXIT_PROBLEM;
        }
        if (r.unchanged)
            fprintf(msg, "spak learn: the same lessons are already in %s: nothing written\n",
                    cli_safe(r.new_spec_path));
        else
            fprintf(msg, "spak learn: wrote %s and appended %zu lessons to %s\n", cli_safe(r.new_spec_path), r.n,
                    cli_safe(r.insights_path));
    } else {
        /* the lessons computed stay in --json: a dry run is for reading them */
        fprintf(msg, "spak learn: nothing written (%s)\n", dry ? "--dry-run" : "not approved");
        r.new_spec_path[0] = r.insights_path[0] = '\0';
    }
    if (json) {
        json_t *o2 = json_pack("{s:s,s:s,s:s,s:s,s:b}", "run_id", run_id, "device", r.device, "family", r.family,
                               "shape_class", r.shape_class, "written", write && !r.unchanged);
        json_object_set_new(o2, "unchanged", json_boolean(r.unchanged));
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
