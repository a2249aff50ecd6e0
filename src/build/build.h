/*
 * build.h - the BUILD step: candidate source + parameter values -> shared
 * object, with a cache keyed by the source bytes, the defines, the compiler
 * command and the compiler's version.
 *
 * C sources are built with `cc -O3 -march=native -fPIC -shared`; .cu sources
 * with nvcc for sm_90a (-gencode arch=compute_90a,code=sm_90a; when nvcc exists). Compilation runs in the sandbox
 * (no shell); its diagnostics are kept next to the artifact.
 */
#ifndef SPAK_BUILD_H
#define SPAK_BUILD_H

#include <stdbool.h>
#include "util.h"

#define SPAK_BUILD_MAX_DEFINES 64

typedef struct spak_build_request {
    const char *source;                  /* path of the .c or .cu file */
    const char *defines[SPAK_BUILD_MAX_DEFINES]; /* "NAME=VALUE" */
    size_t n_defines;
    const char *include_dir;             /* -I for the family's ABI header, or NULL */
    const char *cache_dir;               /* artifacts go to cache_dir/<key>.so */
} spak_build_request;

typedef struct spak_build_result {
    char artifact[4096];   /* path of the .so */
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
 * Returns an error only when the compiler could not be run at all. */
spak_status spak_build_candidate(const spak_build_request *rq, spak_build_result *res, spak_err *err);
void spak_build_result_free(spak_build_result *res);

#endif
