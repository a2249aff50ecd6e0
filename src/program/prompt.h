/*
 * prompt.h - the Programming step's side of an LLM exchange: build the
 * prompt from the pieces the loop knows, within a context budget, and read
 * the model's reply back as a proposal (code, or a choice of parameters)
 * with the model's prediction.
 *
 * Building. The user message has these sections, in this order:
 *   Task, Kernel ABI (the header and every header it includes), Machine,
 *   Design and tuning space, Starting point, Current best source, Diff of
 *   the last candidate against the best, Latest analysis, Per-shape
 *   results, Hardware counters, Compiler diagnostics and resource report,
 *   Fired rules and facts, Lessons, Predictions against outcomes, History
 *   (what was tried), Reply format.
 * Every section is always there: one with nothing to show says why (the
 * caller's text does; a part left NULL gets a generic "nothing given"), so
 * the model never has to guess whether a section was forgotten.
 * Truncation policy, applied in this order until the estimate fits:
 *   1. history: whole entries dropped, oldest first
 *   2. lessons: whole entries dropped, last (lowest priority) first
 *   3. predictions: cut from the front (the oldest rows), the tail kept
 *   4. diagnostics: cut from the front, the tail kept (the first error is
 *      usually repeated at the end in a summary; the last lines are where
 *      the build or check stopped)
 *   5. hardware counters: cut from the end
 *   6. fired rules and facts: cut from the end
 *   7. diff: the middle cut out, head and tail kept
 *   8. per-shape results: cut from the end
 *   9. latest analysis: cut from the end
 *  10. starting point: the middle cut out
 *  11. machine: cut from the end
 *  12. current best source: the middle cut out, head and tail kept
 * Never cut: the system message, the task statement, the kernel ABI header,
 * the design and tuning space and the reply format. When these alone exceed
 * the budget, spak_prompt_build fails with SPAK_ERR_LIMIT. Every cut is
 * marked in the text ("[... 1234 bytes cut ...]"), said once more in a note
 * before the reply format, and counted in the spak_prompt's report fields.
 * Tokens are estimated as ceil(bytes / 4) (SPAK_PROMPT_BYTES_PER_TOKEN):
 * crude, but the same on every backend and conservative for code.
 *
 * Several choices (n_choices > 1, parameters only): the reply format asks
 * for {"proposals": [{"params": ..., "prediction": ...}, ...]} with up to
 * n_choices entries; spak_reply_parse_choices reads each entry as a reply
 * of its own (a reply with one plain {"params"} object is one choice).
 *
 * Parsing. A reply is either code - the first fenced block tagged c, cuda,
 * cu, c++, cpp, cc, h or untagged - or a JSON object
 *   {"params": {NAME: value ...},
 *    "prediction": {"metric": x, "ratio": r, "why": "..."}}
 * found anywhere in the text (a ```json block first, then any object with
 * "params"), strict on types: values are numbers, strings or booleans, and
 * names must be in the space when the caller gives the names. In the
 * prediction, metric (the expected value of the metric) and ratio (the
 * expected ratio to the baseline, e.g. 1.3) are each optional numbers. A code reply's
 * prediction is the first JSON object outside the code block that has a
 * "prediction" member. Everything else is a distinct outcome: no code block,
 * an unclosed fence (a truncated reply), no JSON, bad params, a refusal, code
 * that lacks the ABI's symbol, an empty or oversized reply.
 *
 * Ownership: spak_prompt and spak_reply own their strings; free them with
 * spak_prompt_free / spak_reply_free. Inputs are only read.
 */
#ifndef SPAK_PROMPT_H
#define SPAK_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include "spak.h"

#define SPAK_PROMPT_BYTES_PER_TOKEN 4
#define SPAK_REPLY_MAX_BYTES (1u << 20)
#define SPAK_REPLY_MAX_PARAMS 64

/* What the prompt asks the model for. */
typedef enum spak_prompt_mode {
    SPAK_PROMPT_CODE,     /* a new kernel source (a new rung) */
    SPAK_PROMPT_PARAMS    /* a choice of design and tuning values */
} spak_prompt_mode;

typedef struct spak_prompt_parts {
    spak_prompt_mode mode;
    const char *language;      /* "c" or "cuda": the fence tag asked for (default "c") */
    const char *task;          /* problem statement: never cut (required) */
    const char *abi_header;    /* the kernel ABI header: never cut */
    const char *abi_symbol;    /* the function a candidate must define, named in the reply format */
    const char *space;         /* design and tuning space, one "name: [values]" per line: never cut */
    const char *machine;       /* CPU or GPU model, ISA or compute capability, caches, cores or SMs, peaks */
    const char *start;         /* the starting point: its source and its measurement */
    const char *best_source;   /* current best candidate's source */
    const char *diff;          /* unified diff of the last candidate against the best */
    const char *analysis;      /* latest analysis: correct or error, ratio and its interval, bottleneck numbers */
    const char *shapes;        /* per-shape results, how FLOPs are counted, the correctness tolerance */
    const char *counters;      /* hardware counters, or why there are none */
    const char *diagnostics;   /* compiler diagnostics, resource report, failed checks of the last candidate */
    const char *rules;         /* fired rules and facts, one per line */
    const char *const *lessons;/* lessons from the store, most important first */
    size_t n_lessons;
    const char *lessons_omitted; /* when set, the Lessons section says this instead (an ablation's why) */
    const char *predictions;   /* the model's earlier predictions against the outcomes, scored */
    const char *const *history;/* what was tried and how it went, oldest first */
    size_t n_history;
    const char *metric;        /* the metric the prediction is about, e.g. "gflops" */
    /* PARAMS: how many choices one reply may give (several evaluations in
     * flight, --jobs N); 0 or 1: one, the reply format of a single choice */
    size_t n_choices;
    const char *in_flight;     /* the points being measured now, or NULL: named in the reply format */
} spak_prompt_parts;

typedef struct spak_prompt {
    char *system;              /* owned */
    char *user;                /* owned */
    size_t est_tokens;         /* estimate for system + user */
    size_t budget_tokens;
    /* what the truncation policy did */
    size_t history_dropped, lessons_dropped;
    size_t diagnostics_cut, rules_cut, analysis_cut, source_cut;  /* bytes */
    size_t predictions_cut, counters_cut, diff_cut, shapes_cut, start_cut, machine_cut;  /* bytes */
    char report[512];          /* one line summary of the cuts ("" when none) */
} spak_prompt;

/* Estimated tokens of n bytes of text. */
size_t spak_prompt_estimate_tokens(size_t bytes);
/* Build system + user messages within budget_tokens (0 = no budget).
 * SPAK_ERR_ARG when task is missing; SPAK_ERR_LIMIT when the parts that are
 * never cut do not fit (err says how many tokens they need). */
spak_status spak_prompt_build(const spak_prompt_parts *parts, size_t budget_tokens, spak_prompt *out, spak_err *err);
void spak_prompt_free(spak_prompt *p);

/* ---- replies ---- */

typedef enum spak_reply_kind {
    SPAK_REPLY_CODE = 0,    /* code extracted */
    SPAK_REPLY_PARAMS,      /* a valid parameter choice */
    SPAK_REPLY_EMPTY,       /* nothing but white space */
    SPAK_REPLY_TOO_LARGE,   /* over SPAK_REPLY_MAX_BYTES */
    SPAK_REPLY_REFUSAL,     /* no code / JSON, and the text reads like a refusal */
    SPAK_REPLY_NO_CODE,     /* code expected, no fenced code block */
    SPAK_REPLY_UNCLOSED,    /* a code fence opened and never closed: the reply was cut */
    SPAK_REPLY_ABI,         /* code that does not define the ABI's symbol */
    SPAK_REPLY_NO_JSON,     /* parameters expected, no JSON object with "params" */
    SPAK_REPLY_BAD_PARAMS   /* a "params" object of the wrong shape, types or names */
} spak_reply_kind;

typedef struct spak_reply_opts {
    spak_prompt_mode expect;
    const char *abi_symbol;             /* NULL: not checked */
    const char *const *param_names;     /* allowed names; NULL: any name */
    size_t n_param_names;
} spak_reply_opts;

typedef struct spak_reply {
    spak_reply_kind kind;
    char *code;                 /* CODE: the block's text (owned) */
    char lang[16];              /* CODE: the fence tag ("" when untagged) */
    char *params_json;          /* PARAMS: {"name": value ...}, compact, keys sorted (owned) */
    size_t n_params;
    bool has_prediction;
    double predicted_metric;    /* NAN unless has_prediction and a number was given */
    double predicted_ratio;     /* the expected ratio to the baseline; NAN unless given */
    char *prediction_why;       /* owned; NULL when absent */
    char detail[256];           /* one line: what was found or what was wrong */
} spak_reply;

/* Parse a model's reply text. Returns SPAK_OK whatever the reply held (the
 * verdict is out->kind); SPAK_ERR_NOMEM only. */
spak_status spak_reply_parse(const char *text, size_t len, const spak_reply_opts *o, spak_reply *out, spak_err *err);
void spak_reply_free(spak_reply *r);

#define SPAK_REPLY_MAX_CHOICES 64
/* A reply to a prompt that asked for up to max choices (parameters): each
 * entry of its "proposals" array (the first max) parsed as spak_reply_parse
 * parses a reply, into out[0..*n); a reply without that array is parsed as
 * one reply (*n 1). An entry of the wrong shape is an out[] whose kind says
 * so. *extra: the entries beyond max (not parsed). SPAK_ERR_NOMEM only. */
spak_status spak_reply_parse_choices(const char *text, size_t len, const spak_reply_opts *o, size_t max,
                                     spak_reply *out, size_t *n, size_t *extra, spak_err *err);
const char *spak_reply_kind_name(spak_reply_kind k);

#endif
