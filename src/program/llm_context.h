/*
 * llm_context.h - what the loop knows now, as the texts of the LLM's
 * prompt (driver_llm.h's spak_llm_context): the task, the ABI header with
 * the headers it includes, the machine and its measured peaks, the space,
 * the starting point's source and measurement, the best candidate's source
 * and the diff of the last one against it, the latest analysis with its
 * intervals and bottleneck numbers, per-shape results with the FLOP count
 * and the tolerance, hardware counters, the compiler's diagnostics and
 * resource report, the rules that fire now and the prose guidance, the
 * lessons of the kernel family with their evidence, the predictions scored
 * against the outcomes, the history. Every text says why when it has
 * nothing to show (context_sections.h). Held-out shapes are counted, never
 * named. The llm strategy, the manual backend's prompt file and the MCP
 * context all read this one builder.
 */
#ifndef SPAK_LLM_CONTEXT_H
#define SPAK_LLM_CONTEXT_H

#include "program/driver_llm.h"
#include "program/strategy.h"

/* The texts behind a spak_llm_context (owned; spak_llm_texts_free). */
typedef struct spak_llm_texts {
    spak_buf task, space, analysis, diag, rules;
    spak_buf machine, start, diff, shapes, counters, predictions;
    char *abi, *best_src;
    char **lessons, **history;
    size_t n_lessons, n_history;
    char abi_symbol[64];
} spak_llm_texts;

/* Fill t and c from the run as the llm strategy sees it (c's strings point
 * into t and run: valid while both are). */
void spak_llm_context_build(const spak_strategy_run *run, spak_llm_texts *t, spak_llm_context *c);
void spak_llm_texts_free(spak_llm_texts *t);

#endif
