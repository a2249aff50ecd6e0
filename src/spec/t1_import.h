/*
 * t1_import.h - a spec that imports a T1 file through its front matter
 * (`t1: "FILE.json"`): its tuning_space replaces the values of the T1
 * parameters it names (before Sizes are evaluated), its other entries are
 * merged into the translation by their words (docs/t1.md, "A spec that
 * imports a T1 file").
 */
#ifndef SPAK_T1_IMPORT_H
#define SPAK_T1_IMPORT_H

#include "spec/ast.h"
#include "spec/diag.h"
#include "util.h"

/* The merged spec text of importer (parsed from path; t1_rel is its `t1:`
 * value, relative to path's folder unless absolute) into out. Nodes live
 * in a. Errors go to d (the T1 reader's with their place in the JSON in the
 * message): SPAK_ERR_CHECK then; SPAK_ERR_NOMEM. */
spak_status spak_t1_import(const char *path, const spak_file *importer, const char *t1_rel, spak_arena *a,
                           spak_diags *d, spak_buf *out);

#endif
