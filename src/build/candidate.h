/*
 * candidate.h - the BUILD step: a point of the space (or an LLM's source)
 * made into a shared object, and the {{names}} its commands see.
 *
 * Templates of a problem (source, baseline_source, the measure cmd) name
 * the candidate's parameters and these builtins:
 *   candidate  the built .so          source    its source file
 *   harness    the target's harness   workdir   the evaluation's directory
 *   ceilings   the device's ceilings  baseline_so  the built baseline
 *   seed, eval_id, run_id, root (the spec's directory), shapes, heldout
 *   decl       a declared kernel's decl file (build/decl.h)
 * harness is the target's judge (spak-harness-TARGET, or
 * spak-harness-TARGET-FAMILY where the problem names a family that has
 * one); for a declared CUDA kernel, spak-judge-cuda.
 * Parameters reach the source as -D defines: numbers and booleans as
 * NAME=value (NAME upper-cased), strings as SPAK_<NAME>_<VALUE>=1.
 */
#ifndef SPAK_CANDIDATE_H
#define SPAK_CANDIDATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "build/build.h"
#include "spec/expr.h"
#include "spec/kernel.h"
#include "spec/space.h"
#include "spec/spec.h"
#include "template.h"

#define SPAK_CAND_DEFINE_MAX 300

/* Where a run's candidates are built (all borrowed, for the run's life). */
typedef struct spak_cand_site {
    const spak_model *m;
    const spak_space *space;
    const char *spec_dir;  /* relative template paths start here */
    const char *home;      /* the state directory: cache/build, runs/RUN/eN */
    const char *run_id;
    const char *spec_path; /* for messages */
} spak_cand_site;

/* The values of one candidate's {{names}}. A builtin left NULL has no
 * value ("template {{x}} has no value here"). The buffers hold the paths
 * spak_cand_prepare fills in. */
typedef struct spak_cand_vars {
    const spak_cand_site *site;
    size_t digits[SPAK_SPACE_MAX_PARAMS];
    const char *candidate, *source, *harness, *workdir, *ceilings, *baseline_so;
    const char *decl; /* a declared kernel's decl file (build/decl.h), else NULL */
    char seed[32], eval_id[32];
    char harness_buf[PATH_MAX], workdir_buf[PATH_MAX], ceilings_buf[PATH_MAX];
    char source_buf[PATH_MAX], artifact_buf[PATH_MAX], base_so_buf[PATH_MAX];
    char decl_buf[PATH_MAX], ref_so_buf[PATH_MAX];
} spak_cand_vars;

/* v for point index of the site: parameters set; candidate, source and
 * baseline_so empty; the other builtins without a value. */
void spak_cand_vars_init(spak_cand_vars *v, const spak_cand_site *site, uint64_t index);

/* Expand template s for this candidate into out[n]. */
spak_status spak_cand_expand(const spak_cand_vars *v, const char *s, char *out, size_t n, spak_err *err);

/* The candidate's parameters as -D defines into defs (dp[i] points at
 * defs[i]); returns how many (at most SPAK_BUILD_MAX_DEFINES). keep_case
 * (a declared kernel's params_as "defines"): numbers keep their names as
 * written (threads=2, not THREADS=2). */
size_t spak_cand_defines(const spak_space *s, const size_t *digits, bool keep_case,
                         char defs[][SPAK_CAND_DEFINE_MAX], const char **dp);

/* A declared kernel's compiler and flags (spec/kernel.h) into rq: a C or
 * C++ kernel's own; a CUDA kernel's with rq->cubin_arch (a cubin for the
 * judge, spak_cand_cuda_arch); nothing without a kernel block. */
void spak_cand_kernel_flags(const spak_model *m, spak_build_request *rq);

/* The architecture a CUDA kernel is built for: the spec's arch, else the
 * GPU of this machine (nvidia-smi's compute capability X.Y as sm_XY, with
 * "a" from 9.0 on: sm_90a on an H100), else SPAK_KERNEL_DEFAULT_ARCH. */
const char *spak_cand_cuda_arch(const spak_kernel_def *k);

/* A compute capability as nvidia-smi prints it ("9.0") as nvcc's
 * architecture into out[n]: sm_XY, with the arch-specific "a" from 9.0 on
 * (sm_90a: wgmma and setmaxnreg exist only there; such a cubin runs on
 * exactly that capability, which is the GPU found). False when cc is not
 * "MAJOR.MINOR". */
bool spak_cand_arch_of_cc(const char *cc, char *out, size_t n);

/* Build the source named by template src_t (relative to the spec's
 * directory) with the defines into the build cache: source[sn] gets its
 * path, artifact[an] the .so when *ok. include_dir NULL = the source's own
 * directory. *log (when log is not NULL) gets the build log (the caller
 * frees it). A failed compile is *ok false and SPAK_OK. */
spak_status spak_cand_build_source(const spak_cand_vars *v, const char *src_t, const char *include_dir,
                                   const char *const *defines, size_t nd, char *source, size_t sn, char *artifact,
                                   size_t an, char **log, bool *ok, spak_err *err);

/* The file behind the problem's source template for a point of the space
 * (for the LLM's prompt). False when there is none. */
bool spak_cand_source_of(const spak_cand_site *site, uint64_t index, char *out, size_t n);

/* A run starts: ask the judges of target to measure the device's ceilings
 * again (the machine's load may have changed since they were cached). Leaves
 * HOME/cache/device/ceilings-TARGET.json.remeasure, which the first judge
 * that measures removes (kernels/cpu/common/ceilings.c). Best effort: a
 * marker that cannot be made leaves the cached ceilings, which a result
 * above their roofline still has measured again. */
void spak_cand_ceilings_expire(const char *home, const char *target);

/* One evaluation's BUILD. */
typedef struct spak_cand_job {
    uint64_t index;
    int64_t eval_id;
    uint64_t seed;            /* the run's: {{seed}} is derived from it and eval_id */
    const char *bin_dir;      /* where the harnesses are */
    const char *target;       /* "cpu", "cuda" */
    const char *code_source;  /* an LLM's source instead of the template's, or NULL */
    const char *workdir_name; /* the entry of the run's folder to work in; NULL: eN (the evaluation's) */
    /* Other evaluations of the run are in flight (--jobs): their entries of
     * the run's folder are theirs, left as they are (spak_cand_close_run
     * closed the folder before any started; each closes its own when it
     * ends, spak_cand_release). */
    bool others_in_flight;
} spak_cand_job;

/* Fill v for the job (paths of harness, workdir, ceilings), make the
 * workdir (fresh, 0700: the sandbox chowns it to its uid) and its .lib
 * folder, build the baseline_source when the problem names one, then the
 * candidate when it names a source; a declared kernel's reference (built
 * like the candidate, cached by content) and its decl file in workdir.lib; {{candidate}} and {{baseline_so}} are
 * copies in workdir.lib (the build cache is closed to the sandbox uid).
 * The run's folder is made 0711 and every other entry of it closed to the
 * sandbox uid (earlier evaluations' directories taken back), the agent's
 * folder excepted. *built false: the candidate did not compile (why says
 * so; *build_log, the caller's, has the log). */
spak_status spak_cand_prepare(spak_cand_vars *v, const spak_cand_job *job, char **build_log, bool *built, char *why,
                              size_t why_n, spak_err *err);

/* Close every entry of the run's folder to the sandbox uid, the agent's
 * folder excepted (what spak_cand_prepare does to the entries other than
 * its own): before evaluations start side by side. */
void spak_cand_close_run(const spak_cand_site *site);

/* Close the evaluation's directories of v (workdir and workdir.lib) to the
 * sandbox uid once its command has ended: taken back by us, mode 0700, so
 * that no later candidate reads what this one left. Call it after the
 * measure command, whatever its outcome. */
void spak_cand_release(const spak_cand_vars *v);

/* The measure command cmd as argv for this candidate: split into words,
 * each word expanded. argv is NULL-terminated; free with spak_cand_argv_free. */
typedef struct spak_cand_argv {
    char *argv[SPAK_TEMPLATE_MAX_WORDS + 1];
    size_t n;
} spak_cand_argv;
spak_status spak_cand_argv_make(const spak_cand_vars *v, const char *cmd, spak_cand_argv *a, spak_err *err);
void spak_cand_argv_free(spak_cand_argv *a);

/* The candidate's parameters as JSON text {"name": value} with sorted keys
 * (malloc'd, the caller frees it), as the store keeps them. */
char *spak_cand_params_json(const spak_space *s, uint64_t index);
/* The value of parameter name at point index as an expression value (for
 * conditions that read the best candidate's parameters). False: no such
 * parameter or point. Strings are borrowed from the spec. */
bool spak_cand_param_value(const spak_space *s, uint64_t index, const char *name, spak_value *out);

/* Called for each candidate spak_cand_build_all built (artifact: the .so
 * when ok). */
typedef void (*spak_cand_built_fn)(void *ud, uint64_t index, const char *key, bool ok, const char *artifact);
/* Build every point of the space into the build cache; counts into *built
 * and *failed. An error (no source in the problem, a build that could not
 * be run) stops it. */
spak_status spak_cand_build_all(const spak_cand_site *site, spak_cand_built_fn on_built, void *ud, size_t *built,
                                size_t *failed, spak_err *err);

#endif
