/* test_report.c - the run report (src/report.c): a store built with
 * spak_store_* calls in a temp dir (a run with correct and failed
 * evaluations, trace records with a baseline and the roofline fields, a
 * hostile candidate key and error), then the two files: they exist, the HTML
 * refers to nothing outside itself, has one mark per evaluation and one
 * roofline mark per analysed correct evaluation, escapes what came from the
 * data; an empty run, a failed run and a missing run say so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "report/report.h"
#include "store/store.h"
#include "tap.h"
#include "analyze/trace.h"
#include "util.h"

#define HOSTILE_KEY "<script>alert(1)</script>"
#define HOSTILE_ERR "\"><svg onload=alert(1)>"

static const char *SPEC =
    "system Rep {\n"
    "    problem { family: \"matmul\" target: \"cpu\" baseline: \"ref\" }\n"
    "    design_space { rung: [\"naive\", \"packed\"] }\n"
    "    tuning_space { tile: [32, 64, 128] }\n"
    "    trace_schema { variant TraceItem { case Performance { gflops: float } } }\n"
    "    engineering_loop L {\n"
    "        measure { cmd: \"true\" metric: \"gflops\" objective: maximize }\n"
    "        strategy: \"grid\"\n"
    "        seed: 5\n"
    "    }\n"
    "}\n";

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, l = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)); p += l)
        n++;
    return n;
}

static bool contains_ci(const char *hay, const char *needle)
{
    size_t l = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, l) == 0)
            return true;
    return false;
}

static char *slurp(const char *path)
{
    char *d = NULL;
    size_t n;
    if (spak_read_file(path, (size_t)64 << 20, &d, &n, NULL) != SPAK_OK)
        return NULL;
    return d;
}

/* Finish an evaluation with the records in `out` (trace lines). */
static bool eval_with(spak_store *st, const char *run, const char *key, const char *params, const char *status,
                      int correct, double metric, double ratio, const char *bottleneck, const char *error,
                      const char *out)
{
    spak_err err = {0};
    int64_t cid, eid;
    if (spak_store_candidate_upsert(st, run, key, params, NULL, NULL, &cid, NULL, &err) != SPAK_OK ||
        spak_store_eval_begin(st, run, cid, NULL, &eid, &err) != SPAK_OK) {
        printf("# %s\n", err.msg);
        return false;
    }
    spak_trace_list tl;
    spak_trace_scan(out, strlen(out), NULL, &tl, NULL);
    spak_trace_validate_all(&tl, NULL, NULL);
    spak_eval_result r = {.status = status, .exit_desc = "exited: status 0", .correct = correct, .metric = metric,
                          .ratio = ratio, .bottleneck = bottleneck, .error = error, .traces = &tl,
                          .build_log = "$ cc -O3 -shared -o x.so x.c\n"};
    spak_status s = spak_store_eval_finish(st, run, eid, &r, &err);
    spak_trace_list_free(&tl);
    if (s != SPAK_OK)
        printf("# %s\n", err.msg);
    return s == SPAK_OK;
}

/* The records a CPU harness writes for one correct evaluation. */
static void records(char *buf, size_t n, double gflops, double ai, const char *bound)
{
    spak_snprintf(buf, n,
                  "__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":true,\"seed\":42,\"reason\":\"\"}\n"
                  "__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"64x64x64\",\"time_ms\":%g,\"gflops\":%g,"
                  "\"baseline_gflops\":100,\"ratio\":%g}\n"
                  "__SPAK_TRACE__ {\"type\":\"Analysis\",\"shape\":\"64x64x64\",\"arith_intensity\":%g,"
                  "\"peak_gflops\":400,\"peak_gbps\":50,\"bottleneck\":\"%s\",\"why\":\"because\"}\n"
                  /* a held-out shape that looks wonderful: it must change no number of the report */
                  "__SPAK_TRACE__ {\"type\":\"Performance\",\"shape\":\"8x8x8\",\"heldout\":true,"
                  "\"time_ms\":0.001,\"gflops\":99999,\"baseline_gflops\":1}\n",
                  1000.0 / gflops, gflops, gflops / 100, ai, bound);
}

int main(void)
{
    char dir[] = "/tmp/spak-report-test.XXXXXX";
    if (!mkdtemp(dir)) {
        TAP_OK(0, "mkdtemp");
        return tap_done();
    }
    char db[256], out[256], path[300];
    spak_snprintf(db, sizeof db, "%s/spak.db", dir);
    spak_store *st = NULL;
    spak_err err = {0};
    TAP_OK(spak_store_open(db, &st, &err) == SPAK_OK, "open a store in %s", dir);
    if (!st)
        return tap_done();

    /* a finished run: 4 correct evaluations, 2 failed (one with a hostile error) */
    spak_run_new nw = {.spec_path = "rep.spak", .spec_text = SPEC, .strategy = "grid", .seed = 5,
                       .device_json = "{\"cpu\":\"Test CPU\",\"cores\":4}", .initial_state = "specify",
                       .detail_json = "{\"loop\":\"L\",\"target\":\"cpu\",\"space_size\":6}"};
    char run[SPAK_STORE_ID_MAX];
    TAP_OK(spak_store_run_create(st, &nw, run, &err) == SPAK_OK, "create a run");
    char rec[2048];
    bool ok = true;
    records(rec, sizeof rec, 20, 0.5, "memory");
    ok &= eval_with(st, run, "rung=naive,tile=32", "{\"rung\":\"naive\",\"tile\":32}", SPAK_EVAL_DONE, 1, 20, 0.2,
                    "memory", NULL, rec);
    ok &= eval_with(st, run, "rung=naive,tile=64", "{\"rung\":\"naive\",\"tile\":64}", SPAK_EVAL_FAILED, 0, NAN, NAN,
                    NULL, HOSTILE_ERR, "__SPAK_TRACE__ {\"type\":\"Correctness\",\"passed\":false}\n");
    records(rec, sizeof rec, 150, 16, "compute");
    ok &= eval_with(st, run, "rung=packed,tile=32", "{\"rung\":\"packed\",\"tile\":32}", SPAK_EVAL_DONE, 1, 150, 1.5,
                    "compute", NULL, rec);
    ok &= eval_with(st, run, HOSTILE_KEY, "{\"rung\":\"packed\",\"tile\":64}", SPAK_EVAL_FAILED, -1, NAN, NAN, NULL,
                    "signal 11 (SIGSEGV)", "");
    records(rec, sizeof rec, 90, 8, "compute");
    ok &= eval_with(st, run, "rung=packed,tile=128", "{\"rung\":\"packed\",\"tile\":128}", SPAK_EVAL_DONE, 1, 90, 0.9,
                    "compute", NULL, rec);
    records(rec, sizeof rec, 30, 1, "memory");
    ok &= eval_with(st, run, "rung=naive,tile=128", "{\"rung\":\"naive\",\"tile\":128}", SPAK_EVAL_DONE, 1, 30, 0.3,
                    "memory", NULL, rec);
    TAP_OK(ok, "6 evaluations stored with their trace records");
    spak_transition t = {NULL, "done", SPAK_RUN_DONE, "search space exhausted",
                         "{\"metric\":\"gflops\",\"objective\":\"maximize\",\"baseline\":\"ref\",\"elapsed_s\":1.5}",
                         "{\"stop_reason\":\"search space exhausted\"}"};
    TAP_OK(spak_store_transition(st, run, &t, NULL, &err) == SPAK_OK, "finish the run");
    spak_lesson les = {.run_id = run, .kind = "effect", .subject = "rung=packed", .effect = 4.0,
                       .uncertainty = 0.3, .confidence = 0.99, .text = "rung = packed helps"};
    TAP_OK(spak_store_lesson_insert(st, &les, NULL, &err) == SPAK_OK, "a tested effect as a lesson");

    spak_snprintf(out, sizeof out, "%s/out", dir);
    spak_report_paths p;
    spak_status s = spak_report_write(st, run, out, &p, &err);
    TAP_OK(s == SPAK_OK, "spak_report_write succeeds (%s)", s ? err.msg : "ok");
    struct stat sb;
    TAP_OK(stat(p.md, &sb) == 0 && sb.st_size > 500, "report.md exists and is not trivial");
    TAP_OK(stat(p.html, &sb) == 0 && sb.st_size > 5000, "report.html exists and is not trivial");
    TAP_OK(p.evaluations == 6 && p.correct == 4, "counts: 6 evaluations, 4 correct (got %ld, %ld)", p.evaluations,
           p.correct);
    char *html = slurp(p.html), *md = slurp(p.md);
    TAP_OK(html && md, "both files read back");
    if (html && md) {
        TAP_OK(!contains_ci(html, "http"), "HTML: no 'http' anywhere");
        TAP_OK(!contains_ci(html, "src="), "HTML: no 'src='");
        TAP_OK(!contains_ci(html, "<script"), "HTML: no '<script'");
        TAP_OK(!contains_ci(html, "<link") && !contains_ci(html, "url(") && !contains_ci(html, "@import") &&
                   !contains_ci(html, "<img") && !contains_ci(html, "<iframe"),
               "HTML: no <link>, url(), @import, <img>, <iframe>");
        TAP_OK(count(html, "class=\"mark eval") == 6, "HTML: 6 marks of class 'mark eval' for 6 evaluations (got %zu)",
               count(html, "class=\"mark eval"));
        bool each = true;
        for (int i = 1; i <= 6; i++) {
            char d[32];
            spak_snprintf(d, sizeof d, "data-eval=\"%d\"", i);
            /* the first data-eval of N belongs to the progress chart */
            const char *q = strstr(html, d);
            each &= q != NULL;
        }
        TAP_OK(each, "HTML: each evaluation 1..6 has a data-eval mark");
        TAP_OK(count(html, "class=\"mark eval failed") == 2, "HTML: the 2 failed evaluations are drawn as failed marks");
        TAP_OK(count(html, "class=\"mark roof") == 4, "HTML: one roofline mark per correct analysed evaluation (got %zu)",
               count(html, "class=\"mark roof"));
        TAP_OK(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL, "HTML: the hostile key is escaped");
        TAP_OK(strstr(html, "&quot;&gt;&lt;svg onload=alert(1)&gt;") != NULL && !strstr(html, "\"><svg onload"),
               "HTML: the hostile error is escaped");
        TAP_OK(strstr(html, "class=\"baseline\"") != NULL, "HTML: the baseline line is drawn (baseline_gflops)");
        TAP_OK(strstr(html, "class=\"bestline\"") != NULL, "HTML: the best-so-far line is drawn");
        TAP_OK(strstr(html, "CPU-only run") != NULL, "HTML: a CPU-only run says so");
        TAP_OK(strstr(html, "No knowledge update was recorded for this run") != NULL,
               "HTML: no knowledge diff, and it says so");
        TAP_OK(strstr(html, "No LLM drove this run") != NULL, "HTML: no LLM, and it says so");
        TAP_OK(strstr(html, "class=\"tested\"") != NULL, "HTML: the tested effect (lesson) is drawn on its bar");
        TAP_OK(strstr(html, "design choice") && strstr(html, "tuning value"),
               "HTML: effects name design choices and tuning values");
        TAP_OK(strstr(html, "150") && strstr(html, "1.50x"), "HTML: the best (150, 1.50x) is reported");
        TAP_OK(strstr(html, "compilers (build logs)") && strstr(html, ">cc<"), "HTML: provenance names the compiler");
        TAP_OK(!contains_ci(md, "<script") && strstr(md, "&lt;script&gt;"), "Markdown: the hostile key is escaped");
        TAP_OK(strstr(md, "## Candidates") && strstr(md, "## Provenance"), "Markdown: has the sections");
        TAP_OK(strstr(md, "| 6.667 |") && strstr(md, "measured gflops 100") && !strstr(md, "99999"),
               "Markdown: time and baseline from the timed shape only (held-out records count only without one)");
    }
    free(html);
    free(md);

    /* an empty run and a failed run say so */
    spak_run_new nw2 = {.spec_path = "rep.spak", .spec_text = SPEC, .strategy = "grid", .seed = 1,
                        .initial_state = "specify", .detail_json = "{\"loop\":\"L\",\"target\":\"cpu\"}"};
    char run2[SPAK_STORE_ID_MAX];
    spak_store_run_create(st, &nw2, run2, &err);
    spak_transition tf = {NULL, "decide", SPAK_RUN_FAILED, "error", NULL, "{\"error\":\"the baseline does not build\"}"};
    spak_store_transition(st, run2, &tf, NULL, &err);
    spak_snprintf(out, sizeof out, "%s/out2", dir);
    s = spak_report_write(st, run2, out, &p, &err);
    TAP_OK(s == SPAK_OK && p.evaluations == 0, "a failed run without evaluations gets a report");
    html = slurp(p.html);
    TAP_OK(html && strstr(html, "FAILED") && strstr(html, "the baseline does not build"),
           "HTML: the failed run says it failed, and why");
    TAP_OK(html && strstr(html, "No evaluation was recorded") && count(html, "class=\"mark eval") == 0,
           "HTML: no evaluation, no mark, and it says so");
    TAP_OK(html && strstr(html, "No roofline"), "HTML: no roofline, and it says so");
    free(html);

    s = spak_report_write(st, "r19990101-001", out, &p, &err);
    TAP_OK(s == SPAK_ERR_ARG, "a missing run is SPAK_ERR_ARG (%s)", err.msg);
    spak_store_close(st);

    /* clean up */
    static const char *const files[] = {"out/report.md", "out/report.html", "out2/report.md", "out2/report.html",
                                        "spak.db", "spak.db-wal", "spak.db-shm", "out", "out2"};
    for (size_t i = 0; i < SPAK_ARRAY_LEN(files); i++) {
        spak_snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(dir);
    return tap_done();
}
