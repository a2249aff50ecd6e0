/*
 * model.h - the checked model of a spec: what the checker (check.c) builds
 * from the syntax tree and what the engine, the strategies, the facts (expr.c)
 * and the search space (space.c) read.
 *
 * Kept apart from the checker so that the readers of the model depend on the
 * model only, not on the checker and what it includes (knowledge, the parser).
 *
 * Lifetime: a model and everything it points to (names, values, the syntax
 * tree entries) belong to the spak_spec it came from (spec.h); the lookups
 * return pointers into it, valid until spak_spec_free.
 */
#ifndef SPAK_MODEL_H
#define SPAK_MODEL_H

#include "spec/ast.h"
#include "analyze/trace.h"

/* A named list of candidate values (design_space, tuning_space, or a loop's
 * `parameter P: [...]`). Values are literal expressions: numbers, strings,
 * booleans or bare names. */
typedef struct spak_param_def {
    const char *name;      /* nested maps give dotted names: tile.m */
    spak_expr **values;
    size_t n_values;
    const char *origin;    /* "design_space", "tuning_space" or "parameter" */
    spak_pos pos;
    /* `name: [values] { when: COND }`: the parameter exists only at the
     * points where COND holds over the parameters declared before it (NULL =
     * everywhere); elsewhere it has no value, no -D define, no place in the
     * point's key (space.h) */
    const spak_expr *when;
} spak_param_def;

typedef struct spak_fact_def {
    const char *name;
    spak_pos pos;
    const spak_entry *entry;
    bool predicate;               /* fact f(t: Variant.Case) { ... } */
    const char *param;            /* predicate: the parameter's name */
    const spak_trace_case *tcase; /* predicate: the case it reads */
    const spak_expr *body;        /* predicate: the returned expression (NULL if prose) */
    double confidence;            /* record form: 0..1, or -1 when not given */
} spak_fact_def;

typedef struct spak_rule_action {
    const char *key;       /* apply, recommend, action, suggestion ... */
    const char *text;
    spak_pos pos;
} spak_rule_action;

typedef struct spak_rule_def {
    const char *title;
    spak_pos pos;
    const spak_entry *entry;
    bool is_hint;                /* `hint` (trigger/suggestion) rather than `rule` */
    const char *when_text;       /* as written (when: or trigger:), NULL if absent */
    const spak_expr *when;       /* parsed and typed condition, NULL = prose */
    spak_rule_action *actions;
    size_t n_actions;
    double confidence;           /* -1 when not given */
} spak_rule_def;

typedef enum { SPAK_OBJ_MAXIMIZE, SPAK_OBJ_MINIMIZE } spak_objective;

typedef struct spak_loop_def {
    const char *name;
    spak_pos pos;
    const spak_entry *entry;
    spak_param_def *params;      /* the loop's search space (see check.c) */
    size_t n_params;
    /* the restrictions of design_space and tuning_space (`restrict: [...]`)
     * whose every name is one of params: each point must satisfy them
     * (space.h) */
    const spak_expr *const *restricts;
    size_t n_restricts;
    bool has_measure;
    const char *cmd;             /* measure.cmd with {{P}} templates */
    spak_pos cmd_pos;
    const char *metric;          /* a trace field, e.g. gflops */
    spak_objective objective;
    const char *strategy;        /* grid | random | default | rules | llm */
    long seed;
    long max_evaluations;        /* budget.evaluations, 0 = none */
    double max_wall_s;           /* budget.wall_time_s, 0 = none */
    double max_device_s;         /* budget.device_s: seconds the measure commands ran, 0 = none */
    long max_tokens;             /* budget.tokens: LLM prompt + completion tokens, 0 = none */
    double max_cost_usd;         /* budget.cost_usd: LLM cost, 0 = none */
    double stop_roofline;        /* stop.roofline_fraction: the best reaches this fraction of the roofline, 0 = none */
    unsigned approve;            /* SPAK_GATE_* bits from `approve: ["knowledge", "llm-code"]` */
    const spak_expr *stop_when;  /* stop.when condition, NULL if none */
    long plateau;                /* stop.plateau: evaluations without improvement, 0 = none */
    /* stop.early_stop: a candidate this many times slower than the best so
     * far is stopped by its judge after its first repetitions; 0 = never;
     * unset (early_stop_set false): SPAK_EARLY_STOP_DEFAULT */
    double early_stop;
    bool early_stop_set;
    /* executor: where the measurements run ("local" when NULL, "slurm":
     * analyze/executor.h), and a `slurm { partition, time, account, gpus }`
     * block: the jobs' sbatch options (NULL: the cluster's default) */
    const char *executor;
    struct {
        const char *partition, *time, *account, *gpus;
    } slurm;
    long jobs;                   /* evaluations in flight at once, 0 = unset (1) */
    const char *cpus[64];        /* cpus: ["0-3", "4-7"]: one core set per job, NULL-terminated */
    size_t n_cpus;
} spak_loop_def;

#define SPAK_EARLY_STOP_DEFAULT 10.0

/* Approval gates: the run pauses before these and waits for the supervisor. */
#define SPAK_GATE_KNOWLEDGE 0x1u  /* before writing knowledge (crystallization) */
#define SPAK_GATE_LLM_CODE 0x2u   /* before building and running LLM-written code */

typedef struct spak_model {
    const char *system_name;
    spak_pos system_pos;
    const spak_block *system;
    const spak_block *problem;   /* `problem { ... }` or NULL */
    const struct spak_kernel_def *kernel; /* `kernel NAME { ... }` (spec/kernel.h) or NULL */
    spak_param_def *design;
    size_t n_design;
    spak_param_def *tuning;
    size_t n_tuning;
    /* `restrict: [COND, ...]` of design_space and tuning_space, checked
     * (boolean, over their parameters): the points every loop whose space
     * has their names keeps */
    const spak_expr **restricts;
    size_t n_restricts;
    spak_trace_schema schema;
    spak_fact_def *facts;
    size_t n_facts;
    spak_rule_def *rules;
    size_t n_rules;
    spak_loop_def *loops;
    size_t n_loops;
    const spak_entry **agent_loops;
    size_t n_agent_loops;
    const char **artifacts;
    size_t n_artifacts;
} spak_model;

/* Lookups in the model by name; NULL when absent. The pointer is into m.
 * spak_model_param finds design_space and tuning_space parameters first, then
 * a loop's own `parameter P: [...]`. */
const spak_fact_def *spak_model_fact(const spak_model *m, const char *name);
const spak_param_def *spak_model_param(const spak_model *m, const char *name);
const spak_loop_def *spak_model_loop(const spak_model *m, const char *name);

#endif
