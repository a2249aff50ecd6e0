/*
 * engine_priv.h - the engine's state and the steps its two loops share:
 * the serial loop of engine.c (one evaluation at a time) and the scheduler
 * of engine_sched.c (--jobs N: several in flight). Not an interface: only
 * engine.c, engine_eval.c and engine_sched.c include it. Everything here
 * runs on the engine's own thread; the scheduler's workers touch none of it
 * (engine_sched.c says what they do).
 */
#ifndef SPAK_ENGINE_PRIV_H
#define SPAK_ENGINE_PRIV_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "analyze/evaluate.h"
#include "analyze/measure_lock.h"
#include "analyze/progress.h"
#include "build/candidate.h"
#include "knowledge/transfer.h"
#include "program/strategy.h"
#include "run_opts.h"
#include "spec/space.h"
#include "spec/spec.h"

#define S_SPECIFY "specify"
#define S_PROGRAM "program"
#define S_BUILD "build"
#define S_ANALYZE "analyze"
#define S_KNOWLEDGE "knowledge"
#define S_DECIDE "decide"
#define S_RETIME "retime"
#define S_DONE "done"
#define S_SUSPENDED "suspended"

/* Where one evaluation is built and measured: its device, its sandbox uid,
 * its cores, and whom to tell when it waits for the measurement lock. */
typedef struct eng_place {
    char device[40];         /* the lock's device: "cpu", "cuda-1", "cpu-0-3" */
    int cuda_device;         /* CUDA_VISIBLE_DEVICES, -1: not set (the CPU target) */
    long uid;                /* the candidates' uid, 0: the sandbox's default */
    bool build_lock;         /* builds take the device's lock shared (the CPU target, no core sets) */
    const char *cpus;        /* the core set its processes are confined to, or NULL */
    spak_mlock_wait_fn on_wait;
    void *ud;
    char who[SPAK_MLOCK_WHO_MAX];  /* written into the lock file while it measures */
} eng_place;

typedef struct engine {
    const spak_engine_opts *o;
    spak_store *store;
    spak_spec *spec;
    const spak_model *m;
    const spak_loop_def *loop;
    spak_space space;
    spak_cand_site site;  /* where candidates are built: spec_dir, home, run_id */
    const spak_strategy *strat;  /* PROGRAM (strategy.h) */
    void *strat_self;             /* its state */
    const char *strat_name;
    const char *spec_path;
    uint64_t seed;
    long max_evals;
    double max_wall;
    char run_id[SPAK_STORE_ID_MAX];
    char state[32];
    char spec_dir[PATH_MAX];
    char home[PATH_MAX];
    const char *target;
    const char *baseline;
    spak_progress pr;  /* the finished evaluations, the best, the record views */
    spak_transfer lessons;  /* transfer: the store's lessons as rules */
    const char *code_source;  /* the source of a code candidate being evaluated, or NULL */
    unsigned gates;           /* SPAK_GATE_* */
    double device_s;          /* seconds the measure commands ran */
    spak_measure_job mbase;   /* what every measurement of the run shares (evaluate.h): the executor */
    double elapsed_before, t0;
    long jobs;                /* evaluations in flight at most (engine_sched.h) */
    long in_flight;           /* begun, not yet finished: DECIDE counts them against the budget */
    eng_place place;          /* where the serial loop measures */
    /* a resumed run's jobs still running on a cluster (evaluate.h,
     * spak_measure_open_jobs): the scheduler re-attaches to them all at
     * once and collects them as they finish (engine_sched.c) */
    spak_job *attach;
    size_t n_attach;
} engine;

/* ---- engine.c ---- */
double eng_elapsed(const engine *e);
void eng_emit(engine *e, spak_engine_event *ev);
/* Journal the transition to `to` (detail taken), then take it and say so. */
spak_status eng_go(engine *e, const char *to, json_t *detail, spak_err *err);
spak_eval_env eng_eval_env(engine *e);
/* Why the run should stop now (evaluations in flight count against the
 * evaluation budget), or NULL. */
const char *eng_decide(engine *e);
/* Up to max proposals into p[] (initialized), the points pending not to
 * be proposed again; *n how many (0: none left). */
spak_status eng_propose(engine *e, const uint64_t *pending, size_t n_pending, spak_proposal *p, size_t max,
                        size_t *n, spak_err *err);
/* One proposal handled as the serial loop does (gates, suspension, a
 * failed step, one evaluation to its end). *more: the loop goes on. */
spak_status eng_program(engine *e, spak_proposal *p, bool *more, spak_err *err);
/* PROGRAM -> BUILD of a candidate: stored, its evaluation begun. A code
 * candidate's source is left in e->code_source (the caller's to take). */
spak_status eng_begin_candidate(engine *e, const spak_proposal *p, char *key, size_t key_n, int64_t *eval_id,
                                spak_err *err);
/* After BUILD and ANALYZE (analyzed: ANALYZE was journaled; else the
 * build failed and it is, skipped): the outcome stored, noted, told, KNOWLEDGE,
 * DECIDE (e->code_source is the candidate's, freed here). */
spak_status eng_complete(engine *e, const spak_proposal *p, const char *key, int64_t eval_id, spak_outcome *oc,
                         bool analyzed, spak_err *err);
spak_status eng_finish_run(engine *e, const char *reason, spak_err *err);

/* ---- engine_eval.c ---- */
/* The CUDA devices of list ("0,1": indices, no repeats), or with list
 * NULL those of this machine (/dev/nvidiaN, in order), into out[max]: how
 * many, -1 when list is not such a list. */
int eng_devices(const char *list, int *out, size_t max);
/* The serial loop's place: the first device, the default uid. */
void eng_place_serial(engine *e, eng_place *pl);
/* BUILD of one candidate (no journal): v filled for job, the candidate
 * built (under the device's lock, shared, when pl says so), the
 * parameters that cannot act found. */
spak_status eng_build(engine *e, spak_cand_vars *v, const spak_cand_job *job, const eng_place *pl, spak_outcome *oc,
                      bool *built, spak_err *err);
/* The start of ANALYZE on the engine's thread: journaled, the status
 * "running", the measure argv (the judge's counters flag kept or dropped,
 * analyze/counters.h, oc->counters saying which; early stop from the best
 * so far) and the measurement's job, which points
 * into v, av and pl. */
spak_status eng_analyze_begin(engine *e, const spak_cand_vars *v, int64_t eval_id, eng_place *pl,
                              spak_cand_argv *av, spak_measure_job *mj, spak_outcome *oc, spak_err *err);
/* BUILD and ANALYZE of proposal p's candidate, one after the other (the serial loop). */
spak_status eng_evaluate(engine *e, const spak_proposal *p, int64_t eval_id, spak_outcome *oc, spak_err *err);

/* ---- engine_sched.c ---- */
/* The loop with e->jobs evaluations in flight at once (engine_sched.c),
 * starting with e->attach in flight. With e->jobs 1 it only collects
 * e->attach and returns: the serial loop goes on. */
spak_status eng_sched_loop(engine *e, spak_err *err);

#endif
