/*
 * check.h - the checker: a parsed file -> the model (model.h), with semantic
 * diagnostics. What each block means is in docs/language.md.
 *
 * Lifetime: everything the model points to is allocated in the arena given
 * or points into the syntax tree; both must outlive the model (spec.c keeps
 * all three in one spak_spec).
 */
#ifndef SPAK_CHECK_H
#define SPAK_CHECK_H

#include "spec/ast.h"
#include "spec/diag.h"
#include "spec/model.h"

/* Check the syntax tree of file and fill *m, which the caller zeroed.
 * Diagnostics (errors and warnings) go to d; the spec is valid when
 * d->n_errors is still 0. Returns SPAK_OK when checking ran to the end,
 * SPAK_ERR_NOMEM when the arena ran out (the model is then partial). */
spak_status spak_check(const spak_file *file, spak_arena *a, spak_diags *d, spak_model *m);

#endif
