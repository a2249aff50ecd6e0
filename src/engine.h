/*
 * engine.h - the loop itself: one explicit state machine
 *
 *   SPECIFY -> PROGRAM -> BUILD -> ANALYZE -> KNOWLEDGE -> DECIDE -> (PROGRAM | DONE)
 *
 *   SPECIFY    the spec is loaded and checked; the run is created in the store
 *   PROGRAM    the strategy proposes the next candidate (a point of the space);
 *              with strategy "llm" an LLM proposes parameters or a new source
 *              (driver_llm.h); the manual backend SUSPENDs the run until the
 *              reply file exists, and `spak resume` goes on
 *   BUILD      the candidate source + its parameters as defines -> a .so (cached)
 *   ANALYZE    the measure command runs in the sandbox against the trusted
 *              harness; its trace records are validated against trace_schema
 *              and stored; correctness, metric, ratio and bottleneck are read
 *   KNOWLEDGE  predicate facts are evaluated on the new records and recorded
 *   DECIDE     budget spent / stop condition / plateau / space exhausted ->
 *              DONE, else PROGRAM
 *   DONE       crystallization (learn.h): lessons into the store, and spec
 *              v(n+1) with an insights log in the run's directory
 *
 * Every transition is journaled in the SQLite store before the work of the
 * next state starts (spak_store_transition commits with synchronous=FULL),
 * so a run killed at any point (kill -9 included) is resumed by
 * spak_engine_resume: evaluations that finished are kept and not redone,
 * the one that was cut off is marked interrupted and proposed again.
 * `spak explain` prints this machine.
 */
#ifndef SPAK_ENGINE_H
#define SPAK_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

typedef enum spak_engine_event_kind {
    SPAK_EV_RUN_STARTED,   /* run_id, total (space size), budget */
    SPAK_EV_PHASE,         /* phase */
    SPAK_EV_EVAL_DONE,     /* the evaluation fields */
    SPAK_EV_RUN_DONE,      /* stop_reason, summary_json */
    SPAK_EV_SUSPENDED      /* why: what the run waits for (e.g. the reply file of the manual LLM backend) */
} spak_engine_event_kind;

typedef struct spak_engine_event {
    spak_engine_event_kind kind;
    const char *run_id;
    const char *phase;
    long eval_no;            /* evaluations finished in this run, this one included */
    long budget;             /* max evaluations (0 = none) */
    uint64_t total;          /* points in the search space */
    const char *key;         /* candidate parameters */
    bool ok;                 /* correct and measured */
    const char *why;         /* why not ok */
    const char *metric_name;
    double metric, ratio;    /* NAN when unknown */
    const char *baseline;
    const char *bottleneck;
    double best_metric, best_ratio;
    double elapsed_s;
    const char *stop_reason;
    const char *summary_json;
    bool resumed;
} spak_engine_event;

typedef struct spak_engine_opts {
    const char *home;          /* state directory (default ".spak"): store, caches, run dirs */
    const char *bin_dir;       /* directory of the spak binary: harnesses live there */
    const char *loop_name;     /* engineering_loop to run; NULL = the first */
    const char *strategy;      /* override the loop's strategy; NULL = the spec's */
    long seed;                 /* override; -1 = the spec's */
    long max_evaluations;      /* override; 0 = the spec's */
    double max_wall_s;         /* override; 0 = the spec's */
    double eval_timeout_s;     /* wall limit of one measurement (default 600) */
    bool use_lessons;          /* rules strategy: also act on the store's lessons for this
                                  device, family and shape class (transfer) */
    bool no_learn;             /* skip crystallization at the end of the run */
    unsigned approve;          /* SPAK_GATE_* bits, added to the spec's `approve` */
    /* Asked at an approval gate ("knowledge", "llm-code") with what would be
     * done: 1 approve, 0 reject, -1 no answer now (the run suspends until
     * `spak approve RUN` or `spak reject RUN`). NULL = always -1. */
    int (*on_approve)(void *ud, const char *gate, const char *what);
    const char *llm_backend;   /* override the spec's llm block: openai | anthropic | manual */
    const char *llm_endpoint;
    const char *llm_model;
    double llm_temperature;    /* override when >= 0 (set -1 for "the spec's") */
    long llm_max_tokens;       /* override when > 0 */
    double llm_timeout_s;      /* override when > 0 */
    void (*on_event)(void *ud, const spak_engine_event *ev);
    void *ud;
} spak_engine_opts;

/* Start a new run of the spec at spec_path. run_id receives its id as soon
 * as it exists (also when the run later fails). */
spak_status spak_engine_run(const spak_engine_opts *o, const char *spec_path, char run_id[SPAK_STORE_ID_MAX],
                            spak_err *err);
/* Continue a run that was stopped or killed. */
spak_status spak_engine_resume(const spak_engine_opts *o, const char *run_id, bool force, spak_err *err);
/* Build every candidate of the spec's loop into the build cache (so that a
 * machine without a compiler, or with little time, finds them built).
 * on_event gets one SPAK_EV_EVAL_DONE per candidate (why = the artifact). */
spak_status spak_engine_build_all(const spak_engine_opts *o, const char *spec_path, size_t *built, size_t *failed,
                                  spak_err *err);
/* Answer the pending approval of a suspended run (approve or reject) and
 * record it; `spak resume` then goes on. SPAK_ERR_STATE when none is pending. */
spak_status spak_engine_answer(const spak_engine_opts *o, const char *run_id, bool approve, char *what, size_t what_n,
                               spak_err *err);
/* The pending approval of a run as JSON text (malloc'd), or NULL. */
char *spak_engine_pending(spak_store *st, const char *run_id);
/* What a run's LLM steps used, summed over the steps kept under llm:RUN.
 * A step still suspended (waiting for a manual answer) is counted only when
 * with_suspended; cost_unknown when some counted step had no price. */
typedef struct {
    long steps;
    long tokens;
    double cost_usd;
    bool cost_unknown;
} spak_run_llm_usage;
spak_run_llm_usage spak_engine_llm_usage(spak_store *st, const char *run_id, bool with_suspended);
/* The command line's LLM settings and gates hold for a whole run, resumes
 * included: saved with the run, and loaded into o where o leaves them unset.
 * load returns the JSON that owns the strings now in o (json_decref it after). */
void spak_engine_save_options(spak_store *st, const char *run_id, const spak_engine_opts *o);
json_t *spak_engine_load_options(spak_store *st, const char *run_id, spak_engine_opts *o);
/* The state machine as text (for `spak explain`). Static storage. */
const char *spak_engine_describe(void);
/* Open the store under o->home (creating the directory). */
spak_status spak_engine_open_store(const spak_engine_opts *o, spak_store **out, spak_err *err);

#endif
