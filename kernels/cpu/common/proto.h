/*
 * kernels/cpu/common/proto.h - the messages between the CPU judge
 * (spak-harness-cpu) and a runner (spak-runner-cpu) over a SOCK_SEQPACKET
 * socketpair, the runner's fd 3. One message per packet, fixed-size structs,
 * both ends the same build (so no versioning beyond the magic). The judge
 * validates everything it receives: a runner hosts untrusted code and may
 * send anything.
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

#define RP_MAGIC 0x53504b52u /* "SPKR" */
#define RP_FD 3              /* the runner's end of the socketpair */
#define RP_MAX_BATCH 64      /* calls in one CALL */

enum rp_kind { RP_LOAD = 1, RP_MAP, RP_CALL, RP_READY = 101, RP_MAPPED, RP_DONE, RP_FAULT };

typedef struct rp_head {
    uint32_t magic, kind;
} rp_head;

typedef struct rp_load { /* + 1 fd: the .so */
    rp_head h;
    char family[32];
} rp_load;

typedef struct rp_ready {
    rp_head h;
    int32_t rc; /* 0 loaded; else msg says why */
    char name[96], precision[16], msg[200];
} rp_ready;

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

typedef struct rp_fault {
    rp_head h;
    int32_t sig;
    uint32_t input_write; /* 1: a write into the read-only input memory */
    char msg[160];
} rp_fault;

#endif
