/*
 * llm_context.h - what the loop knows now, as the texts of the LLM's
 * prompt (driver_llm.h's spak_llm_context): the task, the space, the ABI
 * header, the best candidate's source, the history, the latest analysis
 * and its diagnostics, the rules that fire now and the prose guidance, the
 * lessons of the kernel family. Held-out shapes stay out of it.
 */
#ifndef SPAK_LLM_CONTEXT_H
#define SPAK_LLM_CONTEXT_H

#include "build/candidate.h"
#include "program/driver_llm.h"
#include "spec/expr.h"
#include "store/store.h"

/* The run as the prompt sees it (all borrowed). */
typedef struct spak_llm_view {
    const spak_model *m;
    const spak_loop_def *loop;
    const spak_space *space;
    const spak_cand_site *site;
    spak_store *store;
    const char *run_id;
    const char *target;
    int64_t best_eval_id;      /* 0: none yet */
    uint64_t best_index;
    const char *best_key;
    double best_metric, best_ratio;
    const spak_eval_env *env;  /* for the rules' conditions */
} spak_llm_view;

/* The texts behind a spak_llm_context (owned; spak_llm_texts_free). */
typedef struct spak_llm_texts {
    spak_buf task, space, analysis, diag, rules;
    char *abi, *best_src;
    char **lessons, **history;
    size_t n_lessons, n_history;
    char abi_symbol[64];
} spak_llm_texts;

/* Fill t and c (c's strings point into t and v: valid while both are). */
void spak_llm_context_build(const spak_llm_view *v, spak_llm_texts *t, spak_llm_context *c);
void spak_llm_texts_free(spak_llm_texts *t);

#endif
