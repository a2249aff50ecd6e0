/*
 * build.h - the BUILD step: candidate source + parameter values -> shared
 * object, with a cache keyed by everything the build could read (build_key.h:
 * the preprocessor's dependency list and every file beneath the source's
 * folder), the flags and defines, and the compiler's version.
 *
 * C sources are built with `cc -O3 -march=native -fPIC -shared`; .cu sources
 * with nvcc for sm_90a (-gencode arch=compute_90a,code=sm_90a; when nvcc
 * exists); a declared CUDA kernel (cubin_arch) with `nvcc -cubin -arch=ARCH`
 * into KEY.cubin, device code only, which spak-judge-cuda loads. The source is untrusted (an LLM's or a user's): the compiler runs
 * in the sandbox like a candidate (every isolation layer, the unprivileged
 * uid when spak is root, no shell), writing only into a fresh folder of its
 * own in /tmp, from which spak copies the artifact into the cache and which
 * it removes afterwards. What the compiler reads is what that uid may read:
 * a root-only file cannot be #included or .incbin'd into a log or a .so.
 * Its diagnostics are kept next to the artifact. See docs/sandbox.md,
 * "Builds".
 */
#ifndef SPAK_BUILD_H
#define SPAK_BUILD_H

#include <stdbool.h>
#include <stdint.h>
#include "util.h"

#define SPAK_BUILD_MAX_DEFINES 64

typedef struct spak_build_request {
    const char *source;                  /* path of the .c or .cu file */
    const char *defines[SPAK_BUILD_MAX_DEFINES]; /* "NAME=VALUE" */
    size_t n_defines;
    const char *include_dir;             /* -I for the family's ABI header, or NULL */
    const char *cache_dir;               /* artifacts go to cache_dir/<key>.so */
    bool copy_source;                    /* the source lies where the sandbox uid
                                            cannot read it (spak's home, for an
                                            LLM's source): build a copy */
    /* a declared kernel's own compiler and flags (spec/kernel.h): NULL /
     * none: the language's defaults. Given flags replace the optimisation
     * and language flags; -fPIC -shared stay (a .so is what judges load) */
    const char *compiler;
    const char *const *flags;
    size_t n_flags;
    /* a declared CUDA kernel: a cubin for this architecture ("sm_90a"),
     * `nvcc -cubin -arch=ARCH FLAGS` (FLAGS: the kernel's, else -O3
     * -lineinfo), the artifact KEY.cubin; NULL: a shared object */
    const char *cubin_arch;
    /* compile the source inside extern "C" { } (a declared CUDA kernel's
     * extern_c: its __global__ functions keep their plain names) */
    bool extern_c;
} spak_build_request;

typedef struct spak_build_result {
    char artifact[4096];   /* path of the .so (the .cubin of a cubin_arch build) */
    char key[17];          /* 16 hex digits */
    bool cached;           /* found in the cache, nothing compiled */
    bool ok;               /* compiled (or cached) */
    char *log;             /* compiler output (malloc'd, may be empty); the caller frees */
    double seconds;
    char compiler[256];    /* the compiler's first --version line */
} spak_build_result;

/* Build (or find in the cache) the candidate. Returns SPAK_OK when the
 * build step itself worked, also when the compiler rejected the source:
 * res->ok says whether there is an artifact, res->log says why not.
 * Returns an error only when the compiler could not be run at all (or the
 * build's folder could not be made). A key whose walk was not complete (a
 * cap reached, no dependency list) is never answered from the cache. */
spak_status spak_build_candidate(const spak_build_request *rq, spak_build_result *res, spak_err *err);
void spak_build_result_free(spak_build_result *res);

/* The compiler a build of source runs ("cc", or nvcc for a .cu), as
 * spak_build_candidate finds it (a cubin_arch build runs nvcc whatever the
 * source's name). */
const char *spak_build_compiler_for(const char *source);

/* Preprocess rq's source once per define set (`cc -E` / `nvcc -E` with the
 * language flags, the -I and, in turn, sets[k][0..n_sets_defs[k]) as the
 * defines: what a build of that point would compile), each run in the
 * build's sandbox exactly as a build (the source is untrusted: the same
 * uid, layers, read rules). digests[k] is a hash of set k's output with
 * its line markers and blank lines left out (a skipped #if branch leaves
 * blank lines or a marker, not text); ok[k] false when the preprocessor
 * failed on set k. rq->defines are ignored; rq->cache_dir is not used.
 * Returns an error only when no preprocessor could be run at all. */
spak_status spak_build_preprocess(const spak_build_request *rq, const char *const *const *sets,
                                  const size_t *n_sets_defs, size_t n_sets, uint64_t *digests, bool *ok,
                                  spak_err *err);

#endif
