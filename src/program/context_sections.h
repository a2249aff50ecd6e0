/*
 * context_sections.h - the texts of the prompt sections that read the
 * run's measurements (llm_context.c builds the rest): the machine, the ABI
 * with the headers it includes, the starting point, the per-shape results
 * with the FLOP count and the tolerance, the analysis with its intervals,
 * the hardware counters, the compiler's diagnostics and resource report,
 * the diff of the last candidate against the best, the predictions scored
 * against the outcomes. Each writes into a buffer that the caller owns and
 * writes a reason ("None: ...", "Not ...") where it has nothing to show.
 * Held-out shapes are counted, never named. Nothing here prints or exits.
 */
#ifndef SPAK_CONTEXT_SECTIONS_H
#define SPAK_CONTEXT_SECTIONS_H

#include <jansson.h>
#include "program/prompt.h"
#include "program/strategy.h"
#include "util.h"

/* The valid records of an evaluation, in order (owned; an empty array when
 * there are none or the store fails). */
json_t *spak_ctx_records(spak_store *st, const char *run_id, int64_t eval_id);
/* The source text an evaluation built (the LLM's file or the template of
 * its point), capped at cap bytes; NULL when it cannot be read. */
char *spak_ctx_eval_source(const spak_strategy_run *e, const spak_eval *ev, size_t cap);
/* The header at path followed by every header it includes with #include
 * "..." (transitively, each once, relative to the including file), each
 * under a comment line naming it; NULL when path cannot be read. */
char *spak_ctx_abi_with_includes(const char *path, size_t cap);

/* Whether the run's design leaves the sections of bit (SPAK_CTX_WITHOUT_*)
 * out of the engineer's context (a run without options: never). */
bool spak_ctx_without(const spak_strategy_run *e, unsigned bit);

void spak_ctx_machine(const spak_strategy_run *e, spak_buf *b);
/* ev[n]: the run's evaluations in eval_id order. */
void spak_ctx_start(const spak_strategy_run *e, const spak_eval *ev, size_t n, spak_buf *b);
void spak_ctx_shapes(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, const spak_eval *best,
                     const json_t *brec, spak_buf *b);
void spak_ctx_analysis(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec,
                       const spak_eval *best, const json_t *brec, spak_buf *b);
void spak_ctx_counters(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, spak_buf *b);
void spak_ctx_diag(const spak_strategy_run *e, const spak_eval *latest, const json_t *lrec, spak_buf *b);
void spak_ctx_diff(const spak_strategy_run *e, const spak_eval *latest, const spak_eval *best, spak_buf *b);
void spak_ctx_predictions(const spak_strategy_run *e, const spak_eval *ev, size_t n, spak_buf *b);

/* A unified diff (3 lines of context) of text a against text b, labelled
 * la and lb, into out; false when they are too large to compare (over
 * SPAK_DIFF_MAX_LINES lines each). Equal texts give an empty diff. */
#define SPAK_DIFF_MAX_LINES 3000

/* The parts of a prompt as JSON (every string copied; context_tokens > 0:
 * the budget the spec's llm block gives, kept beside them), so that a
 * reader builds the same prompt later within a budget of its choosing
 * (spak mcp's spak_context max_tokens): the cuts are spak_prompt_build's. */
json_t *spak_ctx_parts_json(const spak_prompt_parts *p, long context_tokens);
/* The parts back from that JSON: p's strings are borrowed from j; *lists
 * (the lessons' and the history's pointers) is the caller's to free. false
 * when j is not such a document. */
bool spak_ctx_parts_from_json(const json_t *j, spak_prompt_parts *p, const char ***lists);
bool spak_unified_diff(const char *a, const char *b, const char *la, const char *lb, spak_buf *out);

#endif
