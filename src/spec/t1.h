/*
 * t1.h - the T1 tuning format (Kernel Tuner's input JSON) read as a spec:
 * a T1 file is translated into spak's `kernel` block syntax (docs/t1.md,
 * /work/briefs/kdecl.md seam 1) and then loaded as any spec is.
 *
 * What is read: KernelSpecification (Language CUDA, CompilerOptions,
 * KernelName, KernelFile, ProblemSize, GridDivX/Y/Z, SharedMemory,
 * Arguments with Type, Size, FillType, FillValue, AccessType, Output,
 * MemoryType Vector/Scalar, MemType Constant) and ConfigurationSpace
 * (TuningParameters with Values as Python expressions, Conditions). Python
 * expressions go through spak's own evaluator (spec/pyexpr.h). The grid
 * follows Kernel Tuner's rules: grid[i] = ceil(ProblemSize[i] / product of
 * GridDiv[i]) (no GridDiv: the block_size_* parameter of that dimension,
 * else 1), block = (block_size_x, block_size_y, block_size_z), 256, 1, 1
 * where a name is not a parameter. What is refused is an error naming the
 * field (file:line:col in the JSON); what is ignored is a note.
 */
#ifndef SPAK_T1_H
#define SPAK_T1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/diag.h"
#include "spec/pyexpr.h"
#include "util.h"

#define SPAK_T1_MAX_BYTES (16u << 20)
#define SPAK_T1_MAX_PARAMS 256
#define SPAK_T1_MAX_ARGS 256
/* Kernel Tuner drops points whose block has more threads than the device
 * allows: 1024 on every CUDA GPU since compute capability 2.0. */
#define SPAK_T1_MAX_THREADS 1024

typedef struct spak_t1 spak_t1;

/* One parameter override: name=VALUES, VALUES a Python expression (a
 * list, or one value). */
typedef struct spak_t1_set {
    const char *name;
    const char *values;
} spak_t1_set;

/* Read the T1 text (len bytes) of the file path; sets (n_sets of them,
 * may be NULL) replace the values of the parameters they name before
 * anything is evaluated. On success *out is the file, read (free with
 * spak_t1_free). Errors, and warnings for what is ignored, go to msgs
 * (a list for the file path, positions in the JSON text); returns
 * SPAK_ERR_SYNTAX when the file is not JSON, SPAK_ERR_CHECK when it has
 * errors (then *out is NULL), SPAK_ERR_NOMEM. */
spak_status spak_t1_read(const char *path, const char *text, size_t len, const spak_t1_set *sets, size_t n_sets,
                         spak_t1 **out, spak_diags *msgs);
void spak_t1_free(spak_t1 *t);

/* The spec text of t (the `kernel` block syntax) into out; errors (a
 * Python expression with no spak translation) to msgs as for read:
 * SPAK_ERR_CHECK then. */
spak_status spak_t1_translate(spak_t1 *t, spak_buf *out, spak_diags *msgs);

/* One point of the space, with its launch geometry by Kernel Tuner's rules. */
typedef struct spak_t1_point {
    size_t n;                    /* parameters, in the file's order */
    const char *const *names;
    const spak_py_val *values;
    int64_t grid[3], block[3];
} spak_t1_point;

/* Call fn for every point of t's space that satisfies every condition, in
 * the order of Kernel Tuner's itertools.product (the last parameter
 * varies fastest), and whose block has at most SPAK_T1_MAX_THREADS threads; stops when fn returns false. *count gets the number of
 * points. A condition or divisor that cannot be evaluated at a point is an
 * error naming the point (SPAK_ERR_EVAL with err). */
spak_status spak_t1_points(const spak_t1 *t, bool (*fn)(void *ud, const spak_t1_point *p), void *ud,
                           uint64_t *count, spak_err *err);

/* Whether t has a tuning parameter of that name. */
bool spak_t1_has_param(const spak_t1 *t, const char *name);

/* Whether path names a T1 file by its name (ends in .json). */
bool spak_t1_is_path(const char *path);

#endif
