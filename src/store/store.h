/*
 * store.h - the SQLite store: runs, the transition journal, candidates,
 * evaluations, trace records, a key/value cache and lessons, in one real
 * SQLite file (docs/store.md has the schema and the durability policy).
 *
 * Durability: the connection runs with journal_mode=WAL, synchronous=FULL,
 * foreign_keys=ON and a busy timeout, so when a writing call returns SPAK_OK
 * its effect survives kill -9 (and power loss) of the calling process.
 * spak_store_transition() is the "journal before transition" primitive: it
 * appends a journal row and moves runs.state in ONE transaction; the engine
 * calls it before it starts the work of the new state, and on resume reads
 * runs.state (or the last journal row) to know where to go on.
 *
 * Timestamps are REAL seconds since the epoch (UTC); in sqlite3 use
 * datetime(at, 'unixepoch'). A metric/ratio that is unknown is NAN in the
 * structs and NULL in the database.
 *
 * Text caps: every text column that holds outside output (logs, stdout and
 * stderr tails, errors, raw trace text) is cleaned (NUL and invalid UTF-8 ->
 * U+FFFD) and capped by the store at SPAK_STORE_TEXT_MAX bytes: the first
 * and the last half are kept, with a line "[... N bytes cut ...]" between.
 * JSON columns are stored as given (callers pass json_dumps output).
 *
 * Ownership: every struct a spak_store_* call fills holds malloc'd strings
 * owned by the caller, released with the matching *_free function (which
 * accepts zeroed structs and NULL arrays). Strings passed in are copied;
 * the store keeps no pointer to caller memory. A spak_store handle belongs
 * to one thread at a time; open one handle per process (after fork, open a
 * new one in the child).
 */
#ifndef SPAK_STORE_H
#define SPAK_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "spak.h"
#include "analyze/trace.h"

#define SPAK_STORE_SCHEMA_VERSION 3
#define SPAK_STORE_TEXT_MAX ((size_t)256 * 1024)
#define SPAK_STORE_ID_MAX 32 /* run ids are "rYYYYMMDD-NNN" (NNN grows past 999 if needed) */

typedef struct spak_store spak_store; /* opaque */

/* ---- open / close ------------------------------------------------------------ */

/*
 * Open (creating if needed) the store at path, set the pragmas above, and
 * create or migrate the schema (PRAGMA user_version; a file written by a
 * newer spak is refused with SPAK_ERR_STORE). On success *out is a handle
 * the caller closes with spak_store_close.
 */
spak_status spak_store_open(const char *path, spak_store **out, spak_err *err);
/* Close the handle (NULL is fine). Rolls back an open explicit transaction. */
void spak_store_close(spak_store *st);
/* The path given to open. Borrowed, valid until close. */
const char *spak_store_path(const spak_store *st);
/* The sqlite3 * under the handle, for read-only ad-hoc queries (tests,
 * reports). Borrowed; do not close it or change pragmas. */
struct sqlite3 *spak_store_db(spak_store *st);

/*
 * Explicit transaction around several store calls (the calls then join it
 * instead of opening their own). begin takes the write lock (BEGIN
 * IMMEDIATE). Nesting is not supported: begin while one is open fails with
 * SPAK_ERR_STATE.
 */
spak_status spak_store_begin(spak_store *st, spak_err *err);
spak_status spak_store_commit(spak_store *st, spak_err *err);
spak_status spak_store_rollback(spak_store *st, spak_err *err);

/* ---- runs and the journal ----------------------------------------------------- */

/* run status values */
#define SPAK_RUN_RUNNING "running"
#define SPAK_RUN_SUSPENDED "suspended"
#define SPAK_RUN_DONE "done"
#define SPAK_RUN_FAILED "failed"

typedef struct spak_run_new {
    const char *spec_path;     /* may be NULL */
    const char *spec_text;     /* may be NULL; spec_hash is computed from it */
    const char *strategy;      /* may be NULL */
    int64_t seed;
    const char *budget_json;   /* may be NULL */
    const char *device_json;   /* may be NULL */
    const char *initial_state; /* required, e.g. "specify" */
    const char *detail_json;   /* detail of the first journal row; may be NULL */
} spak_run_new;

typedef struct spak_run {
    char *id, *spec_path, *spec_text, *spec_hash, *state, *status, *stop_reason;
    char *strategy, *budget_json, *device_json, *summary_json, *owner;
    int64_t seed;
    int64_t last_seq; /* seq of the newest journal row */
    double created_at, updated_at;
} spak_run;

/*
 * Create a run in state nw->initial_state with status "running" and journal
 * row seq 1 (from NULL to initial_state), in one transaction. The new id is
 * written to id_out (SPAK_STORE_ID_MAX bytes), e.g. "r20250611-003".
 */
spak_status spak_store_run_create(spak_store *st, const spak_run_new *nw, char id_out[SPAK_STORE_ID_MAX],
                                  spak_err *err);
/* Fill *out with run id; SPAK_ERR_ARG ("no run 'x'") when there is none. Free with spak_store_run_free. */
spak_status spak_store_run_get(spak_store *st, const char *id, spak_run *out, spak_err *err);
/* All runs, newest first, without spec_text (NULL). Free with spak_store_runs_free. */
spak_status spak_store_run_list(spak_store *st, spak_run **out, size_t *n_out, spak_err *err);
void spak_store_run_free(spak_run *r);
void spak_store_runs_free(spak_run *runs, size_t n);

typedef struct spak_transition {
    const char *from_state;   /* expected current state; NULL = do not check */
    const char *to_state;     /* required */
    const char *status;       /* new runs.status; NULL = unchanged */
    const char *stop_reason;  /* new runs.stop_reason; NULL = unchanged */
    const char *summary_json; /* new runs.summary_json; NULL = unchanged */
    const char *detail_json;  /* journal row detail; NULL = none */
} spak_transition;

/*
 * Journal a transition and take it, in one transaction: append journal row
 * (seq = last + 1, from = the current state, to = t->to_state) and update
 * runs.state/status/stop_reason/summary_json/updated_at. When t->from_state
 * is set and the run is not in that state, nothing is written and the call
 * fails with SPAK_ERR_STATE (compare-and-set: two processes cannot both take
 * the same step). *seq_out (may be NULL) gets the new journal seq. Durable
 * when it returns SPAK_OK.
 */
spak_status spak_store_transition(spak_store *st, const char *run_id, const spak_transition *t, int64_t *seq_out,
                                  spak_err *err);
/* Shorthand: transition with only from/to/detail. */
spak_status spak_store_run_set_state(spak_store *st, const char *run_id, const char *from_state,
                                     const char *to_state, const char *detail_json, int64_t *seq_out,
                                     spak_err *err);

/*
 * Claim a run for one process (owner, e.g. "host:pid"): succeeds when the run
 * has no owner, the same owner, or force is true (the caller has checked
 * that the old owner is dead). SPAK_ERR_STATE when someone else holds it;
 * err then names the holder. owner NULL releases the claim unconditionally.
 */
spak_status spak_store_run_claim(spak_store *st, const char *run_id, const char *owner, bool force, spak_err *err);

typedef struct spak_journal_entry {
    int64_t seq;
    double at;
    char *from_state; /* NULL for the first row */
    char *to_state;
    char *detail_json; /* may be NULL */
} spak_journal_entry;

/* Journal rows of run_id in seq order. Free with spak_store_journal_free. */
spak_status spak_store_journal_list(spak_store *st, const char *run_id, spak_journal_entry **out, size_t *n_out,
                                    spak_err *err);
void spak_store_journal_free(spak_journal_entry *e, size_t n);

/* ---- candidates ------------------------------------------------------------------ */

typedef struct spak_candidate {
    int64_t cand_id;
    char *key;         /* canonical params string, unique per run */
    char *params_json;
    char *source_path;
    char *source_hash;
    double created_at;
} spak_candidate;

/*
 * Insert a candidate identified by key (unique per run) or find the existing
 * one. cand_ids count from 1 per run. When it exists, non-NULL
 * params_json/source_path/source_hash replace the stored ones. *cand_id_out
 * gets the id, *created_out (may be NULL) whether it was new.
 */
spak_status spak_store_candidate_upsert(spak_store *st, const char *run_id, const char *key,
                                        const char *params_json, const char *source_path,
                                        const char *source_hash, int64_t *cand_id_out, bool *created_out,
                                        spak_err *err);
/* *found false (and *out zeroed) when the run has no candidate with that key. */
spak_status spak_store_candidate_get(spak_store *st, const char *run_id, const char *key, spak_candidate *out,
                                     bool *found, spak_err *err);
spak_status spak_store_candidate_list(spak_store *st, const char *run_id, spak_candidate **out, size_t *n_out,
                                      spak_err *err);
void spak_store_candidate_free(spak_candidate *c);
void spak_store_candidates_free(spak_candidate *c, size_t n);

/* ---- evaluations -------------------------------------------------------------- */

/* evaluation status values. done/failed/stopped are final: the candidate
 * was judged (failed = did not build, crashed, wrong result, ...; stopped =
 * correct, but stopped early as hopeless: its judge found it slower than the
 * run's early-stop limit, and what it measured is censored, never a metric).
 * interrupted = the process died during it; resume redoes that candidate. */
#define SPAK_EVAL_PLANNED "planned"
#define SPAK_EVAL_BUILDING "building"
#define SPAK_EVAL_RUNNING "running"
#define SPAK_EVAL_DONE "done"
#define SPAK_EVAL_FAILED "failed"
#define SPAK_EVAL_INTERRUPTED "interrupted"
#define SPAK_EVAL_STOPPED "stopped"

typedef struct spak_eval_result {
    const char *status;       /* SPAK_EVAL_DONE, SPAK_EVAL_FAILED or SPAK_EVAL_STOPPED */
    const char *build_log;    size_t build_log_len;   /* len 0 = strlen; NULL = none */
    const char *stdout_tail;  size_t stdout_tail_len;
    const char *stderr_tail;  size_t stderr_tail_len;
    const char *exit_desc;    /* "exit 0", "signal 9 (timeout)", ... */
    int correct;              /* -1 unknown, 0 no, 1 yes (set -1 when not checked) */
    double metric;            /* NAN = unknown (a zeroed struct means 0.0) */
    double ratio;             /* metric / baseline; NAN = unknown */
    const char *bottleneck;   /* may be NULL */
    const char *result_json;  /* may be NULL */
    const char *error;        /* may be NULL */
    const spak_trace_list *traces; /* may be NULL; stored with the result, same transaction */
} spak_eval_result;

typedef struct spak_eval {
    int64_t eval_id, cand_id;
    char *cand_key; /* joined from candidates */
    char *status;
    double started_at, finished_at; /* finished_at 0 while unfinished */
    char *build_log, *stdout_tail, *stderr_tail, *exit_desc;
    int correct; /* -1 unknown */
    double metric, ratio; /* NAN unknown */
    char *bottleneck, *result_json, *error;
} spak_eval;

/* Start an evaluation of cand_id in status `status` (NULL = "building");
 * eval_ids count from 1 per run. */
spak_status spak_store_eval_begin(spak_store *st, const char *run_id, int64_t cand_id, const char *status,
                                  int64_t *eval_id_out, spak_err *err);
/* Move an unfinished evaluation to planned/building/running. */
spak_status spak_store_eval_set_status(spak_store *st, const char *run_id, int64_t eval_id, const char *status,
                                       spak_err *err);
/*
 * Finish an evaluation: write the result and its trace records (if
 * r->traces) in one transaction. Fails with SPAK_ERR_STATE when the
 * evaluation is already final.
 */
spak_status spak_store_eval_finish(spak_store *st, const char *run_id, int64_t eval_id,
                                   const spak_eval_result *r, spak_err *err);
/* Mark every planned/building/running evaluation of the run "interrupted"
 * (call on resume, before planning), except one whose job (a remote
 * executor's) is still open: the resume re-attaches to it; *n_out (may be
 * NULL) gets how many. */
spak_status spak_store_eval_interrupt_unfinished(spak_store *st, const char *run_id, size_t *n_out,
                                                 spak_err *err);
spak_status spak_store_eval_get(spak_store *st, const char *run_id, int64_t eval_id, spak_eval *out,
                                spak_err *err);
/* All evaluations of the run in eval_id order. */
spak_status spak_store_eval_list(spak_store *st, const char *run_id, spak_eval **out, size_t *n_out,
                                 spak_err *err);
/*
 * The newest final (done or failed) evaluation of the candidate with this
 * key: *found tells whether there is one. This is how a resumed engine skips
 * candidates already judged.
 */
spak_status spak_store_eval_find_by_key(spak_store *st, const char *run_id, const char *key, spak_eval *out,
                                        bool *found, spak_err *err);
void spak_store_eval_free(spak_eval *e);
void spak_store_evals_free(spak_eval *e, size_t n);

/* ---- trace records ---------------------------------------------------------------- */

typedef struct spak_trace_row {
    int64_t eval_id; /* 0 = not tied to an evaluation */
    int64_t seq;     /* 1-based per (run, eval) */
    int64_t line;
    char *case_name;   /* NULL when the record has no type */
    char *record_json; /* compact JSON when parsed, else NULL */
    char *raw;         /* cleaned raw text */
    bool valid;
    char *error, *warnings;
} spak_trace_row;

/* Append one record to (run_id, eval_id); eval_id 0 = a run-level record. */
spak_status spak_store_trace_insert(spak_store *st, const char *run_id, int64_t eval_id,
                                    const spak_trace_record *rec, spak_err *err);
/* Append every record of l, in one transaction. */
spak_status spak_store_trace_insert_list(spak_store *st, const char *run_id, int64_t eval_id,
                                         const spak_trace_list *l, spak_err *err);
/* Records of the run (eval_id < 0: all, in (eval_id, seq) order). */
spak_status spak_store_trace_list(spak_store *st, const char *run_id, int64_t eval_id, spak_trace_row **out,
                                  size_t *n_out, spak_err *err);
void spak_store_trace_rows_free(spak_trace_row *rows, size_t n);

/* ---- jobs of a remote executor (analyze/executor.h) ------------------------------ */

/* One evaluation submitted to a cluster (Slurm): journaled once the job
 * exists, so that a resumed run waits for it (re-attaches) instead of
 * submitting it again, and a stopped run can cancel it. */
typedef struct spak_job {
    int64_t eval_id;
    char *executor;      /* "slurm" */
    char *job_id;        /* the cluster's id */
    char *job_dir;       /* the job's folder: request, result, output */
    bool trusted;        /* its command is one of spak's judges (evaluate.h) */
    double submitted_at;
    double finished_at;  /* 0 while open */
    char *state;         /* how it ended (Slurm's state), NULL while open */
} spak_job;

/* Journal a submitted job of evaluation j->eval_id of run_id. */
spak_status spak_store_job_put(spak_store *st, const char *run_id, const spak_job *j, spak_err *err);
/* Close the job of (run_id, eval_id) with state (e.g. "COMPLETED", "TIMEOUT"). */
spak_status spak_store_job_end(spak_store *st, const char *run_id, int64_t eval_id, const char *state,
                               spak_err *err);
/* The jobs of run_id by eval_id; open_only: those not yet closed. */
spak_status spak_store_job_list(spak_store *st, const char *run_id, bool open_only, spak_job **out, size_t *n_out,
                                spak_err *err);
void spak_store_jobs_free(spak_job *jobs, size_t n);

/* ---- key/value cache ------------------------------------------------------------- */

/* The generic key/value table. The scopes spak uses are declared, with typed
 * accessors, in store/scopes.h (run, run-options, approval, learned, agent,
 * llm:<run id>); use those. value_json is stored as given. */
spak_status spak_store_kv_put(spak_store *st, const char *scope, const char *key, const char *value_json,
                              spak_err *err);
/* *value_out = malloc'd copy (caller frees) or NULL when absent (still SPAK_OK). */
spak_status spak_store_kv_get(spak_store *st, const char *scope, const char *key, char **value_out,
                              spak_err *err);
spak_status spak_store_kv_delete(spak_store *st, const char *scope, const char *key, spak_err *err);

/* ---- lessons (knowledge step) ------------------------------------------------- */

typedef struct spak_lesson {
    int64_t id;       /* set by insert / list */
    char *run_id;     /* may be NULL (imported knowledge) */
    double created_at; /* 0 on insert = now */
    char *device, *family, *shape_class;
    char *kind;       /* "fact", "rule", "insight", ... */
    char *subject;    /* what it is about, e.g. "BM=128" */
    /* numbers: set NAN when unknown (a zeroed struct means 0.0) */
    double effect;    /* e.g. median speedup; NAN unknown */
    double uncertainty; /* e.g. spread of the effect; NAN unknown */
    double confidence;  /* 0..1; NAN unknown */
    char *evidence_json; /* eval ids, trace refs */
    char *text;
} spak_lesson;

/* Insert a copy of *l (its strings are only read); *id_out (may be NULL) gets the id. */
spak_status spak_store_lesson_insert(spak_store *st, const spak_lesson *l, int64_t *id_out, spak_err *err);
/* Lessons matching every non-NULL filter (device, family, kind), oldest first. */
spak_status spak_store_lesson_list(spak_store *st, const char *device, const char *family, const char *kind,
                                   spak_lesson **out, size_t *n_out, spak_err *err);
void spak_store_lesson_free(spak_lesson *l);
void spak_store_lessons_free(spak_lesson *l, size_t n);

#endif
