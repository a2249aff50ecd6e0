/*
 * retime.h - the winner decided side by side (docs/language.md, "The
 * re-time"). Before a run ends, its leading candidates (the best, the
 * runner-up whatever its interval, ranked as the best was: on the ratio
 * where both have one to the same baseline, else on the score; and every
 * candidate whose interval overlaps the best's, spak_progress_decision's
 * tied_with; at most SPAK_RETIME_MAX) are timed again together, in ONE
 * session of the judge: the
 * judge takes each candidate in its own runner (--candidate repeated) and
 * times them round-robin with the baseline, so that they all see the same
 * machine at the same moments; the winner is named on that session, on the
 * paired ratios between the candidates.
 *
 * The re-time is a state of the loop (RETIME, journaled before the session
 * starts) and its result is kept in the store (SPAK_KV_RETIME) before DONE:
 * a run killed during the session times them again when resumed; one killed
 * after it reuses the stored result.
 *
 * Which judges: the measure command must be one of spak's judges that
 * take a session (spak_retime_session_judge: the CPU judge and both CUDA
 * judges, trusted by spak_measure_is_judge) and the candidates' expanded
 * commands may differ only in the values of --candidate, --traffic and
 * --seed; otherwise the re-time is skipped and the result says why.
 */
#ifndef SPAK_RETIME_H
#define SPAK_RETIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "analyze/progress.h"
#include "build/candidate.h"
#include "spec/model.h"
#include "store/store.h"

struct spak_measure_job; /* analyze/evaluate.h */

#define SPAK_RETIME_MAX 8 /* candidates in one session (the CPU judge's CPU_MAX_RIVALS) */

/* What the re-time needs from the run (all borrowed). */
typedef struct spak_retime_job {
    const spak_cand_site *site;  /* the run's: where candidates are built */
    const spak_model *m;
    const char *cmd;             /* the loop's measure command template */
    const char *metric;
    spak_objective objective;
    const char *bin_dir, *target, *home;
    uint64_t seed;
    double timeout_s;            /* per session; <= 0: the measurement's default */
    bool allow_weak_isolation;
    spak_store *store;
    const char *run_id;
    const spak_progress *pr;     /* the best and the candidates tied with it */
    /* journals the RETIME state (detail: a new object, taken) before the
     * session starts */
    spak_status (*enter)(void *ud, json_t *detail, spak_err *err);
    void *ud;
    /* the measurement lock's folder (NULL: the default) and, on the CUDA
     * target, the device the session runs on (evaluate.h) */
    const char *lock_dir;
    int cuda_device;
    /* the run's measurements (may be NULL: local): the session runs where
     * they ran (its executor and Slurm options); its job is not journaled
     * (it is no evaluation: a resumed run times the session again) */
    const struct spak_measure_job *base;
} spak_retime_job;

/* Whether the judge named name (an executable's file name, e.g.
 * "spak-harness-cuda") times several candidates in one session
 * (--candidate repeated): spak-harness-cpu, spak-harness-cuda,
 * spak-harness-cuda-fmha. Whether the command really runs spak's judge is
 * spak_measure_is_judge's to say. */
bool spak_retime_session_judge(const char *name);

/* The run's re-time: the stored one when the run has it; else, when some
 * candidate's interval overlaps the best's, the session run now (journaled
 * through job->enter) and stored. *out: a new object (the caller's) with
 * "status" ("done", "skipped" with "why", or "failed" with "why"),
 * "session", "judge", "candidates" (each: eval_id, candidate, rank (1 =
 * first; 0 when not correct in the session), correct, the metric, ratio,
 * ratio_ci, precise, versus_winner {ratio, ratio_ci: its time over the
 * winner's, paired by round; > 1: the winner is faster}), "decision" (winner,
 * tied or inconclusive), "winner" (eval id), "tied_with" (eval ids) and
 * "records" (the session's valid records); or NULL when nothing overlaps
 * the best and there is no runner-up (a run of one correct candidate), or
 * when the best has no interval (the run did not decide on intervals). An
 * error: the store or the journal failed. */
spak_status spak_retime_final(const spak_retime_job *job, json_t **out, spak_err *err);

/* Fold a re-time rt (may be NULL) into the run's summary: "retime" (rt
 * without its records), and when the session named a winner: "decision",
 * "tied_with", "ratio", "ratio_ci" and "best" from the session ("best"
 * says "measured_in"), "decided_by": "re-time"; and into pr's best (its
 * eval id, key, metric, ratio and interval), for the run's last event. */
void spak_retime_apply(json_t *summary, const json_t *rt, const char *metric, spak_progress *pr);

/* Whether two candidates' decl files (a declared kernel's, build/decl.h)
 * allow one session, in which the judge launches every candidate as the
 * first one's decl says: the same kernel, arguments and listed shapes with
 * their launches (the candidate's path and the drawn held-out shapes aside)
 * and a reference of the same bytes. what[n] says which part differs. */
bool spak_retime_decl_session_ok(const char *a, const char *b, char *what, size_t n);

/* Whether a is a judge flag that profiles the one candidate of a run (the
 * CUDA judges' --ncu and --profile-one refuse a session of several): the
 * re-time drops it from its session's command - a timing session; the
 * counters came with each candidate's own evaluation. */
bool spak_retime_profiling_flag(const char *a);

#endif
