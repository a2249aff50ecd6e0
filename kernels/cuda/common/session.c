/*
 * kernels/cuda/common/session.c - the timed rounds' rules both CUDA judges
 * share (session.h): round limits and order, the precision rule, versus,
 * the ratio fields, the batch size. No device, no output.
 */
#include "session.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <sys/random.h>

#include "analyze/stats.h"

void cs_round_limits(int reps, int nc, int *min_rounds, int *cap_rounds)
{
    int lo = reps < 1 ? 1 : reps;
    if (nc > 1 && lo < CS_SESSION_MIN_ROUNDS)
        lo = CS_SESSION_MIN_ROUNDS;
    int hi = 4 * (reps < 1 ? 1 : reps);
    *min_rounds = lo;
    *cap_rounds = hi < lo ? lo : hi;
}

void cs_order(int r, int nc, int *order)
{
    if (nc <= 1) {
        order[0] = r % 2 == 0 ? 0 : -1;
        order[1] = r % 2 == 0 ? -1 : 0;
        return;
    }
    /* a side that runs right after another one pays for what that one left
     * behind (clocks, caches, power): the rotation and the reversal give
     * every side every neighbour on both sides alike */
    bool back = (r / (nc + 1)) % 2 == 1;
    for (int s = 0; s <= nc; s++) {
        int pos = (s + r) % (nc + 1);
        order[s] = (back ? nc - pos : pos) - 1;
    }
}

bool cs_enough(const double *const *t, const bool *in, int nc, const double *tb, int done, int min_rounds)
{
    if (done < min_rounds)
        return false;
    if (!tb)
        return true;
    for (int k = 0; k < nc; k++) {
        spak_interval iv;
        if (!in[k])
            continue;
        if (!spak_stats_ratio_ci(tb, t[k], (size_t)done, CS_LEVEL, &iv) || !spak_stats_precise(&iv, CS_PRECISION))
            return false;
    }
    return true;
}

json_t *cs_versus(const double *const *t, const bool *in, int nc, int k, int done, double between_runs)
{
    json_t *a = json_array();
    for (int j = 0; j < nc && a; j++) {
        spak_interval iv;
        if (j == k || !in[j] || !spak_stats_ratio_ci(t[j], t[k], (size_t)done, CS_LEVEL, &iv))
            continue;
        /* the rounds k was faster in: a sign test's count, which a few slow
         * rounds do not sway as they sway a t-interval */
        int faster = 0;
        for (int i = 0; i < done; i++)
            faster += t[k][i] < t[j][i];
        spak_stats_widen(&iv, between_runs);
        json_array_append_new(a, json_pack("{s:i,s:f,s:[f,f],s:i,s:i}", "rival", j, "ratio", iv.point, "ratio_ci",
                                           iv.lo, iv.hi, "rounds", done, "faster_rounds", faster));
    }
    return a;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *cs_ratio_fields(const double *tc, const double *tb, int done, bool failed, double between_runs)
{
    spak_interval iv = {NAN, NAN, NAN, CS_LEVEL, 0}, wide;
    bool precise = false;
    if (!failed && tb && done >= 2 && spak_stats_ratio_ci(tb, tc, (size_t)done, CS_LEVEL, &iv))
        precise = spak_stats_precise(&iv, CS_PRECISION);
    else
        iv.point = iv.lo = iv.hi = NAN;
    wide = iv;
    spak_stats_widen(&wide, between_runs);
    json_t *s[2] = {json_array(), json_array()};
    for (int i = 0; i < done; i++) {
        json_array_append_new(s[0], json_real(tc[i]));
        if (tb)
            json_array_append_new(s[1], json_real(tb[i]));
    }
    return json_pack("{s:o, s:[o,o], s:[o,o], s:f, s:f, s:f, s:b, s:o, s:o}", "ratio", jnum(iv.point), "ratio_ci",
                     jnum(wide.lo), jnum(wide.hi), "ratio_ci_within", jnum(iv.lo), jnum(iv.hi),
                     "ratio_between_runs_sd", between_runs, "ratio_ci_level", CS_LEVEL, "ratio_precision",
                     CS_PRECISION, "precision_reached", precise, "samples_ms", s[0], "baseline_samples_ms", s[1]);
}

void cs_session_fields(json_t *rec, const char *session, int rival, int size)
{
    json_object_set_new(rec, "session", json_string(session));
    json_object_set_new(rec, "rival", json_integer(rival));
    json_object_set_new(rec, "session_size", json_integer(size));
}

int cs_session_id(char *buf, size_t n)
{
    unsigned long long v;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        return -1;
    snprintf(buf, n, "g%012llx", v & 0xFFFFFFFFFFFFull);
    return 0;
}

size_t cs_side_budget(int nc)
{
    size_t share = CS_TOTAL_BYTES / (size_t)(nc < 1 ? 2 : nc + 1);
    return share < CS_SIDE_BYTES ? share : CS_SIDE_BYTES;
}

int cs_calls_per_batch(double call_s, double target_ms, size_t set_bytes, size_t fixed_bytes, int nc, int max_calls)
{
    size_t budget = cs_side_budget(nc);
    size_t cap = fixed_bytes < budget && set_bytes ? (budget - fixed_bytes) / set_bytes : 0;
    int n = call_s > 0 ? (int)ceil(target_ms * 1e-3 / call_s) : 1;
    n = n > max_calls ? max_calls : n;
    n = (size_t)n > cap ? (int)cap : n;
    return n < 1 ? 1 : n;
}
