/*
 * counters.h - hardware counters only when the analysis needs them (issues
 * 14 and 18; docs/cli.md, `spak run --counters`): a measure command that
 * asks its judge for an ncu pass (`--ncu`: one Counters record a timed
 * shape) keeps the flag for the evaluations that need it and loses it for
 * the others. The ncu pass took 10.4 s of a GEMM evaluation's 16.8 s on the
 * H100 (docs/results.md, 2026-12-07).
 *
 *   new    (the default) the first evaluation of each structure in the run:
 *          a structure is the candidate's design_space values (a spec
 *          without design_space: one structure), or a code candidate's
 *          source (an LLM's or an outside proposal's, "code:TAG" of its key:
 *          the points of its tunables' sweep share it); a
 *          structure counts as profiled once an evaluation of it has a
 *          Counters record in the store from an ncu pass that ran (numbers,
 *          or ncu's failure); a failed build, a crash, a failed check or an
 *          early stop ("not profiled: ...") leaves it unprofiled, so the next
 *          evaluation of it profiles;
 *   every  every evaluation (the measure command as written);
 *   never  none (the flag dropped from every evaluation).
 *
 * The tuning parameters of one structure (tile sizes, block sizes) change
 * its counters' values but not what limits it as often; the engineer who
 * wants them per point asks for `every`.
 */
#ifndef SPAK_COUNTERS_H
#define SPAK_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "build/candidate.h"
#include "spec/model.h"
#include "store/store.h"

typedef enum { SPAK_COUNTERS_NEW = 0, SPAK_COUNTERS_EVERY, SPAK_COUNTERS_NEVER } spak_counters_when;

/* "new", "every", "never"; false for anything else */
bool spak_counters_parse(const char *s, spak_counters_when *out);
const char *spak_counters_name(spak_counters_when w);

/* Whether argv word a asks the judge for hardware counters (--ncu). */
bool spak_counters_flag(const char *a);

/* The structure of the candidate with key cand_key ("name=value,..."): its
 * design_space parameters' pairs in the key's order, "" when the spec has
 * no design_space; a code candidate's ("code:TAG|...") its "code:TAG". */
void spak_counters_structure(const spak_model *m, const char *cand_key, char *out, size_t n);

/* The earlier evaluation (eval_id < before) of the run whose candidate has
 * structure `structure` and which recorded a Counters record: its eval_id
 * in *prior, *flying false; else the first such evaluation still in flight
 * (planned, building, running: with --jobs N, one that will be profiled
 * beside this one), *flying true; else 0. */
spak_status spak_counters_prior(spak_store *st, const char *run_id, const spak_model *m, const char *structure,
                                int64_t before, int64_t *prior, bool *flying, spak_err *err);

/* Apply the policy to the measure argv av of evaluation eval_id (candidate
 * cand_key): drop its counters flags unless this evaluation needs them.
 * note[n] (may be NULL) says what was decided, "" when the command asks
 * for no counters. */
spak_status spak_counters_args(spak_store *st, const char *run_id, const spak_model *m, spak_counters_when w,
                               int64_t eval_id, const char *cand_key, spak_cand_argv *av, char *note, size_t n,
                               spak_err *err);

#endif
