/*
 * llm_context.h - what the loop knows now, as the texts of the LLM's
 * prompt (driver_llm.h's spak_llm_context): the task, the space, the ABI
 * header, the best candidate's source, the history, the latest analysis
 * and its diagnostics, the rules that fire now and the prose guidance, the
 * lessons of the kernel family. Held-out shapes stay out of it.
 */
#ifndef SPAK_LLM_CONTEXT_H
#define SPAK_LLM_CONTEXT_H

#include "program/driver_llm.h"
#include "program/strategy.h"

/* The texts behind a spak_llm_context (owned; spak_llm_texts_free). */
typedef struct spak_llm_texts {
    spak_buf task, space, analysis, diag, rules;
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
