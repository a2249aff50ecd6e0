/*
 * test_session.c - unit tests of the CUDA judges' timed-round rules
 * (session.c), no device: the round limits, the order of a round (each
 * side runs after each other side as often as before it), the precision
 * rule, versus, the ratio fields, the session fields and the batch size
 * within the device-memory budget. TAP output.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../../../tests/tap.h"
#include "session.h"

/* after[a][b]: how often side b ran right after side a (sides -1..nc-1 as
 * 0..nc), over `rounds` rounds read as one sequence */
static void neighbours(int nc, int rounds, int after[CS_MAX_CAND + 1][CS_MAX_CAND + 1], int *per_round_ok)
{
    int order[CS_MAX_CAND + 1], prev = -2;
    memset(after, 0, sizeof(int) * (CS_MAX_CAND + 1) * (CS_MAX_CAND + 1));
    *per_round_ok = 1;
    for (int r = 0; r < rounds; r++) {
        int seen[CS_MAX_CAND + 1] = {0};
        cs_order(r, nc, order);
        for (int s = 0; s <= nc; s++) {
            int x = order[s];
            if (x < -1 || x >= nc || seen[x + 1]++)
                *per_round_ok = 0;
            if (prev >= -1)
                after[prev + 1][x + 1]++;
            prev = x;
        }
    }
}

static void test_order(void)
{
    int o[CS_MAX_CAND + 1];
    cs_order(0, 1, o);
    TAP_OK(o[0] == 0 && o[1] == -1, "one candidate, even round: candidate then baseline (the order before sessions)");
    cs_order(1, 1, o);
    TAP_OK(o[0] == -1 && o[1] == 0, "one candidate, odd round: baseline then candidate");
    for (int nc = 2; nc <= CS_MAX_CAND; nc++) {
        int after[CS_MAX_CAND + 1][CS_MAX_CAND + 1], ok;
        /* two whole cycles, forwards and backwards: every ordered pair of
         * neighbours within rounds as often as its reverse */
        int rounds = 2 * (nc + 1);
        neighbours(nc, rounds, after, &ok);
        int sym = 1;
        for (int a = 0; a <= nc; a++)
            for (int b = 0; b <= nc; b++)
                if (a != b && abs(after[a][b] - after[b][a]) > 2)
                    sym = 0;
        TAP_OK(ok, "%d candidates: every round holds the baseline and each candidate once", nc);
        TAP_OK(sym, "%d candidates: over %d rounds each side runs after each other as often as before it (+-2)", nc,
               rounds);
    }
    int after[CS_MAX_CAND + 1][CS_MAX_CAND + 1], ok;
    neighbours(2, 6, after, &ok);
    TAP_OK(after[1][2] > 0 && after[2][1] > 0, "2 candidates: c1 runs after c0 and c0 after c1 (a rotation alone "
           "keeps c1 after c0)");
}

static void test_limits(void)
{
    int lo, hi;
    cs_round_limits(30, 1, &lo, &hi);
    TAP_OK(lo == 30 && hi == 120, "one candidate, --reps 30: 30 to 120 rounds (%d, %d)", lo, hi);
    cs_round_limits(3, 1, &lo, &hi);
    TAP_OK(lo == 3 && hi == 12, "one candidate, --reps 3: 3 to 12 rounds");
    cs_round_limits(3, 2, &lo, &hi);
    TAP_OK(lo == 10 && hi == 12, "a session, --reps 3: at least 10 rounds (the sign test), at most 12 (%d, %d)", lo, hi);
    cs_round_limits(1, 4, &lo, &hi);
    TAP_OK(lo == 10 && hi == 10, "a session, --reps 1: 10 rounds, the cap never under the minimum");
}

static void test_enough(void)
{
    double tb[12], c0[12], c1[12];
    const double *t[2] = {c0, c1};
    bool in[2] = {true, true};
    for (int i = 0; i < 12; i++) {
        tb[i] = 1.0 + 0.001 * (i % 3);
        c0[i] = 0.5 * tb[i] * (1 + 0.001 * (i % 2)); /* 2x, tight */
        c1[i] = tb[i] * (i % 2 ? 1.5 : 0.7);          /* wide */
    }
    TAP_OK(!cs_enough(t, in, 2, tb, 9, 10), "fewer rounds than the minimum: not enough");
    TAP_OK(!cs_enough(t, in, 2, tb, 12, 10), "one candidate's interval wider than +-2%%: not enough");
    in[1] = false;
    TAP_OK(cs_enough(t, in, 2, tb, 12, 10), "a candidate out (failed): the others' intervals decide");
    TAP_OK(cs_enough(t, in, 2, NULL, 10, 10), "no baseline: the minimum rounds end it");
}

static void test_versus(void)
{
    double a[10], b[10], c[10];
    const double *t[3] = {a, b, c};
    bool in[3] = {true, true, false};
    for (int i = 0; i < 10; i++) {
        a[i] = 1.0 + 0.01 * (i % 4);
        b[i] = 2.0 * a[i] * (i == 3 ? 0.4 : 1.0); /* a faster in 9 of 10 rounds */
        c[i] = 0.1;
    }
    json_t *v = cs_versus(t, in, 3, 0, 10, 0), *e = json_array_get(v, 0);
    TAP_OK(json_array_size(v) == 1, "versus: one entry per other candidate in (a failed one left out)");
    TAP_OK(e && json_integer_value(json_object_get(e, "rival")) == 1 &&
               json_integer_value(json_object_get(e, "rounds")) == 10 &&
               json_integer_value(json_object_get(e, "faster_rounds")) == 9,
           "versus: rival 1, 10 rounds, faster in 9");
    double r = json_real_value(json_object_get(e, "ratio")),
           lo = json_real_value(json_array_get(json_object_get(e, "ratio_ci"), 0)),
           hi = json_real_value(json_array_get(json_object_get(e, "ratio_ci"), 1));
    TAP_OK(r > 1.5 && r < 2.0 && lo < r && r < hi, "versus: the other's time over its own, with its interval (%.3f [%.3f-%.3f])",
           r, lo, hi);
    json_decref(v);
    v = cs_versus(t, in, 3, 0, 10, 0.05);
    e = json_array_get(v, 0);
    double wlo = json_real_value(json_array_get(json_object_get(e, "ratio_ci"), 0)),
           whi = json_real_value(json_array_get(json_object_get(e, "ratio_ci"), 1));
    TAP_OK(fabs(json_real_value(json_object_get(e, "ratio")) - r) < 1e-12 && wlo < lo && whi > hi,
           "versus widened by a spread between runs: the same ratio, a wider interval ([%.3f-%.3f] from [%.3f-%.3f])",
           wlo, whi, lo, hi);
    json_decref(v);
    v = cs_versus(t, in, 3, 1, 10, 0);
    e = json_array_get(v, 0);
    TAP_OK(e && json_real_value(json_object_get(e, "ratio")) < 1 &&
               json_integer_value(json_object_get(e, "faster_rounds")) == 1,
           "versus from the other side: below 1, faster in 1 round");
    json_decref(v);
}

static void test_fields(void)
{
    double tb[4] = {2, 2.02, 1.98, 2}, tc[4] = {1, 1.01, 0.99, 1};
    json_t *f = cs_ratio_fields(tc, tb, 4, false, 0);
    json_t *ci = json_object_get(f, "ratio_ci");
    TAP_OK(fabs(json_real_value(json_object_get(f, "ratio")) - 2.0) < 1e-9 && json_array_size(ci) == 2 &&
               json_real_value(json_array_get(ci, 0)) <= 2.0 && json_real_value(json_array_get(ci, 1)) >= 2.0,
           "ratio fields: the paired ratio 2 and its interval");
    TAP_OK(json_real_value(json_object_get(f, "ratio_ci_level")) == CS_LEVEL &&
               json_real_value(json_object_get(f, "ratio_precision")) == CS_PRECISION &&
               json_is_true(json_object_get(f, "precision_reached")) &&
               json_array_size(json_object_get(f, "samples_ms")) == 4 &&
               json_array_size(json_object_get(f, "baseline_samples_ms")) == 4,
           "ratio fields: level, precision, precision_reached, every sample of both sides");
    json_t *in0 = json_object_get(f, "ratio_ci_within");
    TAP_OK(json_equal(in0, ci) && json_real_value(json_object_get(f, "ratio_between_runs_sd")) == 0,
           "ratio fields, no spread between runs: ratio_ci is the run's own interval");
    json_decref(f);
    /* A/A-like samples: ratio 1 within +-0.5% inside the run; 2% between runs widens it */
    double ta[10], tb2[10];
    for (int i = 0; i < 10; i++)
        ta[i] = 1.0 + 0.005 * ((i % 3) - 1), tb2[i] = 1.0 + 0.005 * (((i + 1) % 3) - 1);
    f = cs_ratio_fields(ta, tb2, 10, false, CS_BETWEEN_RUNS_SD);
    double r0 = json_real_value(json_object_get(f, "ratio")),
           lo0 = json_real_value(json_array_get(json_object_get(f, "ratio_ci_within"), 0)),
           hi0 = json_real_value(json_array_get(json_object_get(f, "ratio_ci_within"), 1)),
           lo1 = json_real_value(json_array_get(json_object_get(f, "ratio_ci"), 0)),
           hi1 = json_real_value(json_array_get(json_object_get(f, "ratio_ci"), 1));
    TAP_OK(lo1 < lo0 && hi1 > hi0 && lo1 < r0 && r0 < hi1 && hi1 / r0 > 1.04 && hi1 / r0 < 1.06 &&
               json_real_value(json_object_get(f, "ratio_between_runs_sd")) == CS_BETWEEN_RUNS_SD &&
               json_is_true(json_object_get(f, "precision_reached")),
           "ratio fields widened by %.2f between runs: [%.4f-%.4f] from the run's [%.4f-%.4f] (about +-%.0f%% at 10 "
           "rounds), precision still judged on the run's own",
           CS_BETWEEN_RUNS_SD, lo1, hi1, lo0, hi0, 100 * 2.26 * CS_BETWEEN_RUNS_SD);
    json_decref(f);
    f = cs_ratio_fields(tc, tb, 4, true, CS_BETWEEN_RUNS_SD);
    TAP_OK(json_is_null(json_object_get(f, "ratio")) && json_is_null(json_array_get(json_object_get(f, "ratio_ci"), 0)) &&
               json_is_false(json_object_get(f, "precision_reached")),
           "ratio fields of a failed timing: null ratio and interval");
    TAP_OK(json_is_null(json_array_get(json_object_get(f, "ratio_ci_within"), 0)),
           "a failed timing: no interval within the run either");
    json_decref(f);
    f = cs_ratio_fields(tc, NULL, 4, false, CS_BETWEEN_RUNS_SD);
    TAP_OK(json_is_null(json_object_get(f, "ratio")) && json_array_size(json_object_get(f, "samples_ms")) == 4 &&
               json_array_size(json_object_get(f, "baseline_samples_ms")) == 0,
           "ratio fields without a baseline: no ratio, the candidate's samples");
    json_decref(f);
    char id[32];
    json_t *rec = json_object();
    TAP_OK(cs_session_id(id, sizeof id) == 0 && id[0] == 'g' && strlen(id) == 13, "a session id: %s", id);
    cs_session_fields(rec, id, 2, 3);
    TAP_OK(!strcmp(json_string_value(json_object_get(rec, "session")), id) &&
               json_integer_value(json_object_get(rec, "rival")) == 2 &&
               json_integer_value(json_object_get(rec, "session_size")) == 3,
           "session fields: session, rival, session_size");
    json_decref(rec);
}

static void test_batch(void)
{
    const size_t G = (size_t)1 << 30;
    TAP_OK(cs_side_budget(1) == CS_SIDE_BYTES, "one candidate: 8 GiB a side, as before");
    TAP_OK(cs_side_budget(2) == CS_SIDE_BYTES && cs_side_budget(8) == CS_TOTAL_BYTES / 9,
           "a session: 24 GiB over all the sides (8 candidates: %.2f GiB a side)", (double)cs_side_budget(8) / G);
    /* 4096^3 bf16: a set 96 MiB, a call ~0.23 ms at 600 TFLOP/s */
    double call = 2.0 * 4096 * 4096 * 4096 / 600e12 + 5e-6;
    size_t set = (size_t)3 * 4096 * 4096 * 2;
    TAP_OK(cs_calls_per_batch(call, 3, set, 0, 1, 64) == (int)ceil(3e-3 / call), "3 ms of 4096^3: %d calls",
           cs_calls_per_batch(call, 3, set, 0, 1, 64));
    TAP_OK(cs_calls_per_batch(call, 30, set, 0, 1, 64) == 64, "30 ms: the protocol's 64 calls at most");
    int n8 = cs_calls_per_batch(call, 30, set, 0, 8, 64);
    TAP_OK(n8 == (int)(cs_side_budget(8) / set) && (size_t)n8 * set * 9 <= CS_TOTAL_BYTES,
           "8 candidates and the baseline: the sets fit 24 GiB together (%d calls)", n8);
    TAP_OK(cs_calls_per_batch(call, 3, 20 * G, 0, 1, 64) == 1, "a set over the budget: still one call");
    TAP_OK(cs_calls_per_batch(call, 3, set, 9 * G, 1, 64) == 1, "a workspace over the budget: one call");
}

int main(void)
{
    test_order();
    test_limits();
    test_enough();
    test_versus();
    test_fields();
    test_batch();
    return tap_done();
}
