/*
 * test_llm_prompt.c - prompt assembly and its truncation policy, reply
 * parsing (code blocks, parameter choices, predictions, refusals), and the
 * pieces of the LLM client that need no network: request bodies, response
 * parsing, the price table and cost. TAP on stdout.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "program/llm/llm.h"
#include "program/context_sections.h"
#include "program/prompt.h"
#include "run_opts.h"
#include "tap.h"
#include "util.h"

static char *repeat(const char *unit, size_t times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * times + 1);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    s[u * times] = 0;
    return s;
}

static void test_build(void)
{
    /* the oldest entry is long enough to pay for the note that says what was cut */
    const char *hist[] = {"try 1: BM=32 UNROLL=1 -> correct, 10.1 GFLOP/s, 0.22x baseline, memory bound, predicted 12; "
                          "the tile is too small for the caches: every element of B is read once per row of A, the "
                          "loads dominate and the FMA units wait; the next try doubles the tile and unrolls by four, "
                          "which the vectoriser should turn into 8-wide FMAs over a row of C kept in registers",
                          "try 2: BM=64 UNROLL=4 -> correct, 14.0 GFLOP/s, 0.31x baseline, memory bound, predicted 15",
                          "try 3: BM=128 UNROLL=8 -> correct, 9.2 GFLOP/s, 0.20x baseline, spills, predicted 20"};
    const char *lessons[] = {"bigger tiles help until registers spill", "unroll 4 beats unroll 8"};
    spak_prompt_parts p = {0};
    p.mode = SPAK_PROMPT_CODE;
    p.task = "Multiply A (MxK) by B (KxN) in fp32.";
    p.abi_header = "void spak_matmul(const float *a, const float *b, float *c, int m, int n, int k);";
    p.abi_symbol = "spak_matmul";
    p.space = "BM: [32, 64, 128]\nUNROLL: [1, 4, 8]";
    p.best_source = "void spak_matmul(const float *a, const float *b, float *c, int m, int n, int k) { }";
    p.analysis = "correct; 14 GFLOP/s; 0.31x OpenBLAS; memory bound";
    p.diagnostics = "cand.c:3:1: warning: unused variable 'x'";
    p.rules = "rule \"small tiles are memory bound\" fired";
    p.lessons = lessons;
    p.n_lessons = 2;
    p.history = hist;
    p.n_history = 3;
    p.metric = "gflops";

    spak_prompt pr;
    spak_err err = {0};
    TAP_OK(spak_prompt_build(&p, 0, &pr, &err) == SPAK_OK, "build without a budget");
    TAP_OK(pr.system && strstr(pr.system, "```c") && strstr(pr.system, "\"prediction\""),
           "system message asks for a ```c block and a prediction");
    const char *order[] = {"## Task", "## Kernel ABI", "## Design and tuning space", "## Current best source",
                           "## Latest analysis", "## Compiler diagnostics", "## Fired rules", "## Lessons",
                           "## History", "## Reply format"};
    const char *prev = pr.user;
    int in_order = 1;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(order); i++) {
        const char *q = strstr(pr.user, order[i]);
        if (!q || q < prev)
            in_order = 0;
        else
            prev = q;
    }
    TAP_OK(in_order, "all ten sections, in the documented order");
    TAP_OK(strstr(pr.user, "try 1: BM=32") && strstr(pr.user, "unroll 4 beats"), "history and lessons present");
    TAP_OK(pr.report[0] == 0 && pr.history_dropped == 0, "nothing cut without a budget");
    TAP_OK(pr.est_tokens == spak_prompt_estimate_tokens(strlen(pr.system) + strlen(pr.user)),
           "token estimate is bytes/4 of system + user");
    size_t full = pr.est_tokens;
    spak_prompt_free(&pr);

    /* a budget that forces only the oldest history entry out */
    TAP_OK(spak_prompt_build(&p, full - 3, &pr, &err) == SPAK_OK, "build with a slightly smaller budget");
    TAP_OK(pr.history_dropped == 1 && !strstr(pr.user, "try 1:") && strstr(pr.user, "try 3:"),
           "oldest history entry dropped first (dropped %zu)", pr.history_dropped);
    TAP_OK(pr.lessons_dropped == 0 && pr.diagnostics_cut == 0, "lessons and diagnostics untouched");
    TAP_OK(strstr(pr.user, "[... 1 older attempts cut ...]") != NULL, "the cut is marked");
    TAP_OK(strstr(pr.user, "## Cut to fit the context budget\n\nThis prompt was cut to fit: 1 older history") != NULL,
           "a note before the reply format says what was cut");
    TAP_OK(pr.est_tokens <= full - 3, "fits the budget (%zu <= %zu)", pr.est_tokens, full - 3);
    spak_prompt_free(&pr);

    /* big diagnostics: history and lessons go, then the diagnostics head */
    char *diag = repeat("cand.c:1:1: error: something is wrong here\n", 200);
    p.diagnostics = diag;
    size_t budget = 900;
    TAP_OK(spak_prompt_build(&p, budget, &pr, &err) == SPAK_OK, "build with big diagnostics, budget %zu", budget);
    TAP_OK(pr.history_dropped == 3 && pr.lessons_dropped == 2, "all history and lessons dropped before diagnostics");
    TAP_OK(pr.diagnostics_cut > 0 && pr.source_cut == 0 && pr.rules_cut == 0, "diagnostics cut, rules and source kept");
    const char *d = strstr(pr.user, "## Compiler diagnostics");
    TAP_OK(d && strstr(d, "bytes cut ...]\ncand.c:1:1: error"), "diagnostics keep the tail, whole lines");
    TAP_OK(strstr(pr.user, p.abi_header) && strstr(pr.user, p.task) && strstr(pr.user, "BM: [32, 64, 128]"),
           "task, ABI and space never cut");
    TAP_OK(pr.est_tokens <= budget, "fits (%zu <= %zu)", pr.est_tokens, budget);
    TAP_OK(strstr(pr.report, "3 history entries") != NULL, "report says what was cut: %s", pr.report);
    spak_prompt_free(&pr);

    /* a huge source is cut in the middle, head and tail kept */
    p.diagnostics = NULL;
    char *src = repeat("    acc += a[i] * b[i]; /* inner */\n", 400);
    char *src2 = malloc(strlen(src) + 100);
    snprintf(src2, strlen(src) + 100, "void spak_matmul(void) {\n%s}\n", src);
    p.best_source = src2;
    TAP_OK(spak_prompt_build(&p, 1000, &pr, &err) == SPAK_OK, "build with a huge source");
    TAP_OK(pr.source_cut > 0 && strstr(pr.user, "void spak_matmul(void) {") && strstr(pr.user, "}\n```"),
           "source: head and tail kept, middle cut");
    TAP_OK(pr.est_tokens <= 1000, "fits");
    spak_prompt_free(&pr);

    /* the fixed parts alone do not fit */
    TAP_OK(spak_prompt_build(&p, 50, &pr, &err) == SPAK_ERR_LIMIT && strstr(err.msg, "fixed parts"),
           "fixed parts over the budget: SPAK_ERR_LIMIT (%s)", err.msg);
    p.task = NULL;
    TAP_OK(spak_prompt_build(&p, 0, &pr, &err) == SPAK_ERR_ARG, "no task: SPAK_ERR_ARG");

    /* params mode */
    p.task = "t";
    p.mode = SPAK_PROMPT_PARAMS;
    p.best_source = NULL;
    TAP_OK(spak_prompt_build(&p, 0, &pr, &err) == SPAK_OK && strstr(pr.system, "\"params\""),
           "params mode asks for the JSON choice");
    TAP_OK(strstr(pr.user, "## Current best source\n\nNothing to show: spak gave no text") != NULL,
           "a section given nothing is still there and says so");
    spak_prompt_free(&pr);
    free(diag);
    free(src);
    free(src2);
}

/* Every part filled: the sixteen sections in the documented order, each
 * new piece cut in the policy's order, and the whole prompt against its
 * golden (tests/golden/prompt/; regenerate with SPAK_GOLDEN_UPDATE=1). */
static spak_prompt_parts full_parts(void)
{
    static const char *hist[] = {"x=1: gflops 10, 0.50x the baseline [0.48-0.52]",
                                 "code:step-0001: gflops 30, 1.40x the baseline [1.22-1.63]"};
    static const char *lessons[] = {"tile_k = 256 beats 128 by 1.12x [1.05-1.19] (6 pairs)"};
    spak_prompt_parts p = {0};
    p.mode = SPAK_PROMPT_CODE;
    p.language = "c";
    p.task = "Make the matmul kernel faster.";
    p.abi_header = "int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C);\n"
                   "/* ---- ../common/info.h (included above) ---- */\ntypedef struct spak_kernel_info spak_kernel_info;";
    p.abi_symbol = "spak_matmul";
    p.space = "rung: [\"naive\"]";
    p.machine = "CPU: Test CPU, 2 cores; ISA: avx2 fma; caches: L1d 48 KiB, L2 2 MiB\n"
                "measured peaks: 100 GFLOP/s, 10 GB/s";
    p.start = "rung=naive: gflops 10, 0.50x the baseline\n```c\nint spak_matmul(void) { return 0; }\n```";
    p.best_source = "int spak_matmul(void) { return 1; }";
    p.diff = "--- best\n+++ last\n@@ -1 +1 @@\n-a\n+b";
    p.analysis = "latest: ratio 1.40x [1.22-1.63] (95%, 17 reps), bottleneck latency at 21% of peak";
    p.shapes = "256x256x256: 23 gflops, baseline 23, 1.24x [1.02-1.49]; rel_err 2.9e-07 <= 1e-05\n"
               "FLOPs: 2*M*N*K per call";
    p.counters = "None: the CPU judge records no hardware counters.";
    p.diagnostics = "$ cc -O3 x.c\nx.c:3:5: warning: unused variable 'y'";
    p.rules = "fired: rule \"Pack\" when memory_bound: rung = 'packed'";
    p.lessons = lessons;
    p.n_lessons = 1;
    p.predictions = "step-0001: predicted 20 gflops, measured 30: error 10 (33%); direction right";
    p.history = hist;
    p.n_history = 2;
    p.metric = "gflops";
    return p;
}

static void test_sections(void)
{
    spak_prompt_parts p = full_parts();
    spak_prompt pr;
    spak_err err = {0};
    TAP_OK(spak_prompt_build(&p, 0, &pr, &err) == SPAK_OK, "build with every part");
    const char *order[] = {"## Task", "## Kernel ABI", "## Machine", "## Design and tuning space", "## Starting point",
                           "## Current best source", "## Diff of the last candidate against the best",
                           "## Latest analysis", "## Per-shape results", "## Hardware counters",
                           "## Compiler diagnostics and resource report", "## Fired rules", "## Lessons",
                           "## Predictions against outcomes", "## History", "## Reply format"};
    const char *prev = pr.user;
    size_t in_order = 0;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(order); i++) {
        const char *q = strstr(pr.user, order[i]);
        if (q && q >= prev) {
            prev = q;
            in_order++;
        }
    }
    TAP_OK(in_order == SPAK_ARRAY_LEN(order), "all sixteen sections, in the documented order (%zu)", in_order);
    TAP_OK(strstr(pr.system, "machine") && strstr(pr.system, "predictions against outcomes") &&
               strstr(pr.system, "\"ratio\""),
           "the system message announces the sections and asks for a ratio");
    TAP_OK(strstr(pr.user, "```diff\n--- best") != NULL, "the diff is fenced as a diff");
    TAP_OK(strstr(pr.user, "## Hardware counters\n\nNone: the CPU judge") != NULL, "a reason is shown unfenced");
    const char *path = "tests/golden/prompt/code.md";
    char *all = NULL;
    size_t n = 0;
    spak_buf b;
    spak_buf_init(&b, 0);
    spak_buf_printf(&b, "# System\n\n%s\n# User\n\n%s", pr.system, pr.user);
    if (getenv("SPAK_GOLDEN_UPDATE"))
        (void)spak_write_file_atomic(path, b.data, b.len, NULL);
    TAP_OK(spak_read_file(path, 1 << 20, &all, &n, NULL) == SPAK_OK && n == b.len && memcmp(all, b.data, n) == 0,
           "the prompt equals its golden %s (regenerate: SPAK_GOLDEN_UPDATE=1 build/tests/test_llm_prompt)", path);
    free(all);
    spak_buf_free(&b);
    size_t full = pr.est_tokens;
    spak_prompt_free(&pr);

    /* a small cut: history and lessons go first, then pieces in the
     * policy's order: none is cut while one before it keeps a byte */
    size_t budget = full - 40;
    TAP_OK(spak_prompt_build(&p, budget, &pr, &err) == SPAK_OK && pr.est_tokens <= budget, "fits %zu", budget);
    size_t cuts[] = {pr.predictions_cut, pr.diagnostics_cut, pr.counters_cut, pr.rules_cut, pr.diff_cut,
                     pr.shapes_cut, pr.analysis_cut, pr.start_cut, pr.machine_cut, pr.source_cut};
    const char *texts[] = {p.predictions, p.diagnostics, p.counters, p.rules, p.diff,
                           p.shapes, p.analysis, p.start, p.machine, p.best_source};
    int mono = pr.history_dropped == 2 && pr.lessons_dropped == 1 && cuts[0] > 0 && cuts[9] == 0;
    for (size_t i = 1; i < SPAK_ARRAY_LEN(cuts); i++)
        if (cuts[i] && cuts[i - 1] < strlen(texts[i - 1]))
            mono = 0;
    TAP_OK(mono, "history, lessons, then the pieces in order (%s)", pr.report);
    spak_prompt_free(&pr);
    /* then diagnostics, counters, rules, diff, per-shape, analysis, start, machine, source, in that order */
    size_t *fields[] = {&pr.diagnostics_cut, &pr.counters_cut, &pr.rules_cut, &pr.diff_cut, &pr.shapes_cut,
                        &pr.analysis_cut, &pr.start_cut, &pr.machine_cut, &pr.source_cut};
    char *big = repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 64);
    int ok_order = 1;
    for (size_t i = 0; i < SPAK_ARRAY_LEN(fields); i++) {
        /* the pieces before i absent, i and every later one big: a budget
         * that needs about an eighth of one piece cuts piece i only */
        spak_prompt_parts q = full_parts();
        q.predictions = NULL;
        q.n_history = q.n_lessons = 0;
        const char **qt[] = {&q.diagnostics, &q.counters, &q.rules, &q.diff, &q.shapes,
                             &q.analysis, &q.start, &q.machine, &q.best_source};
        for (size_t k = 0; k < SPAK_ARRAY_LEN(qt); k++)
            *qt[k] = k < i ? NULL : big;
        spak_prompt all_in;
        if (spak_prompt_build(&q, 0, &all_in, &err) != SPAK_OK) {
            ok_order = 0;
            break;
        }
        size_t bud = all_in.est_tokens - strlen(big) / 8;
        spak_prompt_free(&all_in);
        if (spak_prompt_build(&q, bud, &pr, &err) != SPAK_OK || pr.est_tokens > bud) {
            ok_order = 0;
            break;
        }
        for (size_t k = 0; k < SPAK_ARRAY_LEN(fields); k++)
            if ((*fields[k] > 0) != (k == i))
                ok_order = 0;
        if (!ok_order)
            printf("# piece %zu: %s\n", i, pr.report);
        spak_prompt_free(&pr);
        if (!ok_order)
            break;
    }
    TAP_OK(ok_order, "each byte-cut piece is cut only once those before it in the policy are gone");
    free(big);
}

/* The diff of the last candidate against the best, and the ABI with the
 * headers it includes (context_sections.h). */
static void test_context_pieces(void)
{
    spak_buf b;
    spak_buf_init(&b, 0);
    const char *a = "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\n";
    const char *c = "l1\nl2\nl3\nL4\nl5\nl6\nl7\nl8\nl9\nl10\nl11\n";
    TAP_OK(spak_unified_diff(a, c, "best", "last", &b) &&
               strcmp(b.data, "--- best\n+++ last\n@@ -1,10 +1,11 @@\n l1\n l2\n l3\n-l4\n+L4\n l5\n l6\n l7\n l8\n "
                              "l9\n l10\n+l11\n") == 0,
           "a unified diff: close changes in one hunk with 3 lines of context");
    spak_buf_reset(&b);
    const char *far_a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n", *far_b = "A\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nM\n";
    TAP_OK(spak_unified_diff(far_a, far_b, "x", "y", &b) &&
               strcmp(b.data, "--- x\n+++ y\n@@ -1,4 +1,4 @@\n-a\n+A\n b\n c\n d\n@@ -10,4 +10,4 @@\n j\n k\n l\n-m\n+M\n") ==
                   0,
           "changes far apart are two hunks");
    spak_buf_reset(&b);
    TAP_OK(spak_unified_diff(a, a, "x", "y", &b) && b.len == 0, "equal texts: an empty diff");
    spak_buf_free(&b);

    char dir[] = "/tmp/spak-ctx-XXXXXX";
    if (!mkdtemp(dir)) {
        TAP_OK(0, "mkdtemp");
        return;
    }
    char p1[128], p2[128], p3[128], sub[128];
    snprintf(sub, sizeof sub, "%s/common", dir);
    snprintf(p1, sizeof p1, "%s/abi.h", dir);
    snprintf(p2, sizeof p2, "%s/common/info.h", dir);
    snprintf(p3, sizeof p3, "%s/common/more.h", dir);
    mkdir(sub, 0755);
    const char *t1 = "#include <stdio.h>\n#include \"common/info.h\"\nint k(void);\n";
    const char *t2 = "  #  include \"more.h\"\ntypedef int info_t;\n#include \"info.h\"\n";
    const char *t3 = "#define MORE 1\n";
    spak_write_file_atomic(p1, t1, strlen(t1), NULL);
    spak_write_file_atomic(p2, t2, strlen(t2), NULL);
    spak_write_file_atomic(p3, t3, strlen(t3), NULL);
    char *abi = spak_ctx_abi_with_includes(p1, 1 << 16);
    TAP_OK(abi && strstr(abi, "int k(void);") && strstr(abi, "/* ---- common/info.h (included above) ---- */") &&
               strstr(abi, "typedef int info_t;") && strstr(abi, "/* ---- more.h (included above) ---- */") &&
               strstr(abi, "#define MORE 1"),
           "the ABI with every header it includes, transitively");
    const char *once = abi ? strstr(abi, "typedef int info_t;") : NULL;
    TAP_OK(once && !strstr(once + 1, "typedef int info_t;") && !strstr(abi, "stdio.h (included"),
           "each header once (a self-include is not followed), system headers not inlined");
    free(abi);
    TAP_OK(spak_ctx_abi_with_includes("/nonexistent/abi.h", 1024) == NULL, "an unreadable ABI: NULL");
    unlink(p3);
    unlink(p2);
    unlink(p1);
    rmdir(sub);
    rmdir(dir);
}

/* The sections that read records, on a hand-made run: the GPU's resource
 * report (ptxas lines and the judge's registers), counters or why none,
 * and predictions scored (error, direction against the best then). */
static void test_measured_sections(void)
{
    spak_loop_def loop = {0};
    loop.metric = "tflops";
    loop.objective = SPAK_OBJ_MAXIMIZE;
    spak_strategy_run run = {0};
    run.loop = &loop;
    run.target = "cuda";
    spak_eval ev = {0};
    ev.eval_id = 3;
    ev.cand_key = "code:step-0002|rung=1";
    ev.status = "done";
    ev.metric = 500;
    ev.ratio = 0.8;
    ev.build_log = "$ nvcc -O3 x.cu\nptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
                   "ptxas info    : Used 168 registers, 0 bytes spill stores, 0 bytes spill loads\n";
    json_t *recs = json_loads("[{\"type\":\"Analysis\",\"shape\":\"4096x4096x4096\",\"registers\":168,"
                              "\"smem_bytes\":200704,\"spills\":0,\"occupancy\":0.125,\"wave_efficiency\":0.97},"
                              "{\"type\":\"Correctness\",\"shape\":\"97x61x33\",\"heldout\":true,\"passed\":false,"
                              "\"reason\":\"rel_err 0.3 over 0.01\"},"
                              "{\"type\":\"Counters\",\"shape\":\"4096x4096x4096\",\"available\":true,\"tool\":\"ncu\","
                              "\"kernel\":\"k\",\"metrics\":{\"sm__throughput\":81.5},\"units\":{\"sm__throughput\":\"%\"}}]",
                              0, NULL);
    spak_buf b;
    spak_buf_init(&b, 0);
    spak_ctx_diag(&run, &ev, recs, &b);
    TAP_OK(strstr(b.data, "resource report (ptxas -v):\nptxas info    : Used 168 registers, 0 bytes spill stores, 0 "
                          "bytes spill loads\n- 4096x4096x4096") &&
               strstr(b.data, "- 4096x4096x4096: 168 registers a thread, 200704 bytes of shared memory a block, 0 "
                              "bytes spilled, occupancy 0.12"),
           "CUDA: ptxas's register and spill lines, then the judge's per-shape resource numbers");
    TAP_OK(strstr(b.data, "failed check (Correctness) on a held-out shape: rel_err 0.3") && !strstr(b.data, "97x61x33"),
           "a failed held-out check is shown, its shape not named");
    spak_buf_reset(&b);
    spak_ctx_counters(&run, &ev, recs, &b);
    TAP_OK(strstr(b.data, "- 4096x4096x4096 (ncu, kernel k): sm__throughput = 81.5 %;") != NULL,
           "counters: the ncu metrics with their units");
    spak_buf_reset(&b);
    json_t *none = json_array();
    spak_ctx_counters(&run, &ev, none, &b);
    TAP_OK(strncmp(b.data, "None: the latest evaluation recorded no Counters records", 50) == 0,
           "no counters: the section says why");
    spak_buf_reset(&b);
    spak_eval skipped = ev;
    skipped.result_json = "{\"counters\":\"counters not taken: rung=rung4_ws was profiled at evaluation 2\"}";
    spak_ctx_counters(&run, &skipped, none, &b);
    TAP_OK(strstr(b.data, "None for the latest evaluation: counters not taken: rung=rung4_ws was profiled at "
                          "evaluation 2") != NULL && strstr(b.data, "--counters every") != NULL,
           "counters not asked for this evaluation (--counters new): the section says where they are");
    json_decref(none);
    json_decref(recs);

    /* predictions: one better-than-best predicted and measured worse, one right, one failed */
    spak_eval evs[3] = {0};
    evs[0] = ev;
    evs[0].result_json = "{\"llm\":{\"predicted_metric\":600,\"best_metric_before\":550}}";
    evs[1] = ev;
    evs[1].cand_key = "code:step-0003|rung=1";
    evs[1].metric = 620;
    evs[1].ratio = 1.0;
    evs[1].result_json = "{\"llm\":{\"predicted_ratio\":1.1,\"best_metric_before\":550}}";
    evs[2] = ev;
    evs[2].cand_key = "code:step-0004|rung=1";
    evs[2].status = "failed";
    evs[2].result_json = "{\"llm\":{\"predicted_metric\":700}}";
    spak_buf_reset(&b);
    spak_ctx_predictions(&run, evs, 3, &b);
    TAP_OK(strstr(b.data, "- code:step-0002|rung=1: predicted tflops 600; measured 500 (ratio 0.8); error 100 (20% of "
                          "the measured); direction against the best then (550): predicted better, measured worse: "
                          "wrong\n") != NULL,
           "a prediction scored: its error and a wrong direction");
    TAP_OK(strstr(b.data, "predicted ratio 1.1; measured 620 (ratio 1); ratio error 0.1 (10% of the measured); "
                          "direction against the best then (550): predicted better, measured better: right") != NULL,
           "a ratio alone is scored too, its direction through the measured baseline");
    TAP_OK(strstr(b.data, "outcome failed (no measurement to score)") &&
               strstr(b.data, "score: 3 predictions, 2 measured; median absolute error 15% of the measured; "
                              "direction right 1 of 2"),
           "the score line: median relative error and directions right");
    spak_buf_free(&b);
}

/* An ablation (--context-without): the texts llm_context.c gives the
 * sections it removes, the Lessons section's why instead of the lessons,
 * the whole prompt pinned by its golden; the option's words. */
static void test_without(void)
{
    static const char *hist[] = {"x=1: done, correct (" SPAK_CTX_OMITTED_MEASUREMENTS ")"};
    spak_prompt_parts p = full_parts();
    p.start = "The first point of the space measured in this run, rung=naive: done; its measurement: "
              SPAK_CTX_OMITTED_MEASUREMENTS "\n```c\nint spak_matmul(void) { return 0; }\n```";
    p.analysis = p.shapes = p.counters = p.predictions = SPAK_CTX_OMITTED_MEASUREMENTS ".";
    p.rules = SPAK_CTX_OMITTED_KNOWLEDGE ": the spec's rules and hints are not shown.";
    p.lessons_omitted = SPAK_CTX_OMITTED_KNOWLEDGE ": the store's lessons are not shown.";
    p.history = hist;
    p.n_history = 1;
    spak_prompt pr;
    spak_err err = {0};
    TAP_OK(spak_prompt_build(&p, 0, &pr, &err) == SPAK_OK, "an ablated prompt builds");
    TAP_OK(strstr(pr.user, "## Lessons\n\nOmitted by this run's design (--context-without knowledge): the store's "
                           "lessons are not shown.\n") && !strstr(pr.user, "tile_k = 256"),
           "the Lessons section says why it is empty, and shows no lesson given beside");
    TAP_OK(strstr(pr.user, "## Latest analysis\n\nOmitted") && !strstr(pr.user, "```\nOmitted"),
           "an omitted section is plain text, never fenced as code");
    const char *path = "tests/golden/prompt/code-without.md";
    char *all = NULL;
    size_t n = 0;
    spak_buf b;
    spak_buf_init(&b, 0);
    spak_buf_printf(&b, "# System\n\n%s\n# User\n\n%s", pr.system, pr.user);
    if (getenv("SPAK_GOLDEN_UPDATE"))
        (void)spak_write_file_atomic(path, b.data, b.len, NULL);
    TAP_OK(spak_read_file(path, 1 << 20, &all, &n, NULL) == SPAK_OK && n == b.len && memcmp(all, b.data, n) == 0,
           "the ablated prompt equals its golden %s (regenerate: SPAK_GOLDEN_UPDATE=1 build/tests/test_llm_prompt)",
           path);
    free(all);
    spak_buf_free(&b);
    spak_prompt_free(&pr);

    unsigned bits = 0;
    char text[64];
    TAP_OK(spak_context_without_parse("knowledge,measurements", &bits, &err) == SPAK_OK &&
               bits == (SPAK_CTX_WITHOUT_MEASUREMENTS | SPAK_CTX_WITHOUT_KNOWLEDGE),
           "--context-without reads both words");
    spak_context_without_text(bits, text, sizeof text);
    TAP_OK(strcmp(text, "measurements,knowledge") == 0, "and writes them back as the run's options keep them");
    bits = 0;
    TAP_OK(spak_context_without_parse("measurements,speed", &bits, &err) == SPAK_ERR_ARG &&
               strstr(err.msg, "not 'speed'"),
           "an unknown word is refused by name (%s)", err.msg);
    spak_engine_opts o = {.context_without = SPAK_CTX_WITHOUT_KNOWLEDGE};
    spak_strategy_run run = {0};
    TAP_OK(!spak_ctx_without(&run, SPAK_CTX_WITHOUT_KNOWLEDGE), "a run without options removes nothing");
    run.o = &o;
    TAP_OK(spak_ctx_without(&run, SPAK_CTX_WITHOUT_KNOWLEDGE) && !spak_ctx_without(&run, SPAK_CTX_WITHOUT_MEASUREMENTS),
           "a run removes what its options say, only that");
    /* a candidate its judge stopped early: the why says how slow it was */
    run.target = "cpu";
    spak_eval ev = {.eval_id = 4, .cand_key = "code:ext-3-1|rung=naive", .status = "stopped",
                    .error = "stopped early: 31.2 ms a call, over 10x the best's 2.9 ms",
                    .stderr_tail = "shape 1024: 31.2 ms", .build_log = "$ cc -O3 x.c\n"};
    json_t *none = json_array();
    spak_buf d;
    spak_buf_init(&d, 0);
    spak_ctx_diag(&run, &ev, none, &d);
    TAP_OK(strstr(d.data, "outcome: stopped: stopped early: 31.2 ms") != NULL, "with measurements: the stop's why");
    o.context_without = SPAK_CTX_WITHOUT_MEASUREMENTS;
    spak_buf_reset(&d);
    spak_ctx_diag(&run, &ev, none, &d);
    TAP_OK(strstr(d.data, "outcome: stopped early by the judge (" SPAK_CTX_OMITTED_MEASUREMENTS ")") &&
               !strstr(d.data, "31.2"),
           "without measurements: a stopped candidate's diagnostics do not say how slow it was");
    spak_buf_free(&d);
    json_decref(none);
}

static spak_reply parse(const char *text, spak_prompt_mode m, const char *sym)
{
    static const char *names[] = {"BM", "UNROLL", "layout"};
    spak_reply_opts o = {m, sym, names, 3};
    spak_reply r;
    spak_err err;
    if (spak_reply_parse(text, text ? strlen(text) : 0, &o, &r, &err) != SPAK_OK)
        r.kind = (spak_reply_kind)-1;
    return r;
}

/* A reply and the verdict expected of it: its kind and, where named, a word
 * its detail must hold. */
typedef struct reply_case {
    const char *text, *abi_symbol;
    spak_reply_kind kind;
    const char *in_detail;
    const char *what;
} reply_case;

static void check_replies(spak_prompt_mode m, const reply_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        spak_reply r = parse(c[i].text, m, c[i].abi_symbol);
        TAP_OK(r.kind == c[i].kind && (!c[i].in_detail || strstr(r.detail, c[i].in_detail)), "%s (%s)", c[i].what,
               r.detail);
        spak_reply_free(&r);
    }
}

static void test_code_replies(void)
{
    spak_reply r = parse("Here you go:\n\n```c\nvoid k(float *x) { x[0] = 1; }\n```\n"
                         "{\"prediction\": {\"metric\": 42.5, \"why\": \"fewer loads\"}}\n",
                         SPAK_PROMPT_CODE, "k");
    TAP_OK(r.kind == SPAK_REPLY_CODE, "```c block extracted (%s)", r.detail);
    TAP_STREQ(r.code, "void k(float *x) { x[0] = 1; }\n", "code text exact");
    TAP_STREQ(r.lang, "c", "lang c");
    TAP_OK(r.has_prediction && r.predicted_metric == 42.5 && r.prediction_why && !strcmp(r.prediction_why, "fewer loads"),
           "prediction read after the block");
    spak_reply_free(&r);

    r = parse("```json\n{\"a\": 1}\n```\nand\n```cuda\n__global__ void k() {}\n```\n```c\nint z;\n```\n",
              SPAK_PROMPT_CODE, NULL);
    TAP_OK(r.kind == SPAK_REPLY_CODE && !strcmp(r.lang, "cuda") && strstr(r.code, "__global__"),
           "first code-language block wins; json block skipped");
    TAP_OK(!r.has_prediction, "no prediction recorded as absent");
    spak_reply_free(&r);

    r = parse("````\nint f(void) { return 1; }\n```\nstill inside\n````\n", SPAK_PROMPT_CODE, NULL);
    TAP_OK(r.kind == SPAK_REPLY_CODE && strstr(r.code, "still inside"), "untagged 4-backtick fence, inner ``` kept");
    spak_reply_free(&r);

    r = parse("```C++ {.numberLines}\nint g();\n```", SPAK_PROMPT_CODE, NULL);
    TAP_OK(r.kind == SPAK_REPLY_CODE && !strcmp(r.lang, "c++"), "info string lower-cased, attributes ignored");
    spak_reply_free(&r);

    static const reply_case verdicts[] = {
        {"I think you should increase the tile size.", NULL, SPAK_REPLY_NO_CODE, NULL, "prose only: no_code"},
        {"```c\nvoid k(void) {\n  for (;;) {\n", NULL, SPAK_REPLY_UNCLOSED, NULL, "unclosed fence: unclosed_code"},
        {"I'm sorry, but I can't help with that.", NULL, SPAK_REPLY_REFUSAL, NULL, "refusal detected"},
        {"  I\xE2\x80\x99m unable to write that kernel.", NULL, SPAK_REPLY_REFUSAL, NULL,
         "refusal with a typographic apostrophe"},
        {"I'm sorry, the last one was wrong:\n```c\nvoid k(void) {}\n```\n", "k", SPAK_REPLY_CODE, NULL,
         "an apology with code is code"},
        {"```c\nvoid other(void) {}\n/* mentions k but never defines it: k_helper(); */\n```", "k", SPAK_REPLY_ABI,
         NULL, "code without the ABI symbol: abi_mismatch"},
        {"```c\n\n   \n```", NULL, SPAK_REPLY_NO_CODE, NULL, "empty code block: no_code"},
        {" \n\t ", NULL, SPAK_REPLY_EMPTY, NULL, "white space only: empty"},
        {NULL, NULL, SPAK_REPLY_EMPTY, NULL, "NULL: empty"},
    };
    check_replies(SPAK_PROMPT_CODE, verdicts, SPAK_ARRAY_LEN(verdicts));

    char *big = repeat("x", SPAK_REPLY_MAX_BYTES + 1);
    r = parse(big, SPAK_PROMPT_CODE, NULL);
    TAP_OK(r.kind == SPAK_REPLY_TOO_LARGE, "over the cap: too_large");
    spak_reply_free(&r);
    free(big);

    r = parse("```c\nvoid k(void) {}\n```\n{\"prediction\": {\"ratio\": 1.25, \"why\": \"w\"}}", SPAK_PROMPT_CODE, "k");
    TAP_OK(r.kind == SPAK_REPLY_CODE && r.has_prediction && r.predicted_ratio == 1.25 && isnan(r.predicted_metric),
           "a prediction may give the ratio to the baseline alone (%s)", r.detail);
    spak_reply_free(&r);
    r = parse("```c\nvoid k(void) {}\n```\n{\"prediction\": {\"metric\": 3, \"ratio\": -1}}", SPAK_PROMPT_CODE, "k");
    TAP_OK(r.kind == SPAK_REPLY_CODE && !r.has_prediction && isnan(r.predicted_ratio) &&
               strstr(r.detail, "ratio\" is not a positive number"),
           "a ratio that is not a positive number is refused and said (%s)", r.detail);
    spak_reply_free(&r);
    r = parse("```c\nvoid k(void) {}\n```\n{\"prediction\": {\"metric\": \"fast\"}}", SPAK_PROMPT_CODE, "k");
    TAP_OK(r.kind == SPAK_REPLY_CODE && !r.has_prediction && strstr(r.detail, "prediction ignored"),
           "a malformed prediction on code is ignored and said (%s)", r.detail);
    spak_reply_free(&r);
}

static void test_param_replies(void)
{
    spak_reply r = parse("Sure! Based on the analysis:\n{\"params\": {\"BM\": 64, \"UNROLL\": 4, \"layout\": \"nt\"}, "
                         "\"prediction\": {\"metric\": 17.0, \"why\": \"less spilling\"}}\nGood luck.",
                         SPAK_PROMPT_PARAMS, NULL);
    TAP_OK(r.kind == SPAK_REPLY_PARAMS, "JSON choice in prose (%s)", r.detail);
    TAP_STREQ(r.params_json, "{\"BM\":64,\"UNROLL\":4,\"layout\":\"nt\"}", "params canonical, keys sorted");
    TAP_OK(r.n_params == 3 && r.has_prediction && r.predicted_metric == 17.0, "prediction read");
    spak_reply_free(&r);

    r = parse("Options: {like this} and {\"other\": 1}\n```json\n{\"params\": {\"BM\": 32}}\n```\n",
              SPAK_PROMPT_PARAMS, NULL);
    TAP_OK(r.kind == SPAK_REPLY_PARAMS && !strcmp(r.params_json, "{\"BM\":32}") && !r.has_prediction,
           "```json block; decoys skipped; no prediction is allowed");
    spak_reply_free(&r);

    static const reply_case verdicts[] = {
        {"{\"params\": {\"BM\": [64]}}", NULL, SPAK_REPLY_BAD_PARAMS, NULL, "array value: bad_params"},
        {"{\"params\": {\"BM\": null}}", NULL, SPAK_REPLY_BAD_PARAMS, NULL, "null value: bad_params"},
        {"{\"params\": {\"TILE\": 64}}", NULL, SPAK_REPLY_BAD_PARAMS, "TILE", "unknown name: bad_params"},
        {"{\"params\": {}}", NULL, SPAK_REPLY_BAD_PARAMS, NULL, "empty params: bad_params"},
        {"{\"params\": 5}", NULL, SPAK_REPLY_BAD_PARAMS, NULL, "params not an object: bad_params"},
        {"{\"params\": {\"BM\": 64}, \"prediction\": {\"metric\": \"high\"}}", NULL, SPAK_REPLY_BAD_PARAMS,
         "metric", "string metric: bad_params (strict types)"},
        {"{\"params\": {\"BM\": 64, \"BM\": 32}}", NULL, SPAK_REPLY_NO_JSON, NULL,
         "duplicate keys rejected (no valid object found)"},
        {"{\"params\": {\"BM\": 64", NULL, SPAK_REPLY_NO_JSON, NULL, "truncated JSON: no_json"},
        {"As an AI, I cannot choose parameters.", NULL, SPAK_REPLY_REFUSAL, NULL, "refusal in params mode"},
        {"BM should be 64.", NULL, SPAK_REPLY_NO_JSON, NULL, "prose only: no_json"},
    };
    check_replies(SPAK_PROMPT_PARAMS, verdicts, SPAK_ARRAY_LEN(verdicts));
    /* deep nesting never crashes */
    char *deep = repeat("{\"a\":", 5000);
    r = parse(deep, SPAK_PROMPT_PARAMS, NULL);
    TAP_OK(r.kind == SPAK_REPLY_NO_JSON, "5000 nested objects: no_json, no crash");
    spak_reply_free(&r);
    free(deep);
}

/* --jobs N: a reply of several choices (spak_reply_parse_choices), and the
 * prompt that asks for them */
static void test_choice_replies(void)
{
    static const char *names[] = {"BM", "UNROLL", "layout"};
    spak_reply_opts o = {SPAK_PROMPT_PARAMS, NULL, names, 3};
    spak_reply r[4];
    size_t n = 0, extra = 0;
    spak_err err;
    const char *two = "Here:\n```json\n{\"proposals\": [{\"params\": {\"BM\": 64}, \"prediction\": {\"metric\": 9}},"
                      " {\"params\": {\"BM\": 32}}]}\n```\n";
    TAP_OK(spak_reply_parse_choices(two, strlen(two), &o, 2, r, &n, &extra, &err) == SPAK_OK && n == 2 && extra == 0 &&
               r[0].kind == SPAK_REPLY_PARAMS && !strcmp(r[0].params_json, "{\"BM\":64}") &&
               r[0].predicted_metric == 9 && r[1].kind == SPAK_REPLY_PARAMS && !strcmp(r[1].params_json, "{\"BM\":32}") &&
               !r[1].has_prediction,
           "two choices, each with its own prediction");
    for (size_t i = 0; i < n; i++)
        spak_reply_free(&r[i]);
    const char *three = "{\"proposals\": [{\"params\": {\"BM\": 64}}, {\"params\": {\"TILE\": 1}}, {\"params\": {\"BM\": 16}}]}";
    TAP_OK(spak_reply_parse_choices(three, strlen(three), &o, 2, r, &n, &extra, &err) == SPAK_OK && n == 2 &&
               extra == 1 && r[1].kind == SPAK_REPLY_BAD_PARAMS && strstr(r[1].detail, "TILE"),
           "an entry of the wrong shape has its own verdict; entries beyond those asked are counted, not read");
    for (size_t i = 0; i < n; i++)
        spak_reply_free(&r[i]);
    const char *one = "{\"params\": {\"BM\": 64}}";
    TAP_OK(spak_reply_parse_choices(one, strlen(one), &o, 3, r, &n, &extra, &err) == SPAK_OK && n == 1 &&
               r[0].kind == SPAK_REPLY_PARAMS,
           "one plain choice where several were asked: one choice");
    spak_reply_free(&r[0]);
    TAP_OK(spak_reply_parse_choices(one, strlen(one), &o, 1, r, &n, &extra, &err) == SPAK_OK && n == 1 &&
               r[0].kind == SPAK_REPLY_PARAMS && !strcmp(r[0].params_json, "{\"BM\":64}"),
           "one asked: read as a single reply, as before");
    spak_reply_free(&r[0]);
    TAP_OK(spak_reply_parse_choices(two, strlen(two), &o, 1, r, &n, &extra, &err) == SPAK_OK && n == 1 &&
               r[0].kind == SPAK_REPLY_NO_JSON,
           "one asked: a list of proposals is not read (the single reply's parser: no \"params\" object)");
    spak_reply_free(&r[0]);

    spak_prompt_parts parts = {.mode = SPAK_PROMPT_PARAMS, .task = "t", .space = "BM: [16, 32, 64]", .metric = "gflops"};
    spak_prompt one_p, three_p;
    TAP_OK(spak_prompt_build(&parts, 0, &one_p, &err) == SPAK_OK && !strstr(one_p.user, "proposals") &&
               !strstr(one_p.system, "proposals") && !strstr(one_p.user, "In flight"),
           "one choice (n_choices 0): the single reply format, no in-flight line");
    parts.n_choices = 1;
    spak_prompt again;
    TAP_OK(spak_prompt_build(&parts, 0, &again, &err) == SPAK_OK && !strcmp(again.user, one_p.user) &&
               !strcmp(again.system, one_p.system),
           "n_choices 1 is the prompt of one choice, byte for byte");
    parts.n_choices = 3;
    parts.in_flight = "BM=16";
    TAP_OK(spak_prompt_build(&parts, 0, &three_p, &err) == SPAK_OK &&
               strstr(three_p.system, "with up to 3 entries, each a different choice: 3 evaluations can run at once") &&
               strstr(three_p.user, "up to 3 different choices") &&
               strstr(three_p.user, "In flight now (being measured; do not choose them): BM=16\n"),
           "three asked: the prompt says how many and why, and names the point in flight");
    spak_prompt_free(&one_p);
    spak_prompt_free(&again);
    spak_prompt_free(&three_p);
}

static void test_wire(void)
{
    spak_llm_config c;
    spak_llm_config_init(&c);
    c.endpoint = "http://127.0.0.1:8080/v1/";
    c.model = "smollm2";
    c.temperature = 0;
    c.max_tokens = 64;
    spak_llm_request rq = {0};
    rq.system = "be brief";
    rq.user = "hi";
    rq.stop[0] = "```\n\n";
    rq.json_object = true;
    spak_buf b;
    spak_buf_init(&b, 0);
    spak_err err;
    TAP_OK(spak_llm_url(&c, &b, &err) == SPAK_OK, "openai url");
    TAP_STREQ(b.data, "http://127.0.0.1:8080/v1/chat/completions", "openai url: base + /chat/completions");
    TAP_OK(spak_llm_openai.body(&c, &rq, &b, &err) == SPAK_OK, "openai body");
    json_t *j = json_loads(b.data, 0, NULL);
    json_t *want = json_pack("{s:i,s:[{s:s,s:s},{s:s,s:s}],s:s,s:{s:s},s:[s],s:b,s:f}", "max_tokens", 64, "messages",
                             "role", "system", "content", "be brief", "role", "user", "content", "hi", "model",
                             "smollm2", "response_format", "type", "json_object", "stop", "```\n\n", "stream", 0,
                             "temperature", 0.0);
    TAP_OK(j && json_equal(j, want), "openai body has exactly the expected members: %s", b.data);
    json_decref(j);
    json_decref(want);

    const spak_llm_backend *be = NULL;
    TAP_OK(spak_llm_backend_parse("anthropic", &be) && be == &spak_llm_anthropic &&
               !strcmp(spak_llm_backend_name(be), "anthropic") && !spak_llm_backend_parse("gemini", &be),
           "backends by name from the table");
    char names[128];
    spak_llm_backend_names(names, sizeof names, ", ", " or ");
    TAP_STREQ(names, "openai, anthropic or manual", "the table's names for messages");
    c.backend = be;
    c.endpoint = "https://api.anthropic.com";
    TAP_OK(spak_llm_url(&c, &b, &err) == SPAK_OK && !strcmp(b.data, "https://api.anthropic.com/v1/messages"),
           "anthropic url: base + /v1/messages");
    c.endpoint = "http://x/v1";
    TAP_OK(spak_llm_url(&c, &b, &err) == SPAK_OK && !strcmp(b.data, "http://x/v1/messages"), "anthropic url from .../v1");
    c.endpoint = "file:///etc/passwd";
    TAP_OK(spak_llm_url(&c, &b, &err) == SPAK_ERR_ARG, "file:// endpoint refused");
    c.endpoint = "http://a b";
    TAP_OK(spak_llm_url(&c, &b, &err) == SPAK_ERR_ARG, "endpoint with a space refused");

    spak_llm_reply rep;
    memset(&rep, 0, sizeof rep);
    const char *ok = "{\"model\":\"m\",\"choices\":[{\"message\":{\"content\":\"hello\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}";
    rep.prompt_tokens = rep.completion_tokens = -1;
    TAP_OK(spak_llm_openai.parse(ok, strlen(ok), &rep) == SPAK_OK && rep.outcome == SPAK_LLM_OK &&
               !strcmp(rep.text, "hello") && rep.prompt_tokens == 5 && rep.completion_tokens == 2 &&
               !strcmp(rep.finish_reason, "stop"),
           "openai response parsed");
    spak_llm_reply_free(&rep);
    const char *ref = "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"no\"},\"finish_reason\":\"stop\"}]}";
    memset(&rep, 0, sizeof rep);
    spak_llm_openai.parse(ref, strlen(ref), &rep);
    TAP_OK(rep.outcome == SPAK_LLM_REFUSAL, "openai refusal field: refusal");
    spak_llm_reply_free(&rep);
    spak_buf_free(&b);
}

static void test_prices(void)
{
    const char *js = "{\"prices\": [{\"model\": \"claude-*\", \"input\": 3, \"output\": 15},"
                     " {\"model\": \"smollm2\", \"input\": 0, \"output\": 0}]}";
    spak_llm_prices p;
    spak_err err;
    TAP_OK(spak_llm_prices_parse(js, strlen(js), &p, &err) == SPAK_OK && p.n == 2, "price table parsed");
    double in = -1, out = -1;
    TAP_OK(spak_llm_prices_find(&p, "claude-sonnet-4-5", &in, &out) && in == 3 && out == 15, "glob match");
    TAP_OK(!spak_llm_prices_find(&p, "gpt-x", &in, &out), "no match");
    spak_llm_prices_free(&p);
    const char *neg = "{\"prices\": [{\"model\": \"x\", \"input\": -1, \"output\": 1}]}";
    TAP_OK(spak_llm_prices_parse(neg, strlen(neg), &p, &err) == SPAK_ERR_CHECK,
           "negative price refused (%s)", err.msg);
    TAP_OK(spak_llm_prices_parse("[1,", 3, &p, &err) == SPAK_ERR_SYNTAX, "bad JSON refused");
    TAP_OK(fabs(spak_llm_cost(3, 15, 1000000, 100000) - 4.5) < 1e-9, "cost = 3 * 1M/1M + 15 * 0.1M/1M");
    TAP_OK(isnan(spak_llm_cost(-1, 15, 10, 10)) && isnan(spak_llm_cost(3, 15, -1, 10)), "unknown price/count: NAN");
}

/* a run without measurements: the judge's performance verdicts lose their
 * numbers (they state the times compared); other reasons stay whole */
static void test_hide_measured(void)
{
    char buf[512];
    const char *w = "wrong at 1x8x1024x64: interference: the baseline took 8.350 ms a call beside the candidate, "
                    "5.760 ms alone (p20-p80 5.7-5.9 ms), beyond the noise (measured twice)";
    const char *h = spak_context_hide_measured(w, buf, sizeof buf);
    TAP_OK(strstr(h, "wrong at 1x8x1024x64: interference (its numbers: Omitted by this run's design") == h &&
               !strstr(h, "8.350") && !strstr(h, "ms"),
           "interference: cut after the verdict (%s)", h);
    h = spak_context_hide_measured("wrong at 96x96x96: impossible: 9000 GFLOP/s > bound 500 GFLOP/s", buf, sizeof buf);
    TAP_OK(!strstr(h, "9000") && !strstr(h, "GFLOP") && strstr(h, "impossible (its numbers"),
           "impossible: cut after the verdict (%s)", h);
    h = spak_context_hide_measured("wrong at 256x256x256: busy: other work took 68% of the judge's CPUs while the "
                                   "baseline was timed beside the candidate (8% while it was timed alone); the "
                                   "baseline took 3.431 ms a call beside the candidate, 0.428 ms alone", buf, sizeof buf);
    TAP_OK(!strstr(h, "3.431") && !strstr(h, "68%") && strstr(h, "at 256x256x256: busy (its numbers"),
           "busy: cut after the verdict (%s)", h);
    const char *dev = "runner: open /dev/x: Device or resource busy: retry later";
    TAP_OK(spak_context_hide_measured(dev, buf, sizeof buf) == dev, "an error's 'busy:' is no verdict: it stays whole");
    const char *wrong = "wrong at 33x17x9: max rel err 3.1e-02 > tolerance 1e-05 (a timed call)";
    TAP_OK(spak_context_hide_measured(wrong, buf, sizeof buf) == wrong, "a wrong result's reason stays whole");
    TAP_OK(spak_context_hide_measured(NULL, buf, sizeof buf) == NULL, "no reason: none");
}

int main(void)
{
    test_build();
    test_sections();
    test_context_pieces();
    test_measured_sections();
    test_without();
    test_code_replies();
    test_param_replies();
    test_choice_replies();
    test_wire();
    test_prices();
    test_hide_measured();
    return tap_done();
}
