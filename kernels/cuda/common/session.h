/*
 * kernels/cuda/common/session.h - the timed rounds' rules both CUDA judges
 * (spak-harness-cuda, spak-harness-cuda-fmha) share, without a device: how
 * many rounds a measurement takes (at least --reps, then until the ratio's
 * 95% interval is within +-2%, at most 4x --reps), the order of the sides
 * in a round, the paired ratios between the candidates of a session
 * (versus), the Performance record's ratio fields, and how many calls a
 * batch holds within the device memory a side may have.
 *
 * A session (--candidate given more than once, up to CS_MAX_CAND: the
 * engine's re-time, docs/language.md 6.9b) times every candidate that
 * passed its checks and the baseline in rounds, one batch of each a round,
 * in the order the CPU judge uses (kernels/cpu/common/timing.c): rotating
 * by one each round and backwards every other cycle, so each side runs
 * after each other side as often as before it. With one candidate the
 * order is the judges' old one (candidate first on even rounds, the
 * baseline on odd ones) and the records are those of one evaluation.
 *
 * The intervals are src/analyze/stats.c's (libspak.a, which both judges
 * link): one rule for the CPU judge, the CUDA judges and the engine.
 * Plain C11; library style (no output, no exit).
 */
#ifndef SPAK_CUDA_SESSION_H
#define SPAK_CUDA_SESSION_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_t;

#define CS_MAX_CAND 8             /* candidates in one session (as the CPU judge) */
#define CS_LEVEL 0.95             /* the ratio's interval level */
#define CS_PRECISION 0.02         /* its relative half-width that ends a measurement */
/* The default --between-runs: the sd of the log ratio from one run to the
 * next of the same code on both sides, beyond what each run's own interval
 * accounts for, added in quadrature to every ratio interval (ratio_ci;
 * ratio_ci_within is the run's own, the one CS_PRECISION is reached on), as
 * the CPU judge does (kernels/cpu/common/judge.h). Measured by
 * kernels/cuda/aa-calibration.sh on an H100 (2026-12-07, cuBLAS against
 * itself, 3-4 runs a shape): 1.8% at 4096^3, 1.6% at 1024^3, where the
 * runs' own 95% intervals covered 1 in 3 of 4 and 1 of 3; on a second
 * lease the runs moved 0-0.3% and their own intervals covered 1 in 8 of 8
 * (docs/aa-calibration.md, "The GPU judges"). */
#define CS_BETWEEN_RUNS_SD 0.02
#define CS_SESSION_MIN_ROUNDS 10  /* a session's least rounds: the engine's sign test decides from 9 of 10 */
#define CS_SIDE_BYTES ((size_t)8 << 30)   /* a side's pool at most (one candidate: as before) */
#define CS_TOTAL_BYTES ((size_t)24 << 30) /* all the sides' pools of a session together at most */

/* A --between-runs value: a decimal standard deviation in [0, 1), nothing
 * around it. True with *sd set, else false with the usage error in err.
 * (Inline: the judges' argument parsers are unit-tested without
 * session.c.) */
static inline bool cs_parse_between_runs(const char *s, double *sd, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!s[0] || end == s || errno || *end || !(v >= 0 && v < 1)) {
        snprintf(err, errlen, "--between-runs: want a standard deviation in [0, 1), got '%s'", s);
        return false;
    }
    *sd = v;
    return true;
}

/* The rounds a measurement of nc candidates (1: one evaluation) takes with
 * --reps reps: at least *min_rounds (reps; a session at least
 * CS_SESSION_MIN_ROUNDS), at most *cap_rounds (4 x reps, never under the
 * minimum). */
void cs_round_limits(int reps, int nc, int *min_rounds, int *cap_rounds);

/* The order of round r of nc candidates into order[0..nc]: -1 is the
 * baseline's turn, k candidate k's. One candidate: {0, -1} on even rounds,
 * {-1, 0} on odd ones (the judges' order before sessions). Several: the
 * sides rotate by one each round and run backwards every other cycle of
 * nc + 1 rounds (a rotation alone keeps c1 right after c0 forever). */
void cs_order(int r, int nc, int *order);

/* Whether a measurement may end after `done` rounds: at least min_rounds,
 * and, with baseline times tb (NULL: no baseline, nothing to be precise
 * about), the paired ratio tb[i] / t[k][i] of every candidate k with in[k]
 * has an interval at CS_LEVEL within +-CS_PRECISION. */
bool cs_enough(const double *const *t, const bool *in, int nc, const double *tb, int done, int min_rounds);

/* Candidate k against every other candidate j with in[j]: the paired ratio
 * t[j][i] / t[k][i] over the first `done` rounds (> 1: k is faster), its
 * interval widened by between_runs (spak_stats_widen), the rounds and
 * faster_rounds (rounds where k took less time), as the CPU judge's
 * "versus". A new JSON array. */
struct json_t *cs_versus(const double *const *t, const bool *in, int nc, int k, int done, double between_runs);

/* The Performance record's ratio fields for candidate times tc against
 * baseline times tb (NULL: none) over `done` rounds: ratio (the paired
 * geometric mean), ratio_ci [lo, hi] (the run's interval widened by
 * between_runs), ratio_ci_within (the run's own), ratio_between_runs_sd,
 * ratio_ci_level, ratio_precision, precision_reached (on the run's own
 * interval), samples_ms, baseline_samples_ms. failed: the candidate's
 * timing does not count (the ratio and its intervals null). A new JSON
 * object. */
struct json_t *cs_ratio_fields(const double *tc, const double *tb, int done, bool failed, double between_runs);

/* The fields that tie a record to its session: session (id), rival (the
 * candidate's position among the --candidate), session_size. */
void cs_session_fields(struct json_t *rec, const char *session, int rival, int size);

/* A fresh session id ("g" + 12 hex digits from getrandom) into buf. 0, or
 * -1 when the OS gave no random bytes. */
int cs_session_id(char *buf, size_t n);

/* The device memory one side's pool may have in a measurement of nc
 * candidates: CS_SIDE_BYTES, less when nc + 1 pools of it would pass
 * CS_TOTAL_BYTES. */
size_t cs_side_budget(int nc);

/* Calls per batch: about target_ms of work at call_s seconds a call, at
 * least 1, at most max_calls, and so many input sets of set_bytes (plus
 * fixed_bytes of the side's own, e.g. a workspace) that the side's pool
 * stays within cs_side_budget(nc). */
int cs_calls_per_batch(double call_s, double target_ms, size_t set_bytes, size_t fixed_bytes, int nc, int max_calls);

#ifdef __cplusplus
}
#endif

#endif
