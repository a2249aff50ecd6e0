/*
 * kernels/cpu/common/family.h - what a CPU kernel family tells the trusted
 * harness (kernels/cpu/common/judge.c), and the helpers the harness lends it.
 *
 * The judge core knows nothing of matmul or attention: options, input
 * generation, the three checked calls per shape, the interleaved timing, the
 * roofline and the trace records are the same for every family. What differs
 * is in one descriptor per family, kernels/cpu/<family>/family.c:
 *
 *   const cpu_family cpu_family_<name> = { .name = "<name>", ... };
 *
 * the shape syntax, the buffer sizes, the FLOP count, the double-precision
 * reference (the error of an output, and the cheaper check of each timed
 * call), the default shapes and an optional built-in baseline (OpenBLAS for
 * matmul, as a .so). How a kernel is called is in call.c (caller.h): the
 * runner links that and not this. The make fragment of the family
 * (kernels/cpu/<family>/<family>.mk) adds its name to CPU_FAMILIES and its
 * objects to CPU_FAMILY_OBJS; kernels/cpu/cpu.mk generates the table of
 * descriptors and links them all into one binary, spak-harness-cpu, which
 * picks one with --family. Adding a family edits nothing here.
 *
 * Ownership: descriptors are static data; the buffers in a cpu_bufs belong
 * to the core, a family reads them and never frees them.
 */
#ifndef SPAK_CPU_FAMILY_H
#define SPAK_CPU_FAMILY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caller.h"
#include "proto.h"
#include "rng.h"

#define POISON_BITS 0x7fc0deadu /* quiet NaN with a payload: "never written" */

/* a running sum for a relative error: ||out - ref||^2 and ||ref||^2 */
typedef struct cpu_errstat {
    double num, den; /* sum (out-ref)^2, sum ref^2 */
    size_t checked;  /* elements compared exactly */
} cpu_errstat;

typedef struct cpu_family {
    const char *name;   /* the --family value and the records' "family" */
    int order;          /* place in the usage text and messages: 1 matmul, 2 attention, next free */
    const char *symbol; /* the entry point a candidate exports */

    /* shapes: ndims numbers joined by 'x'; a 'c'/'C' suffix (causal) when
     * causal is true, and then --causal applies; the last number at most
     * max_last when max_last > 0 */
    int ndims;
    bool causal;
    long max_last;
    const char *shape_syntax; /* for the bad-shape message: "matmul MxNxK" */
    const char *shape_help;   /* for the usage text: "attention BxHxSxD, suffix c = causal" */
    const char *limit_help;   /* for the bad-shape message: "D <= 256", or NULL */
    const char *default_shapes, *default_heldout;

    /* element counts of the inputs in[0..*nin) and of the output */
    void (*sizes)(const cpu_shape *sh, size_t in[3], int *nin, size_t *out);
    double (*flops)(const cpu_shape *sh);
    /* relative error of b->out against a double reference computed from
     * b->in; sets *method (static text for the record) and *frac_off (the
     * fraction of checked elements far off, > 10 tol). seed drives any sampling. */
    double (*error)(const cpu_shape *sh, const cpu_bufs *b, double tol, uint64_t seed, const char **method,
                    double *frac_off);
    /* the check of one timed call: cheaper than error, and drawn from seed,
     * which the judge takes from its generator AFTER the call returned, so a
     * kernel cannot know which rows or which projection will be checked.
     * Returns a relative error comparable with the tolerance; sets *method. */
    double (*timed_error)(const cpu_shape *sh, const cpu_bufs *b, uint64_t seed, const char **method);

    /* baselines, each a .so run in a runner exactly like a candidate: a
     * built-in one (NULL: none), the default when no --baseline-so is given,
     * with its .so's path relative to the harness's directory; and a name
     * for --baseline that means a .so given with --baseline-so (NULL: none),
     * with a hint for its error */
    const char *builtin_baseline, *builtin_baseline_so;
    const char *named_baseline, *named_baseline_help;
    /* "KEY=VALUE" entries for the built-in baseline's runner environment
     * (NULL-terminated, may be NULL); "{threads}" in a value is the core count */
    const char *const *builtin_baseline_env;
    /* adds the built-in baseline's own fields to a Performance record, from
     * the self-description its runner returned (spak_info's name); may be NULL */
    void (*baseline_describe)(json_t *rec, const char *self_description);

    /* the traffic models of the family's candidates, for the bottleneck
     * class (classify.h): the bytes one call of shape sh moves beyond the
     * private caches (l2: the L2 size in bytes) when the candidate's loops
     * are those of the named model, with its blocking from params
     * ("KEY=VALUE,..." as --traffic gives it; cpu_traffic_param reads it);
     * -1 when the family has no model of that name. A one-line description
     * of the model and the values it used goes into desc. NULL: no models
     * (every class then rests on the compulsory traffic). */
    double (*traffic)(const cpu_shape *sh, const char *model, const char *params, double l2, char *desc,
                      size_t ndesc);
    const char *traffic_models; /* their names, for the usage text: "naive|reorder|..." */

    /* A family described at run time (declared, kernels/cpu/declared/):
     * all NULL/false for the built-in ones. load reads the --decl file
     * (runner_exe: for a reference runner of its own), fills the shapes
     * (d[0] the shape's index) and the tolerance; 0, or 2 with one line in
     * why naming the field it cannot honour. fill writes fresh inputs into
     * an input set (instead of fp32 normals); init_slot readies an output
     * slot before its call from the set's data (instead of poisoning all of
     * it); call_extra completes a CALL message (the entry, the arguments);
     * typed_output: the output words are not all fp32, so the core checks
     * them for poison only (error checks the values by type); bytes: the
     * compulsory bytes of a call (NULL or < 0: from the buffer sizes);
     * record adds fields to every record the judge writes; finish ends what
     * load started. */
    int (*load)(const char *decl, const char *runner_exe, cpu_shape *shapes, int *nshapes, int max, double *tol,
                char *why, size_t nwhy);
    void (*fill)(long shape, float *set, rng *r);
    void (*init_slot)(long shape, const float *set, float *slot);
    void (*call_extra)(long shape, rp_call *c);
    bool typed_output;
    double (*bytes)(const cpu_shape *sh);
    void (*record)(json_t *rec);
    /* the name of the argument at byte offset off of an input set (for
     * "wrote to its read-only argument x"); NULL: none known */
    const char *(*input_name)(long shape, unsigned long long off);
    /* the Correctness records' "check_method" (NULL: the built-in families' text) */
    const char *check_method;
} cpu_family;

/* n normal numbers (mean 0, sd 1, tails cut at +-3.9) from r, fast
 * enough for fresh inputs on every timed call (check.c). */
void cpu_fill_normal(rng *r, float *x, size_t n);

/* Memory aligned to 64 bytes, or the harness exits with status 4 (the
 * judge has nothing to report without it). The caller frees it. */
void *cpu_xmalloc(size_t n);

#endif
