/*
 * kernel.h - a kernel declared in the spec (`kernel NAME { ... }`, issue 17,
 * docs/declared-kernels.md): the checked model of the block, and the integer
 * expressions of its sizes (counts, scalar values, grid, block, flops, bytes)
 * evaluated for one shape and one point.
 *
 * The checker (check.c) calls spak_kernel_check once per system; the BUILD
 * step (build/decl.c) evaluates the expressions for every shape and writes
 * the decl file a generic judge reads, so no trusted judge ever evaluates a
 * user expression.
 *
 * Ownership: everything lives in the spec's arena; expressions point into
 * the syntax tree.
 */
#ifndef SPAK_KERNEL_H
#define SPAK_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "spec/ast.h"
#include "spec/diag.h"
#include "util.h"

#define SPAK_KERNEL_MAX_ARGS 16
#define SPAK_KERNEL_MAX_SIZES 8
#define SPAK_KERNEL_MAX_FLAGS 24

/* The measure command of a loop that names none when the spec declares a
 * kernel: the generic judge of the target with the decl file. */
#define SPAK_KERNEL_DEFAULT_CMD \
    "{{harness}} --family declared --decl {{decl}} --candidate {{candidate}} --min-time 0.2 --ceilings-cache {{ceilings}}"
/* The same for a CUDA kernel: {{harness}} is then spak-judge-cuda (the
 * generic CUDA judge, candidate.c), with the GEMM loop's options that apply
 * to it (the judge draws its own seed and ignores --seed). */
#define SPAK_KERNEL_DEFAULT_CMD_CUDA \
    "{{harness}} --decl {{decl}} --candidate {{candidate}} --seed {{seed}} --reps 30 --ceilings-cache {{ceilings}}"
/* The GPU architecture a CUDA kernel is built for when neither the spec
 * (arch:) nor a detected GPU says (nvcc -cubin -arch=...). */
#define SPAK_KERNEL_DEFAULT_ARCH "sm_90a"

typedef struct spak_kernel_arg {
    const char *name;
    spak_pos pos;
    const char *type;         /* f16 bf16 f32 f64 i8 i32 i64 u8 u32 */
    bool scalar;              /* `value:` given: passed by value */
    bool real_value;          /* a float scalar's value is the number fvalue (value: 1e-5) */
    double fvalue;
    const spak_expr *count;   /* a buffer's element count */
    const spak_expr *value;   /* a scalar's value */
    const char *fill;         /* normal uniform constant index zero (buffers; default normal/zero) */
    double fill_args[2];
    int n_fill_args;
    const char *access;       /* read write readwrite */
    bool output;
    double tolerance;         /* set when output */
    /* memory: "constant" (CUDA, a read buffer): the judge also copies the
     * argument's data into the module's __constant__ symbol of its name
     * before every call, as Kernel Tuner's cmem_args (false: "global") */
    bool constant;
} spak_kernel_arg;

/* The sizes a held-out shape drawn at run time may take for one size of
 * the kernel: min, min + step, ... up to max (`range NAME { min, max, step }`;
 * docs/language.md 4.10a). max 0: the largest value any listed shape gives
 * the size. Without a range: 1 .. that largest value, step 1. */
typedef struct spak_kernel_range {
    bool set;
    int64_t min, max, step;
    spak_pos pos;
} spak_kernel_range;

typedef struct spak_kernel_def {
    const char *name;
    spak_pos pos;
    const char *language;     /* c c++ cuda */
    const char *compiler;     /* NULL: the language's default */
    const char *flags[SPAK_KERNEL_MAX_FLAGS];
    size_t n_flags;
    bool has_flags;           /* flags given (else the build's own) */
    const char *entry;
    const char *params_as;    /* defines template wrapper */
    const char *arch;         /* CUDA: "sm_90a" (arch:), NULL: the detected GPU's */
    bool extern_c;            /* CUDA: the sources built inside extern "C" { } (extern_c: true) */
    const char *sizes[SPAK_KERNEL_MAX_SIZES];
    size_t n_sizes;
    spak_kernel_range ranges[SPAK_KERNEL_MAX_SIZES]; /* by the size's index in sizes */
    const spak_expr *grid[3], *block[3], *shared_bytes; /* CUDA only; NULL: absent */
    const spak_expr *flops, *bytes;                     /* NULL: unknown */
    spak_kernel_arg args[SPAK_KERNEL_MAX_ARGS];
    size_t n_args;
    const char *ref_source;   /* reference { source, entry } */
    const char *ref_entry;
    const char *ref_library;  /* reference { library } */
    /* CUDA: the reference's own launch (reference { grid, block,
     * shared_bytes }); NULL: the candidate's */
    const spak_expr *ref_grid[3], *ref_block[3], *ref_shared_bytes;
    spak_pos ref_pos;
} spak_kernel_def;

/* What names an expression may use besides the sizes: the parameters of
 * the design and tuning spaces (names[0..n)). */
typedef struct spak_kernel_names {
    const char *const *params;
    size_t n_params;
} spak_kernel_names;

/* Checks the kernel block e (`kernel NAME { ... }`) into *out (in the arena
 * a), every finding in d with its line and column: an unknown key (with
 * "did you mean"), a bad type, fill, access or language, an expression that
 * names an unknown size or parameter or uses an operator outside + - * / %
 * and min/max/ceil_div, an output without tolerance, a CUDA-only key on a C
 * kernel, and a warning when there is no reference. target is the
 * problem's ("cpu", "cuda" or NULL). Returns false when out of memory. */
bool spak_kernel_check(const spak_entry *e, const spak_kernel_names *names, const char *target, spak_arena *a,
                       spak_diags *d, spak_kernel_def *out);

/* Checks problem.shapes / problem.heldout when a kernel block is present:
 * each a string "name=value,..." giving every size of k exactly once, each
 * a positive whole number; shapes must be there. */
void spak_kernel_check_shapes(const spak_kernel_def *k, const spak_block *problem, spak_diags *d);

/* The range held-out shapes are drawn from for size i of k (k->ranges[i]
 * when the spec gives one, else 1 .. 0 step 1), max 0 resolved to
 * listed_max (the largest value of the size in the problem's shapes and
 * heldout lists). */
void spak_kernel_range_of(const spak_kernel_def *k, size_t i, int64_t listed_max, int64_t *min, int64_t *max,
                          int64_t *step);

/* The value of a size or parameter name (false: unknown or not a whole number). */
typedef bool (*spak_kernel_lookup)(void *ud, const char *name, int64_t *out);

/* Evaluates integer expression e (whole numbers, + - * / %, unary -,
 * parentheses, min/max/ceil_div; / truncates and % is C's). On failure
 * returns false with why[n] naming the expression's problem (an unknown
 * name, a division by zero, an overflow). */
bool spak_kernel_eval(const spak_expr *e, spak_kernel_lookup look, void *ud, int64_t *out, char *why, size_t n);

/* Parses one shape string "rows=4096,cols=1024" into values[] in the order
 * of k's sizes. False with why[n] when it is not one. */
bool spak_kernel_shape(const spak_kernel_def *k, const char *s, int64_t values[SPAK_KERNEL_MAX_SIZES], char *why,
                       size_t n);

/* The element size in bytes of a type name, 0 when it is none. */
int spak_kernel_type_size(const char *type);

/* Whether an expression of k (a count, a scalar's value, the grid, block
 * or shared memory of the candidate or the reference, flops, bytes) names
 * name: a parameter so named reaches the candidate through the decl file
 * whatever its source does with it (build/reach.h). */
bool spak_kernel_names_param(const spak_kernel_def *k, const char *name);

/* Whether s is a GPU architecture nvcc takes as -arch=s for a cubin:
 * "sm_" then digits, then at most one letter ("sm_90a", "sm_80"). */
bool spak_kernel_arch_ok(const char *s);

#endif
