/*
 * expr.h - expressions of the spec (fact bodies, `if` and `when`
 * conditions): static types against the trace_schema, and evaluation by C
 * code against trace records (Jansson objects).
 *
 * Names an expression may use:
 *   t.field            the record bound to a fact's parameter (t: Variant.Case)
 *   trace.latest       the latest record (of the fact's case when passed to one)
 *   trace.best         the best record so far (by the loop's metric)
 *   trace.latest.f     a field of those records
 *   fact_name(REC)     a predicate fact applied to a record
 *   fact_name          the fact applied to trace.latest of its case
 *   P                  a design / tuning / loop parameter, in rule conditions:
 *                      its value in the best candidate so far
 * Operators: ! - * / % + - < <= > >= == != && || ; parentheses.
 * A measured field with an interval ("ratio" beside "ratio_ci": [lo, hi])
 * is an interval: arithmetic carries it, an order comparison holds only
 * when it holds for every value of the interval (spak_value.ci).
 *
 * Evaluation never crashes: a type error, a missing field, a division by
 * zero or an absent record gives SPAK_ERR_EVAL and a message.
 */
#ifndef SPAK_EXPR_H
#define SPAK_EXPR_H

#include "spec/diag.h"
#include "spec/model.h"

typedef enum { SPAK_TY_ANY, SPAK_TY_NUM, SPAK_TY_STR, SPAK_TY_BOOL, SPAK_TY_RECORD } spak_type_kind;

typedef struct spak_type {
    spak_type_kind kind;
    const spak_trace_case *tcase;    /* RECORD: its case, NULL = any case */
    const spak_trace_field *field;   /* the field it came from (enum values), or NULL */
    const spak_param_def *param;     /* the parameter it names (its values), or NULL */
} spak_type;

/* What names mean while checking one expression. */
typedef struct spak_type_scope {
    const spak_model *model;
    const char *record_name;             /* a fact's parameter name, or NULL */
    const spak_trace_case *record_case;
    bool allow_params;                   /* design/tuning/loop parameters are visible */
} spak_type_scope;

typedef enum {
    SPAK_TC_OK,
    SPAK_TC_TYPE_ERROR,    /* uses known names wrongly (reported when report is true) */
    SPAK_TC_UNKNOWN_NAME   /* refers to a name that means nothing here */
} spak_tc_result;

/* Type e in scope. Errors go to diags when report is true; *first_unknown
 * (if not NULL) receives the first unknown name. */
spak_tc_result spak_expr_typecheck(const spak_expr *e, const spak_type_scope *sc, spak_type *out, spak_diags *diags,
                                   bool report, const char **first_unknown);
/* The known name an unknown one in scope most likely misspells (a fact or,
 * when visible, a parameter; for a dotted name a trace field), or NULL
 * (spec/suggest.h says how close is close). */
const char *spak_expr_suggest(const spak_type_scope *sc, const char *name);

typedef enum { SPAK_VAL_NUM, SPAK_VAL_STR, SPAK_VAL_BOOL, SPAK_VAL_RECORD } spak_val_kind;

typedef struct spak_value {
    spak_val_kind kind;
    double num;
    /* a measured number's interval (NUM only; ci false: a plain number, lo =
     * hi = num): a field f of a record that also carries "f_ci": [lo, hi].
     * Comparisons hold only when they hold for the whole interval: x >= c
     * when lo >= c, x < c when hi < c; so while an interval straddles c,
     * neither x >= c nor x < c holds (docs/language.md, "Intervals"). */
    bool ci;
    double lo, hi;
    const char *str;          /* borrowed (tree or record) */
    bool b;
    const json_t *rec;        /* borrowed */
} spak_value;

/* Where evaluation finds records and parameter values. Callbacks may be NULL
 * (then those names have no value and evaluation reports it). */
typedef struct spak_eval_env {
    const spak_model *model;
    const json_t *(*latest)(void *ud, const char *case_name); /* case_name NULL = any */
    const json_t *(*best)(void *ud, const char *case_name);
    bool (*param)(void *ud, const char *name, spak_value *out);
    void *ud;
    /* optional: every record of the newest / best evaluation (a JSON array);
     * given, a fact applied to trace.latest / trace.best must hold for each
     * record of its case */
    const json_t *(*latest_all)(void *ud);
    const json_t *(*best_all)(void *ud);
} spak_eval_env;

/* Evaluate e. On failure returns SPAK_ERR_EVAL and writes why into err. */
spak_status spak_expr_eval(const spak_expr *e, const spak_eval_env *env, spak_value *out, spak_err *err);
/* Evaluate a predicate fact on rec (NULL = the latest evaluation, as the
 * fact's name alone: every record of its case when env->latest_all is given). */
spak_status spak_eval_fact(const spak_fact_def *f, const json_t *rec, const spak_eval_env *env, spak_value *out,
                           spak_err *err);
/* Evaluate a condition to a boolean. */
spak_status spak_eval_bool(const spak_expr *e, const spak_eval_env *env, bool *out, spak_err *err);

#endif
