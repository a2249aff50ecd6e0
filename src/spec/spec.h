/*
 * spec.h - a loaded spec: its source, syntax tree, diagnostics, and the
 * model the checker builds from the tree (what the engine runs).
 *
 * Lifetime: everything reachable from a spak_spec (tree, model, strings)
 * is owned by it and freed by spak_spec_free.
 */
#ifndef SPAK_SPEC_H
#define SPAK_SPEC_H

#include <stdbool.h>
#include <stddef.h>

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
/* spak_spec_load reads two kinds of file as the spec they stand for (docs/t1.md):
 * a T1 tuning file (a path ending in .json: its translation, spec/t1.h) and a
 * spec whose front matter names one (`t1: "FILE.json"`: the translation with
 * that spec's entries merged in, spec/t1_import.h). The spec's source is then
 * the generated text (what a run stores). spak_spec_load_source reads the
 * file as written, never a translation: what `spak fmt` and `spak dump` print. */
spak_status spak_spec_load_source(const char *path, spak_spec **out, spak_err *err);
/* spak_spec_load with a T1 file's parameter values replaced first (n sets,
 * spec/t1.h; `--set NAME=VALUES`); sets given for a path that is not a T1
 * file (.json) are an error (SPAK_ERR_ARG). */
struct spak_t1_set;
spak_status spak_spec_load_sets(const char *path, const struct spak_t1_set *sets, size_t n, spak_spec **out,
                                spak_err *err);
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

/* The folder a spec's relative paths start from (a source template, a
 * price table, the build's files), into out[n]: the front matter's line
 * `base: "DIR"` when it has one (DIR relative to the spec's own folder
 * unless absolute), else the folder of path, the spec's file; made real
 * (realpath) when it exists. The v(n+1) that `spak learn` writes into a
 * run's folder names the original's folder so (docs/language.md 2.2).
 * fm: the front matter text (spak_file.front_matter), may be NULL. */
void spak_spec_base_dir(const char *fm, const char *path, char *out, size_t n);
/* The value of the front matter's `base:` line (quotes taken off) into
 * out[n]; false when it has none. */
bool spak_spec_front_base(const char *fm, char *out, size_t n);

#endif
