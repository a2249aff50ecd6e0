/*
 * spec.h - a loaded spec: its source, syntax tree, diagnostics, and the
 * model the checker builds from the tree (what the engine runs).
 *
 * Lifetime: everything reachable from a spak_spec (tree, model, strings)
 * is owned by it and freed by spak_spec_free.
 */
#ifndef SPAK_SPEC_H
#define SPAK_SPEC_H

#include "spec/ast.h"
#include "spec/diag.h"
#include "spec/model.h"

typedef struct spak_spec spak_spec;

/* Read, parse and check the spec at path. On return *out is set whenever the
 * file could be read (also with errors: diagnostics live in it). Returns
 * SPAK_OK when the spec is valid, SPAK_ERR_SYNTAX / SPAK_ERR_CHECK /
 * SPAK_ERR_LIMIT when it has errors (see spak_spec_diags), SPAK_ERR_IO
 * (with err filled) when it could not be read. */
spak_status spak_spec_load(const char *path, spak_spec **out, spak_err *err);
/* The same from memory (src need not be NUL-terminated; it is copied). */
spak_status spak_spec_load_mem(const char *path, const char *src, size_t len, spak_spec **out, spak_err *err);
void spak_spec_free(spak_spec *s);

/* What `spak check` adds to a load: every source file the space can
 * produce resolved (spec/sources.h), each one that cannot be read an error
 * in the spec's diagnostics. Call it only on a valid spec (SPAK_OK); returns
 * SPAK_OK when every file was found, else SPAK_ERR_CHECK. */
spak_status spak_spec_check_sources(spak_spec *s);

const spak_diags *spak_spec_diags(const spak_spec *s);
const spak_file *spak_spec_file(const spak_spec *s);
/* The model; meaningful only when the load returned SPAK_OK. */
const spak_model *spak_spec_model(const spak_spec *s);
const char *spak_spec_source(const spak_spec *s, size_t *len);
spak_arena *spak_spec_arena(spak_spec *s);

#endif
