/*
 * decl.h - the decl file of a declared kernel (docs/declared-kernels.md,
 * "The decl file"): the spec's `kernel` block (spec/kernel.h) with every
 * expression evaluated for every shape of the problem and the parameters
 * of one point, as JSON ("spak-kernel-decl/1") for the generic judges.
 * spak writes it next to the candidate's .so or .cubin (the evaluation's .lib folder,
 * which the sandbox can read and not write) so that no judge evaluates a
 * user expression.
 */
#ifndef SPAK_DECL_H
#define SPAK_DECL_H

#include <stddef.h>

#include "spec/kernel.h"
#include "spec/space.h"
#include "util.h"

/* The caps a decl file keeps (a judge refuses more): elements of one
 * buffer, and shapes. */
#define SPAK_DECL_MAX_COUNT ((int64_t)1 << 31)
#define SPAK_DECL_MAX_SHAPES 64
/* held-out shapes spak draws at run time for every decl it writes */
#define SPAK_DECL_DRAWN 2

/* What one decl file is made from (all borrowed). */
typedef struct spak_decl_in {
    const spak_kernel_def *k;
    const spak_block *problem;   /* its shapes and heldout lists */
    const spak_space *space;     /* the point's parameters ... */
    const size_t *digits;        /* ... at these digits */
    const char *candidate;       /* the candidate's .so, a CUDA kernel's .cubin (absolute) */
    const char *reference;       /* the reference's, the same way, or NULL: none (untrusted) */
} spak_decl_in;

/* Writes the decl file of in to path (mode 0600: it holds SPAK_DECL_DRAWN
 * held-out shapes drawn now from the OS within the kernel's ranges, marked
 * "drawn", which no candidate may know before its calls). An expression
 * that has no value for a shape (an unknown name, a division by zero, a
 * count below 0 or above the cap) is an error naming the shape and the arg. */
spak_status spak_decl_write(const spak_decl_in *in, const char *path, spak_err *err);

#endif
