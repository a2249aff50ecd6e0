/*
 * pyexpr.h - a subset of Python expressions, parsed and evaluated by spak's
 * own code (no Python at run time), for the T1 tuning format (spec/t1.h),
 * whose parameter values, sizes and conditions are Python expression strings.
 *
 * The subset (docs/t1.md): integers, floats, strings ('..' or ".."), True,
 * False, lists; names bound by the caller; arithmetic + - * / // % ** and
 * unary + -; comparisons < <= > >= == != in, not in (chains such as
 * a < b < c too); and, or, not; subscripts list[i]; list comprehensions
 * [E for N in ITER if COND] (one `for`, any number of `if`s) over range(...)
 * or a list; calls range(), max(), min() (of a list, a parameter's values,
 * or of two or more numbers), int(), len(), abs(), list(). Everything else (lambda,
 * conditional expressions, tuples, dicts, sets, attributes, slices, bitwise
 * operators, keyword arguments, other functions, nested `for`) is refused
 * with a message that names the construct and its column.
 *
 * Semantics are Python's: / divides into a float, // and % floor (the sign
 * of % follows the divisor), ** of integers is an integer, and/or give one
 * of their operands, bool is an integer where arithmetic needs one.
 * Integers are 64-bit: an overflow is an error, not a wrap. Evaluation never
 * crashes: errors carry the column (0-based byte offset into the text).
 *
 * Lifetime: nodes and values live in the caller's arena.
 */
#ifndef SPAK_PYEXPR_H
#define SPAK_PYEXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Caps on outside input: the text, the depth of nesting, the length of a
 * list built by range() or a comprehension, and the steps of one evaluation. */
#define SPAK_PY_MAX_TEXT 65536
#define SPAK_PY_MAX_DEPTH 100
#define SPAK_PY_MAX_LIST 1000000
#define SPAK_PY_MAX_STEPS 10000000

typedef enum { SPAK_PY_INT, SPAK_PY_FLOAT, SPAK_PY_BOOL, SPAK_PY_STR, SPAK_PY_LIST } spak_py_kind;

typedef struct spak_py_val {
    spak_py_kind kind;
    int64_t i;                   /* INT, BOOL (0 or 1) */
    double f;                    /* FLOAT */
    const char *s;               /* STR (NUL-terminated; no NUL inside) */
    struct spak_py_val *items;   /* LIST */
    size_t n;
} spak_py_val;

typedef enum {
    SPAK_PN_NUM, SPAK_PN_STR, SPAK_PN_NAME, SPAK_PN_LIST, SPAK_PN_COMP, SPAK_PN_CALL, SPAK_PN_UNARY,
    SPAK_PN_BINOP, SPAK_PN_CMP, SPAK_PN_AND, SPAK_PN_OR, SPAK_PN_NOT, SPAK_PN_INDEX
} spak_pn_kind;

typedef enum {
    SPAK_PO_ADD, SPAK_PO_SUB, SPAK_PO_MUL, SPAK_PO_DIV, SPAK_PO_FLOORDIV, SPAK_PO_MOD, SPAK_PO_POW,
    SPAK_PO_NEG, SPAK_PO_POS,
    SPAK_PO_LT, SPAK_PO_LE, SPAK_PO_GT, SPAK_PO_GE, SPAK_PO_EQ, SPAK_PO_NE, SPAK_PO_IN, SPAK_PO_NOTIN
} spak_po;

typedef struct spak_pnode {
    spak_pn_kind kind;
    size_t pos;                  /* byte offset of the node in the text */
    spak_py_val lit;             /* NUM, STR */
    const char *name;            /* NAME, CALL (the function), COMP (the loop variable) */
    spak_po op;                  /* UNARY, BINOP; CMP: ops[] */
    spak_po *ops;                /* CMP: n - 1 operators between n operands */
    struct spak_pnode **kids;    /* operands, list items, call arguments; COMP: [elt, iter, conds...] */
    size_t n;
} spak_pnode;

/* Where names get their values: return true with *out set, false for a
 * name that means nothing here (an error naming it). */
typedef bool (*spak_py_lookup)(void *ud, const char *name, spak_py_val *out);

/* Parse text (len bytes) into *out. On failure returns SPAK_ERR_SYNTAX with
 * err saying what and *errpos the offset where. */
spak_status spak_py_parse(const char *text, size_t len, spak_arena *a, spak_pnode **out, size_t *errpos,
                          spak_err *err);

/* Evaluate n with names from lookup (may be NULL: no names). Values it
 * builds live in a. SPAK_ERR_EVAL with err and *errpos on any failure. */
spak_status spak_py_eval(const spak_pnode *n, spak_py_lookup lookup, void *ud, spak_arena *a, spak_py_val *out,
                         size_t *errpos, spak_err *err);

/* Python's truth value of v. */
bool spak_py_truthy(const spak_py_val *v);
/* v as an integer: INT, BOOL, or a FLOAT with an integral value; false otherwise. */
bool spak_py_as_int(const spak_py_val *v, int64_t *out);
/* v as a number (INT, BOOL, FLOAT); false otherwise. */
bool spak_py_as_num(const spak_py_val *v, double *out);
/* v printed as Python's repr would (lists bracketed, strings quoted) into b. */
spak_status spak_py_print(const spak_py_val *v, spak_buf *b);
/* "int", "float", "bool", "str" or "list". */
const char *spak_py_kind_name(spak_py_kind k);

#endif
