/*
 * reach.h - does a parameter reach the candidate at all? (BUILD)
 *
 * A parameter reaches a point's candidate through a template that names it
 * ({{P}} in the problem's source or baseline_source, or a loop's measure
 * cmd), through a declared kernel's expressions (its grid, block, counts:
 * the decl file carries their values), through the conditions of other parameters (changing it changes
 * which exist), or through the source: spak preprocesses the point's source
 * in the build's sandbox (build.h, spak_build_preprocess) with the point's
 * defines and again with P at each of its other values (the others fixed);
 * when every output is the same text (line markers and blank lines aside),
 * P cannot act there: the naive matmul rung compiles to the same program
 * whatever tile_k is. Lessons and the rules strategy then treat P at that
 * point as they treat a parameter whose `when:` condition is false
 * (docs/knowledge.md, "Where a parameter acts").
 *
 * Verdicts are cached under HOME/cache/reach, one file per (point, P), keyed
 * like the build cache by what the preprocessor could read: the defines
 * compared, the source's bytes, every file beneath its folder and the
 * family's common folder beside it, and the compiler driver's bytes. A
 * preprocessor that fails on any of the texts leaves P reaching (unknown is
 * never "cannot act") and nothing cached.
 */
#ifndef SPAK_REACH_H
#define SPAK_REACH_H

#include <stdbool.h>
#include "build/candidate.h"

/* For the point of v (its source v->source built by spak_cand_prepare),
 * the names of the parameters that exist there but do not reach its
 * candidate, comma-separated into out[n] ("" when every one reaches).
 * Fails (out "") when the problem has no source template, v has no source,
 * or the preprocessor could not be run. */
spak_status spak_reach_unreached(const spak_cand_vars *v, char *out, size_t n, spak_err *err);

#endif
