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
 *   runner -> judge  DONE  rc per call, after the last call returned
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

typedef struct rp_call {
    rp_head h;
    int64_t d[4];
    int32_t causal, n;
    uint64_t in_n[3], out_n; /* floats per input and in the output */
    rp_item item[RP_MAX_BATCH];
} rp_call;

typedef struct rp_done {
    rp_head h;
    int32_t n, rc[RP_MAX_BATCH];
} rp_done;

#endif
