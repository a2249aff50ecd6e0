/*
 * kernels/common/runner_proto.h - the messages every judge and its runners
 * share over their SOCK_SEQPACKET socketpair (the runner's fd 3): the
 * header, loading a kernel, and a fault. Each target adds its own messages
 * for memory and calls (kernels/cpu/common/proto.h, kernels/cuda/common/
 * cuda_proto.h). One message per packet, fixed-size structs, both ends the
 * same build (so no versioning beyond the magic). The judge validates
 * everything it receives: a runner hosts untrusted code and may send anything.
 *
 *   judge -> runner  LOAD  family name, the .so as an fd (SCM_RIGHTS)
 *   runner -> judge  READY rc, the .so's self-description (untrusted text)
 *   runner -> judge  FAULT a fault the runner's signal handler saw (e.g. a
 *                          write to read-only inputs), then it exits
 */
#ifndef SPAK_RUNNER_PROTO_H
#define SPAK_RUNNER_PROTO_H

#include <stdint.h>

#define RP_MAGIC 0x53504b52u /* "SPKR" */
#define RP_FD 3              /* the runner's end of the socketpair */
#define RP_MAX_BATCH 64      /* calls in one CALL */

/* 1..99 judge -> runner, 101.. runner -> judge; the targets' kinds sit
 * between these (proto.h: MAP, CALL, MAPPED, DONE; cuda_proto.h: its own) */
enum rp_common_kind { RP_LOAD = 1, RP_READY = 101, RP_FAULT = 199 };

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

typedef struct rp_fault {
    rp_head h;
    int32_t sig;
    uint32_t input_write; /* 1: a write into the read-only input memory */
    char msg[160];
} rp_fault;

#endif
