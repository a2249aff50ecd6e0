/*
 * kernels/cpu/common/proto.h - the messages between the CPU judge
 * (spak-harness-cpu) and a runner (spak-runner-cpu), beside the ones every
 * target shares (kernels/common/runner_proto.h: LOAD, READY, FAULT).
 *
 *   judge -> runner  LOAD  family name, the .so as an fd (SCM_RIGHTS)
 *   runner -> judge  READY rc, the .so's self-description (untrusted text)
 *   judge -> runner  MAP   sizes; the input memfd (sealed, read-only for the
 *                          runner) and the output memfd (SCM_RIGHTS)
 *   runner -> judge  MAPPED rc
 *   judge -> runner  CALL  the shape, element counts, n (input set, output
 *                          slot) offsets: n calls back to back
 *   runner -> judge  DONE  rc per call, after the last call returned, with
 *                          the CALL's nonce (fd 3 is in the kernel's process
 *                          too: a DONE it forges cannot name a CALL it has
 *                          not seen)
 *   runner -> judge  FAULT a fault the runner's signal handler saw (e.g. a
 *                          write to the read-only inputs), then it exits
 */
#ifndef SPAK_CPU_PROTO_H
#define SPAK_CPU_PROTO_H

#include <stdint.h>

#include "../../common/runner_proto.h"

enum rp_kind { RP_MAP = 2, RP_CALL, RP_MAPPED = 102, RP_DONE };

typedef struct rp_map { /* + 2 fds: inputs, output */
    rp_head h;
    uint64_t in_bytes, out_bytes;
} rp_map;

typedef struct rp_item {
    uint64_t in_off[3]; /* byte offsets of the inputs of this call in the input memfd */
    uint64_t out_off;   /* byte offset of its output slot in the output memfd */
} rp_item;

/* A declared kernel's call (kernels/cpu/declared/, docs/declared-kernels.md):
 * the entry point's name and its arguments, each a buffer at a byte offset
 * of the call's input set (where 0, read-only) or output slot (where 1), or
 * a scalar passed by value (where 2). Unused (nargs 0) for other families. */
#define RP_MAX_DARGS 16
enum rp_dtype { RP_F16 = 1, RP_BF16, RP_F32, RP_F64, RP_I8, RP_I32, RP_I64, RP_U8, RP_U32 };
typedef struct rp_darg {
    uint32_t type, where;
    uint64_t off, bytes; /* a buffer's place in its block */
    int64_t value;       /* a scalar's value (converted to its type by the runner) */
} rp_darg;
typedef struct rp_decl {
    char entry[64];
    int32_t nargs, pad;
    rp_darg arg[RP_MAX_DARGS];
} rp_decl;

typedef struct rp_call {
    rp_head h;
    uint64_t nonce; /* drawn by the judge for this CALL; its DONE must echo it */
    int64_t d[4];
    int32_t causal, n;
    uint64_t in_n[3], out_n; /* floats per input and in the output */
    rp_item item[RP_MAX_BATCH];
    rp_decl decl;
} rp_call;

typedef struct rp_done {
    rp_head h;
    uint64_t nonce; /* the CALL's: a DONE for another call (sent early, or left over) is out of protocol */
    int32_t n, rc[RP_MAX_BATCH];
} rp_done;

#endif
