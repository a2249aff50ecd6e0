/* test_progress_line.c - the live progress line (src/analyze/progress_line.c)
 * and the early stop's limits (src/analyze/early_stop.c). */
#include <stdio.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "analyze/early_stop.h"
#include "analyze/evaluate.h"
#include "analyze/progress_line.h"

static spak_live mid(void)
{
    spak_live l;
    spak_live_init(&l);
    l.phase = "analyze";
    snprintf(l.key, sizeof l.key, "%s", "rung=naive,threads=1");
    l.done = 2;
    l.budget = 10;
    l.elapsed_s = 40;
    l.sum_eval_s = 30; /* 15 s an evaluation */
    l.n_eval_s = 2;
    l.cand_start_s = 34; /* 6 s into the third */
    snprintf(l.metric, sizeof l.metric, "%s", "gflops");
    snprintf(l.baseline, sizeof l.baseline, "%s", "openblas");
    l.best_metric = 82.5;
    l.best_ratio = 0.62;
    return l;
}

int main(void)
{
    spak_live l = mid();
    /* 8 evaluations left at 15 s, the current one 6 s in: 8 * 15 - 6 */
    TAP_OK(fabs(spak_live_eta(&l) - 114) < 1e-9, "the estimate: the mean times what is left, less the current one's time");
    l.cand_start_s = 0; /* the current one already over the mean: it counts as done with its share */
    TAP_OK(fabs(spak_live_eta(&l) - 105) < 1e-9, "a candidate over the mean takes off at most one mean");
    l = mid();
    l.max_wall_s = 60;
    TAP_OK(fabs(spak_live_eta(&l) - 20) < 1e-9, "a wall-time budget caps the estimate");
    l = mid();
    l.n_eval_s = 0;
    TAP_OK(isnan(spak_live_eta(&l)), "unknown before an evaluation finished (no wall budget)");
    l.budget = 0;
    l.space = 32;
    TAP_OK(spak_live_total(&l) == 32, "no budget: the bar runs over the space");

    char line[512];
    l = mid();
    spak_live_line(&l, 120, 1, line, sizeof line);
    const char *want = "[####................] 2/10  40s, ~1m54s left  analyze 6s: rung=naive,threads=1";
    TAP_OK(strncmp(line, want, strlen(want)) == 0,
           "the line: bar, count, elapsed, estimate, phase and the candidate's time, its key (%s)", line);
    TAP_OK(strstr(line, "best gflops 82.5 (0.62x openblas)") != NULL, "and the best so far");
    spak_live_line(&l, 130, 1, line, sizeof line);
    TAP_OK(strlen(line) <= 130 && strstr(line, "best gflops"), "130 columns: all of it fits (%s)", line);
    spak_live_line(&l, 70, 1, line, sizeof line);
    TAP_OK(strlen(line) <= 70 && strstr(line, "rung=") && strstr(line, "...") && !strstr(line, "best"),
           "a narrow terminal: the best goes, the key is cut with '...', the line fits (%s)", line);
    spak_live_line(&l, 120, 0, line, sizeof line);
    TAP_OK(line[0] != '[' && strstr(line, "2/10"), "plain: no bar");
    spak_live_init(&l);
    spak_live_line(&l, 100, 1, line, sizeof line);
    TAP_OK(strstr(line, "no best yet") != NULL, "no best yet: said so (%s)", line);
    char d[16];
    spak_live_duration(3725, d, sizeof d);
    TAP_OK(strcmp(d, "1h02m") == 0, "durations: 1h02m");

    /* the judge's limits: from the best's counting Performance records only */
    json_t *best = json_loads("[{\"type\":\"Performance\",\"shape\":\"1024x1024x1024\",\"time_ms\":20},"
                              "{\"type\":\"Performance\",\"shape\":\"1000x1000x1000\",\"heldout\":true,\"time_ms\":19},"
                              "{\"type\":\"Performance\",\"shape\":\"512x512x512\",\"time_ms\":2.5},"
                              "{\"type\":\"Correctness\",\"shape\":\"1024x1024x1024\",\"passed\":true}]",
                              0, NULL);
    char lim[256];
    TAP_OK(spak_early_stop_limits(best, 10, lim, sizeof lim) && strcmp(lim, "1024x1024x1024=200,512x512x512=25") == 0,
           "limits: factor x the best's time a call, per timed shape, never a held-out one (%s)", lim);
    TAP_OK(!spak_early_stop_limits(best, 10, lim, 12) && lim[0] == '\0', "a list that does not fit: none (not a part)");
    json_t *none = json_loads("[{\"type\":\"Performance\",\"shape\":\"8x8x8\",\"time_ms\":1,\"verdict\":\"stopped\"}]", 0,
                              NULL);
    TAP_OK(!spak_early_stop_limits(none, 10, lim, sizeof lim), "a stopped record is no best's time");
    spak_loop_def loop = {0};
    spak_engine_opts o = {0};
    TAP_OK(spak_early_stop_factor(&o, &loop) == SPAK_EARLY_STOP_DEFAULT, "the factor: 10 by default");
    loop.early_stop = 4, loop.early_stop_set = true;
    TAP_OK(spak_early_stop_factor(&o, &loop) == 4, "the spec's stop.early_stop");
    loop.early_stop = 0;
    TAP_OK(spak_early_stop_factor(&o, &loop) == 0, "the spec's 0: off");
    o.early_stop = 3;
    TAP_OK(spak_early_stop_factor(&o, &loop) == 3, "the option overrides the spec");
    o.early_stop = -1;
    loop.early_stop = 5;
    TAP_OK(spak_early_stop_factor(&o, &loop) == 0, "--early-stop 0 (-1): off whatever the spec says");
    spak_cand_argv a = {0};
    a.argv[0] = strdup("/bin/true");
    a.n = 1;
    TAP_OK(spak_early_stop_args(&a, best, 10, "/bin", "cpu", NULL, 0, NULL) == SPAK_OK && a.n == 1,
           "a command that is not a judge that stops early gets no limit");
    spak_cand_argv_free(&a);
    {
        /* which judges take the limit: in a bin folder with a runner, the CPU judge and the GEMM and
         * FMHA judges (session_device.cuh), not the declared CUDA kernels' judge */
        char dir[] = "/tmp/spak-stop-XXXXXX", p[600];
        const char *names[] = {"spak-runner-cuda", "spak-harness-cuda", "spak-harness-cuda-fmha", "spak-judge-cuda"};
        bool made = mkdtemp(dir) != NULL;
        for (size_t i = 0; made && i < 4; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            FILE *f = fopen(p, "w");
            made = f && fputs("#!/bin/sh\n", f) >= 0 && fclose(f) == 0 && chmod(p, 0755) == 0;
        }
        char gemm[600], fmha[600], decl[600];
        snprintf(gemm, sizeof gemm, "%s/spak-harness-cuda", dir);
        snprintf(fmha, sizeof fmha, "%s/spak-harness-cuda-fmha", dir);
        snprintf(decl, sizeof decl, "%s/spak-judge-cuda", dir);
        TAP_OK(made && spak_measure_judge_stops_early(gemm, dir, "cuda") && spak_measure_judge_stops_early(fmha, dir, "cuda") &&
                   !spak_measure_judge_stops_early(decl, dir, "cuda") && !spak_measure_judge_stops_early(gemm, "/bin", "cuda"),
               "CUDA: the GEMM and FMHA judges stop early, the declared kernels' judge and a judge elsewhere do not");
        json_decref(best);
        best = json_loads("[{\"type\":\"Performance\",\"shape\":\"4096x4096x4096\",\"time_ms\":0.2}]", 0, NULL);
        spak_cand_argv g = {0};
        g.argv[0] = strdup(gemm);
        g.n = 1;
        TAP_OK(spak_early_stop_args(&g, best, 10, dir, "cuda", lim, sizeof lim, NULL) == SPAK_OK && g.n == 3 &&
                   strcmp(g.argv[1], "--stop-slower-than") == 0 && strcmp(g.argv[2], "4096x4096x4096=2") == 0,
               "the GEMM judge gets --stop-slower-than 4096x4096x4096=2 (%s)", lim);
        spak_cand_argv_free(&g);
        for (size_t i = 0; i < 4; i++) {
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            unlink(p);
        }
        rmdir(dir);
    }
    json_decref(best);
    json_decref(none);
    return tap_done();
}
