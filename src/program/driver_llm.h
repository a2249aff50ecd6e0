/*
 * driver_llm.h - the Programming step driven by an LLM (strategy "llm").
 *
 * Each call builds a prompt from the spec and the loop's state (the sixteen
 * sections of prompt.h, whose texts llm_context.h gathers) within a context
 * budget (prompt.h), sends it to the
 * configured backend (llm.h: OpenAI-compatible, Anthropic, manual), and reads
 * the reply as either a choice of parameter values (JSON) or a new kernel
 * source (a fenced code block). Every proposal carries the model's
 * prediction. Nothing the model writes is ever put into a command line: code
 * goes to a file that the BUILD step compiles and the trusted harness judges.
 */
#ifndef SPAK_DRIVER_LLM_H
#define SPAK_DRIVER_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "program/llm/llm.h"
#include "program/prompt.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "store/store.h"

typedef enum { SPAK_LLM_MODE_PARAMS, SPAK_LLM_MODE_CODE, SPAK_LLM_MODE_ALTERNATE } spak_llm_mode;

/* The llm { ... } block of a spec and the command line's overrides. */
typedef struct spak_llm_settings {
    spak_llm_config cfg;
    spak_llm_mode mode;
    long context_tokens;
    long budget_tokens;   /* 0 = none */
    double budget_usd;    /* 0 = none */
    long max_failed_steps; /* the run stops after this many steps in a row without a candidate; 0 = never */
} spak_llm_settings;

/* Read the spec's llm block (NULL: defaults) into s; strings are borrowed
 * from the tree. Overrides (NULL = keep) apply after. A `price_table` file
 * (relative to the folder of spec_path) gives the model's prices where
 * price_in / price_out do not: a table that cannot be read is an error, a
 * model the table does not name leaves the cost unknown. */
spak_status spak_llm_settings_read(const spak_block *llm, const char *spec_path, const char *backend,
                                   const char *endpoint, const char *model, spak_llm_settings *s, spak_err *err);
/* The command line's numeric overrides: temperature when >= 0, max_tokens
 * and timeout_s when > 0. */
void spak_llm_settings_override(spak_llm_settings *s, double temperature, long max_tokens, double timeout_s);

/* What the loop knows now, as text for the prompt (all borrowed, may be NULL). */
typedef struct spak_llm_context {
    const char *task;
    const char *abi_header;
    const char *abi_symbol;
    const char *language;      /* "c" or "cuda" */
    const char *space;
    const char *machine;
    const char *start;
    const char *best_source;
    const char *diff;
    const char *analysis;
    const char *shapes;
    const char *counters;
    const char *diagnostics;
    const char *rules;
    const char *const *lessons;
    size_t n_lessons;
    const char *lessons_omitted;  /* the Lessons section's text instead of the lessons (an ablation) */
    const char *predictions;
    const char *const *history;
    size_t n_history;
    const char *metric;
    const char *in_flight;        /* the points being measured now (--jobs N), or NULL */
} spak_llm_context;

/* The prompt's parts for ctx (strings borrowed from it): what
 * spak_llm_propose builds its prompt from, and what any other reader of the
 * engineer's context (the MCP spak_context tool) passes to
 * spak_prompt_build, so that every reader shows the same sections. */
void spak_llm_prompt_parts(const spak_llm_context *ctx, bool want_code, spak_prompt_parts *parts);

typedef enum {
    SPAK_PROPOSE_PARAMS,     /* index is a new point of the space */
    SPAK_PROPOSE_CODE,       /* code_path holds a new source; index = the parameters for its defines */
    SPAK_PROPOSE_FAILED,     /* a recorded failed step: why says what went wrong */
    SPAK_PROPOSE_SUSPENDED   /* manual backend: waiting for the reply file */
} spak_propose_kind;

typedef struct spak_llm_proposal {
    spak_propose_kind kind;
    uint64_t index;
    char code_path[4096];
    char why[512];
    double predicted;           /* NAN when the model gave no number */
    double predicted_ratio;     /* the predicted ratio to the baseline, NAN when none */
    json_t *step;               /* the stored record of the step: prompt, reply, model, parameters,
                                   timing, tokens, cost, outcome, verdict (owned by the caller) */
    long tokens;                /* prompt + completion tokens of this step (0 when unknown) */
    double cost;                /* USD, NAN when unknown */
} spak_llm_proposal;

/* One Programming step. tried (n bits of the space) marks evaluated points
 * (and those in flight); base_index is the point whose parameters a code
 * proposal is built with; out_dir receives code files and the manual
 * backend's prompt/reply files; tag names the step ("step-0007").
 * max: how many parameter choices the one reply may give (the free slots
 * of --jobs N; 1: the prompt and the reply of a single choice; code: always
 * one): out[0..*n_out) (room for max) the usable ones, in the reply's
 * order, each with its own prediction and step record (the caller's;
 * out[0]'s is the step, with "choices": what was asked, given, used and
 * dropped and why, e.g. a duplicate); tokens and cost are the step's, in
 * each. None usable: out[0] a failed step. */
spak_status spak_llm_propose(const spak_llm_settings *s, const spak_llm_context *ctx, const spak_space *space,
                             const unsigned char *tried, uint64_t base_index, bool want_code, const char *out_dir,
                             const char *tag, size_t max, spak_llm_proposal *out, size_t *n_out, spak_err *err);

/* What a run's LLM steps used, summed over the steps kept under llm:RUN
 * (the llm strategy keeps one there per Programming step).
 * A step still suspended (waiting for a manual answer) is counted only when
 * with_suspended; cost_unknown when some counted step had no price. */
typedef struct {
    long steps;
    long tokens;
    double cost_usd;
    bool cost_unknown;
} spak_run_llm_usage;
spak_run_llm_usage spak_engine_llm_usage(spak_store *st, const char *run_id, bool with_suspended);

#endif
