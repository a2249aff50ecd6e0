/*
 * sources.h - the source files a spec's space can produce, resolved when the
 * spec is checked (`spak check`), so that a spec copied away from its
 * kernels fails there, naming the file and the point that needs it, and not
 * in the middle of a run (docs/language.md 6.4).
 *
 * Not part of spak_spec_load: a stored run's spec is loaded again by resume,
 * report and learn, where its sources may long be gone and nothing is built.
 */
#ifndef SPAK_SOURCES_H
#define SPAK_SOURCES_H

#include "spec/diag.h"
#include "spec/model.h"

/* For problem.source and problem.baseline_source: each expanded at every
 * point of every loop's space (of design_space x tuning_space when the spec
 * has no loop), relative to base_dir (the front matter's `base:` folder, as a
 * run resolves it), or when base_dir is NULL to the directory of spec_path
 * (kept as written, so messages name the path the user gave); a file that cannot
 * be read is an error at the template, naming the file, the first point that
 * needs it and why. A template that names a builtin other than {{root}}
 * has no value before a run and is not resolved. Returns how many errors
 * it added. */
size_t spak_check_sources(const spak_model *m, const char *spec_path, const char *base_dir, spak_diags *d);

#endif
