/*
 * kernels/cuda/declared/decl_core.h - the GPU-free half of spak-judge-cuda,
 * the generic CUDA judge of declared kernels (issue 17): its command line,
 * the decl file it reads (docs/declared-kernels.md; the format
 * "spak-kernel-decl/1" the engine writes, every expression already
 * evaluated per shape), the layout of an evaluation's buffers in the two
 * device pools of a side (read-only inputs, writable outputs) and the
 * packing of one launch's argument array. Plain C11 over Jansson, compiled
 * by cc and unit tested (test_decl_core.c); the .cu judge includes it.
 *
 * The judge never evaluates a user expression: counts, scalar values, the
 * grid, the block and the dynamic shared memory come as numbers, and what
 * it cannot honour is refused here with one line naming the field.
 *
 * Ownership: a dc_decl is a plain struct (no pointers into the JSON); the
 * parsed options point into argv.
 */
#ifndef SPAK_DECL_CORE_H
#define SPAK_DECL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/session.h" /* CS_BETWEEN_RUNS_SD, cs_parse_between_runs */

#ifdef __cplusplus
extern "C" {
#endif

#define DC_FORMAT "spak-kernel-decl/1"
#define DC_MAX_ARGS 24          /* arguments of one kernel (one CALL message holds them for 64 launches) */
#define DC_MAX_SHAPES 64
#define DC_MAX_CMEM 8           /* "constant" arguments (cuda_proto.h's CP_KMAX_CMEM) */
#define DC_MAX_CAND 8           /* --candidate in one session (session.h's CS_MAX_CAND) */
#define DC_MAX_FILE (1 << 20)   /* bytes of a decl file */
#define DC_MAX_ARG_BYTES ((int64_t)4 << 30) /* one buffer */
#define DC_MAX_SET_BYTES ((int64_t)8 << 30) /* every buffer of one call together (a side's pool: 8 GiB) */
#define DC_MAX_SMEM (1 << 20)   /* a sanity cap; the device's own limit fails the launch */
#define DC_ALIGN 256            /* each buffer's offset in a set */
#define DC_NAME 64
#define DC_PATH 4096

enum dc_type { DC_F16, DC_BF16, DC_F32, DC_F64, DC_I8, DC_I32, DC_I64, DC_U8, DC_U32, DC_NTYPES };
enum dc_fill { DC_FILL_NORMAL, DC_FILL_UNIFORM, DC_FILL_CONSTANT, DC_FILL_INDEX, DC_FILL_ZERO };
enum dc_access { DC_READ, DC_WRITE, DC_READWRITE };
enum dc_ref { DC_REF_NONE, DC_REF_FUNCTION };

struct dc_arg {
    char name[DC_NAME];
    int type, fill, access;     /* enum dc_type, dc_fill, dc_access */
    double fill_args[2];        /* normal: mean, sd; uniform: lo, hi; constant: v */
    bool scalar, output;
    double tolerance;           /* an output's: relative (normwise), max abs where the reference is all 0 */
    /* "memory": "constant" (optional; absent: "global"): a "read" buffer
     * that is also copied, before every call, into the module's
     * __constant__ symbol of its name (the buffer is still passed) */
    bool constant;
};

struct dc_shape {
    char label[128];
    bool heldout;
    bool drawn;                 /* drawn by spak at run time (src/build/decl.c): held out, recorded so */
    int64_t count[DC_MAX_ARGS]; /* elements of each buffer (0 for a scalar) */
    double value[DC_MAX_ARGS];  /* each scalar's value (integers exact up to 2^53) */
    unsigned grid[3], block[3], smem;
    unsigned rgrid[3], rblock[3], rsmem; /* the reference's launch (default: the candidate's) */
    double flops, bytes;        /* < 0: not given */
};

struct dc_decl {
    char name[DC_NAME], entry[256], candidate[DC_PATH];
    int ref;                    /* enum dc_ref */
    char ref_path[DC_PATH], ref_entry[256];
    int nargs, nshapes;
    struct dc_arg args[DC_MAX_ARGS];
    struct dc_shape shapes[DC_MAX_SHAPES];
};

/* ---- element types ---- */
/* "f32" -> DC_F32 ...; -1 when unknown */
int dc_type_of(const char *s);
const char *dc_type_name(int type);
size_t dc_type_size(int type);
bool dc_type_is_float(int type);

/* Parses and checks the decl file's text (n bytes; file names it in the
 * messages). 0, or -1 with one line in err naming the field and what is
 * wrong ("decl.json: args[2].type: unknown element type 'f8' (...)";
 * a JSON syntax error: "decl.json:LINE:COL: ..."). */
int dc_parse(const char *text, size_t n, const char *file, struct dc_decl *d, char *err, size_t errlen);

/* Reads the file at path (at most DC_MAX_FILE bytes) and dc_parse()s it. */
int dc_load(const char *path, struct dc_decl *d, char *err, size_t errlen);

/* ---- the buffers of one call in a side's two pools ----
 * Slot 0 (writable in the runner): outputs and every "write"/"readwrite"
 * buffer; slot 1 (mapped read-only in the runner where the device lets
 * it): the "read" buffers. Each buffer at a DC_ALIGN offset in its slot's
 * set; a pool holds n sets back to back. */
struct dc_layout {
    int slot[DC_MAX_ARGS];      /* 0 rw, 1 ro; -1 a scalar */
    uint64_t off[DC_MAX_ARGS];  /* in its slot's set */
    uint64_t bytes[DC_MAX_ARGS];
    uint64_t set_bytes[2];      /* one set of slot 0, of slot 1 (0: no such buffer) */
};
void dc_layout_of(const struct dc_decl *d, const struct dc_shape *s, struct dc_layout *l);

/* ---- one launch's argument array ----
 * The kernel's parameters in order: a buffer as its 8-byte device address,
 * a scalar as its value in its type's bytes (little endian), each at its
 * natural alignment in buf (the layout cuLaunchKernel's kernelParams point
 * into). addr[i] is buffer i's device address (ignored for scalars).
 * off[i], size[i] get each parameter's place. Returns the bytes used, or
 * 0 when they do not fit cap. */
size_t dc_pack_params(const struct dc_decl *d, const struct dc_shape *s, const uint64_t *addr, unsigned char *buf,
                      size_t cap, uint32_t *off, uint32_t *size);

/* A scalar's value in its type's bytes into out[8] (the rest zero). */
void dc_scalar_bytes(int type, double v, unsigned char out[8]);

/* ---- the command line ---- */
struct dc_args {
    const char *decl;
    const char *candidates[DC_MAX_CAND]; /* --candidate (repeatable); none: the decl's candidate */
    int ncand;
    int reps, warmup, timeout_s, batch_ms;
    double between_runs; /* every ratio interval widened by it (kernels/cuda/common/session.h) */
    bool check_only;
    const char *ceilings_cache;
};
/* 0 ok, 1 --help (usage in err), -1 a usage error (err). Defaults: reps 30,
 * warm-up 5, timeout 300 s, batch 3 ms, between runs CS_BETWEEN_RUNS_SD. --seed N is accepted and ignored
 * (the judge draws its own seed: one on the command line is one the
 * candidate could read). */
int dc_parse_args(int argc, char **argv, struct dc_args *a, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
