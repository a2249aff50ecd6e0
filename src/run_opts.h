/*
 * run_opts.h - what every kind of run shares: the options a command gives
 * it, the events it reports, the store it runs in, and the options kept
 * with a run so that its resumes see them. The engine (engine.h) and the
 * agent (agent.h) both run on these; neither includes the other (the CLI
 * dispatches a resume by the run's kind).
 */
#ifndef SPAK_RUN_OPTS_H
#define SPAK_RUN_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include "store/store.h"

typedef enum spak_engine_event_kind {
    SPAK_EV_RUN_STARTED,   /* run_id, total (space size), budget */
    SPAK_EV_PHASE,         /* phase */
    SPAK_EV_EVAL_DONE,     /* the evaluation fields */
    SPAK_EV_RUN_DONE,      /* stop_reason, summary_json */
    SPAK_EV_SUSPENDED,     /* why: what the run waits for (e.g. the reply file of the manual LLM backend) */
    SPAK_EV_WAITING        /* why: what an evaluation waits for (the measurement lock: its file and holder) */
} spak_engine_event_kind;

typedef struct spak_engine_event {
    spak_engine_event_kind kind;
    const char *run_id;
    const char *phase;
    long eval_no;            /* evaluations finished in this run, this one included */
    long budget;             /* max evaluations (0 = none) */
    uint64_t total;          /* points in the search space */
    const char *key;         /* candidate parameters (PHASE: the candidate being built or measured, or NULL) */
    bool ok;                 /* correct and measured */
    bool stopped;            /* correct, stopped early as hopeless (why says how slow) */
    const char *why;         /* why not ok */
    const char *metric_name;
    double metric, ratio;    /* NAN when unknown */
    const char *baseline;
    const char *bottleneck;
    double best_metric, best_ratio;
    /* the ratio's and the best ratio's intervals, NAN without one (set by
     * the engine on every event) */
    double ratio_lo, ratio_hi, best_ratio_lo, best_ratio_hi;
    const char *decision;    /* RUN_DONE: spak_progress_decision, NULL without intervals */
    bool untrusted;          /* its records came from a measure command that is not one of spak's judges */
    double elapsed_s;
    double max_wall_s;       /* the run's wall-time budget, 0 = none (set by the engine on every event) */
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
    double early_stop;         /* override stop.early_stop when > 0; < 0: off; 0: the spec's
                                  (analyze/early_stop.h; kept with the run for its resumes) */
    const char *counters;      /* --counters new|every|never: which evaluations keep the judge's
                                  --ncu (analyze/counters.h); NULL: new (kept with the run) */
    bool use_lessons;          /* rules strategy: also act on the store's lessons for this
                                  device, family and shape class (transfer) */
    bool no_learn;             /* skip crystallization at the end of the run */
    bool allow_weak_isolation; /* an evaluation below the minimum isolation is kept, not failed
                                  (kept with the run: its resumes allow it too) */
    unsigned approve;          /* SPAK_GATE_* bits, added to the spec's `approve` */
    /* where measurements run (analyze/executor.h) and a Slurm job's options,
     * each over the spec's; NULL: the spec's (kept with the run for its resumes) */
    const char *executor;
    struct {
        const char *partition, *time, *account, *gpus;
    } slurm;
    /* Evaluations in flight at once (--jobs; engine_sched.h): 0 = the
     * spec's engineering_loop jobs, else 1. Kept with the run, as are the
     * three below. */
    long jobs;
    const char *devices;       /* CUDA devices to measure on, "0,1" (--devices); NULL: those detected */
    const char *cpus;          /* core sets, one per job, "0-3/4-7" (--cpus); NULL: the spec's, else none */
    const char *sandbox_uids;  /* "FIRST-LAST": one candidate uid per job (--sandbox-uids); NULL: the default range */
    const char *lock_dir;      /* the measurement locks' folder (SPAK_LOCK_DIR); NULL: /var/tmp/spak-locks */
    /* SPAK_CTX_WITHOUT_* bits: sections of the engineer's context that this
     * run's design leaves out (an ablation; kept with the run for its resumes) */
    unsigned context_without;
    /* A T1 file's parameter values replaced before it is read (`spak run
     * FILE.json --set NAME=VALUES`, docs/t1.md); a new run stores the
     * translation, so its resumes need them not. */
    const struct spak_t1_set *t1_sets;
    size_t n_t1_sets;
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
    /* Runs an engineering loop for an agent's tool.engineering_loop (the
     * CLI sets spak_engine_run; kept here so the agent needs not the engine). */
    spak_status (*run_loop)(const struct spak_engine_opts *o, const char *spec_path, char run_id[SPAK_STORE_ID_MAX],
                            spak_err *err);
} spak_engine_opts;

/* What --context-without removes from the engineer's context (the LLM
 * prompt, the manual prompt and the MCP context alike; llm_context.c):
 * measurements: the starting point's measurement, the per-shape results,
 * the analysis, the counters, the predictions' scores and the numbers of the
 * history lines; knowledge: the rules that fired (and the spec's guidance)
 * and the lessons. A removed section says so (spak_context_omitted_text). */
#define SPAK_CTX_WITHOUT_MEASUREMENTS 1u
#define SPAK_CTX_WITHOUT_KNOWLEDGE 2u
#define SPAK_CTX_OMITTED_MEASUREMENTS "Omitted by this run's design (--context-without measurements)"
#define SPAK_CTX_OMITTED_KNOWLEDGE "Omitted by this run's design (--context-without knowledge)"
/* Parse a comma-separated list of "measurements" and "knowledge" into
 * *bits (added to it). SPAK_ERR_ARG naming the word that is neither. */
spak_status spak_context_without_parse(const char *list, unsigned *bits, spak_err *err);
/* "measurements", "knowledge" or "measurements,knowledge" for bits, into
 * out[n] ("" for none). */
void spak_context_without_text(unsigned bits, char *out, size_t n);
/* A failed evaluation's reason as a run without measurements shows it:
 * the judge's performance verdicts (interference, busy, impossible) state the
 * times and rates they compared, so their text is cut after the verdict's
 * word; any other reason (a wrong result, a crash, a build error) is
 * returned as it is. Returns why, or buf holding the cut text. */
const char *spak_context_hide_measured(const char *why, char *buf, size_t n);

/* Open the store under o->home (creating the directory; a new store is
 * made 0600, and the home's modes are fixed as spak_home_prepare says). */
spak_status spak_engine_open_store(const spak_engine_opts *o, spak_store **out, spak_err *err);
/* Answer the pending approval of a suspended run (approve or reject) and
 * record it; `spak resume` then goes on. SPAK_ERR_STATE when none is pending. */
spak_status spak_engine_answer(const spak_engine_opts *o, const char *run_id, bool approve, char *what, size_t what_n,
                               spak_err *err);
/* The pending approval of a run as JSON text (malloc'd), or NULL. */
char *spak_engine_pending(spak_store *st, const char *run_id);


/* The command line's LLM settings and gates hold for a whole run, resumes
 * included: saved with the run, and loaded into o where o leaves them unset.
 * load returns the JSON that owns the strings now in o (json_decref it after). */
void spak_engine_save_options(spak_store *st, const char *run_id, const spak_engine_opts *o);
json_t *spak_engine_load_options(spak_store *st, const char *run_id, spak_engine_opts *o);
/* Make the state directory of o (default ".spak"), its cache/device
 * (where harnesses keep the device's measured ceilings) and runs/, and close
 * it to the sandbox uid (created so, fixed on an existing home): the home,
 * cache/ and runs/ 0711 (traversable to an evaluation's directory, never
 * listable), the store 0600, cache/build 0700, every other entry without
 * group and other bits. out[n] gets its real path. */
spak_status spak_home_prepare(const spak_engine_opts *o, char *out, size_t n, spak_err *err);

/* The seconds a run had been running when it stopped: the newest
 * elapsed_s in its journal (0 when none). */
double spak_run_elapsed(spak_store *st, const char *run_id);

#endif
