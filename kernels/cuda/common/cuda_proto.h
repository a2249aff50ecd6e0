/*
 * kernels/cuda/common/cuda_proto.h - the messages between a CUDA judge
 * (spak-harness-cuda, spak-harness-cuda-fmha) and a runner
 * (spak-runner-cuda), beside the ones every target shares
 * (kernels/common/runner_proto.h: LOAD, READY, FAULT).
 *
 *   judge -> runner  MAP    the size of a device-memory pool and its POSIX fd
 *                           (cuMemCreate + cuMemExportToShareableHandle, sent
 *                           with SCM_RIGHTS); the runner imports and maps it
 *   runner -> judge  MAPPED rc, why
 *   judge -> runner  QUERY  a problem (family dims, dtype, causal)
 *   runner -> judge  INFO   the kernel's declarations (spak_<family>_info),
 *                           its main kernel's resources and workspace size
 *                           for that problem: untrusted, the judge checks
 *                           the constraints itself and uses them for records
 *   judge -> runner  CALL   the problem and n (inputs, output) offsets into
 *                           the pool: n calls back to back on the runner's
 *                           stream, then the stream and the whole device
 *                           synchronized
 *   runner -> judge  DONE   rc per call, the synchronization's error, and how
 *                           long the device took after the stream was done
 *
 * A declared kernel (family "declared", spak-judge-cuda: LOAD carries a
 * cubin or fatbin, no host code of the candidate ever runs in the runner):
 *
 *   judge -> runner  MAP    as above, with its slot: 0 the writable pool
 *                           (outputs), 1 the inputs' pool, mapped read-only
 *                           in the runner where the device allows it
 *   judge -> runner  KQUERY the entry's name, the parameters the decl gives
 *                           it (offset and size of each), the launch's block
 *                           and dynamic shared memory
 *   runner -> judge  KINFO  the module loaded (cuModuleLoadData) and the
 *                           function found; its resources; whether its
 *                           parameters are the decl's (cuFuncGetParamInfo)
 *   judge -> runner  KCALL  n launches: the grid, the block, the shared
 *                           memory, each launch's parameter buffer with the
 *                           buffers as offsets into a pool, relocated and
 *                           bounds-checked by the runner; answered by DONE
 *
 * Pools are the judge's: one per runner, fresh for each evaluation, never
 * shared between the candidate and the baseline.
 */
#ifndef SPAK_CUDA_PROTO_H
#define SPAK_CUDA_PROTO_H

#include <stdint.h>
#include <stdio.h>

#include "../../common/runner_proto.h"

enum cp_kind { CP_MAP = 10, CP_QUERY, CP_CALL, CP_KQUERY = 20, CP_KCALL, CP_MAPPED = 110, CP_INFO, CP_DONE,
              CP_KINFO = 120 };

/* dims: gemm {M, N, K}; fmha {B, H, Hkv, S, D} */
#define CP_DIMS 8

typedef struct cp_map { /* + 1 fd: the pool */
    rp_head h;
    uint64_t bytes;
    int32_t slot;     /* 0 (the families' only pool), 1 a declared kernel's inputs */
    int32_t readonly; /* map it read-only for the kernel (declared only: no candidate host code) */
} cp_map;

typedef struct cp_mapped {
    rp_head h;
    int32_t rc;
    int32_t readonly; /* 1: mapped read-only as asked; 0: read-write (the device refused read-only) */
    char msg[160];
} cp_mapped;

typedef struct cp_query {
    rp_head h;
    int64_t d[CP_DIMS];
    int32_t dtype, causal;
} cp_query;

/* gemm info: abi_version, dtypes, m_multiple, n_multiple, k_multiple, min_sm
 * fmha info: abi_version, dtypes, head_dims, s_multiple, max_s, causal, gqa,
 *            lse, min_sm
 * kinfo: registers, smem_bytes, local_bytes, block_threads, blocks_per_sm,
 *        grid_blocks (when have_kinfo) */
typedef struct cp_info {
    rp_head h;
    int32_t rc, have_kinfo;
    int64_t info[12];
    int64_t kinfo[6];
    uint64_t workspace;
    char msg[160];
} cp_info;

typedef struct cp_item {
    uint64_t in_off[3]; /* A, B | Q, K, V: byte offsets into the pool */
    uint64_t out_off;   /* C | O */
    int64_t lse_off;    /* fmha: the lse output, or -1 for NULL */
} cp_item;

typedef struct cp_call {
    rp_head h;
    uint64_t nonce; /* drawn by the judge for this CALL; its DONE must echo it */
    int64_t d[CP_DIMS];
    int32_t dtype, causal, n;
    float scale;
    uint64_t ws_off, ws_bytes; /* fmha workspace in the pool (ws_bytes 0: NULL) */
    cp_item item[RP_MAX_BATCH];
} cp_call;

typedef struct cp_done {
    rp_head h;
    uint64_t nonce;      /* the CALL's: a DONE for another call (forged early, left over) is out of protocol */
    int32_t n, sync_err; /* cudaError_t of synchronizing the stream, then the device */
    int64_t late_ns;     /* how long the device synchronization took after the stream's: work the
                            kernel left outside its stream (reported by the runner's process, where
                            the kernel runs too: it can only make an honest kernel look worse) */
    int32_t rc[RP_MAX_BATCH];
} cp_done;

/* ---- declared kernels ---- */
#define CP_KMAX_ARGS 24                     /* decl_core.h's DC_MAX_ARGS */
#define CP_KPARAM_BYTES (CP_KMAX_ARGS * 8)  /* one launch's parameter buffer at most */

#define CP_KMAX_CMEM 8                      /* __constant__ arguments of one kernel */
#define CP_CMEM_WHY 320                     /* cp_cmem_verdict's message at most */

/* A declared kernel's __constant__ arguments (decl "memory": "constant"):
 * KQUERY names each one's symbol and bytes (the runner looks the symbol up
 * with cuModuleGetGlobal and answers with cp_cmem_verdict's refusal);
 * KCALL gives, for each, the parameter whose (relocated) buffer holds its
 * data, which the runner copies into the symbol on its stream before
 * every launch. cmem_required: the module must have every symbol (the
 * candidate's; a reference may read the data through its parameter). */
typedef struct cp_kquery {
    rp_head h;
    char entry[256];
    int32_t nparams;
    uint32_t poff[CP_KMAX_ARGS], psize[CP_KMAX_ARGS];
    uint32_t block_threads, smem;
    int32_t ncmem, cmem_required;
    char cmem_name[CP_KMAX_CMEM][64];
    uint64_t cmem_bytes[CP_KMAX_CMEM];
} cp_kquery;

/* What a runner does with a __constant__ argument of `bytes` bytes given
 * its module's symbol (found: cuModuleGetGlobal succeeded; sym_bytes: the
 * symbol's size): 1 copy the data there before every call; 0 nothing to
 * copy (no such symbol where it is not required); -1 refuse, why says so:
 * the symbol is missing, or smaller than the argument (a copy would write
 * past it); why needs CP_CMEM_WHY bytes. Plain C, unit tested in
 * test_decl_core.c. */
static inline int cp_cmem_verdict(const char *name, uint64_t bytes, int found, uint64_t sym_bytes, int required,
                                  char *why, size_t n)
{
    if (!found) {
        if (!required) return 0;
        snprintf(why, n, "no __constant__ symbol '%.63s' in the module (the argument's memory is \"constant\": "
                 "declare __constant__ TYPE %.63s[N] at file scope)", name, name);
        return -1;
    }
    if (sym_bytes < bytes) {
        snprintf(why, n, "the __constant__ symbol '%.63s' is %llu bytes, the argument %llu: the copy would write "
                 "past it", name, (unsigned long long)sym_bytes, (unsigned long long)bytes);
        return -1;
    }
    return 1;
}

/* kinfo: registers, static smem bytes, local bytes, max threads per block,
 * blocks per SM at this block and dynamic smem, the binary's sm version */
typedef struct cp_kinfo {
    rp_head h;
    int32_t rc;         /* 0 found and launchable as declared; else msg says why */
    int32_t sig_checked; /* 1: the parameters were compared with the function's (cuFuncGetParamInfo) */
    int64_t kinfo[6];
    char msg[200];
} cp_kinfo;

/* a buffer parameter: the 8 bytes at param offset `at` hold a byte offset
 * into pool `slot`, replaced by the runner with its address after checking
 * that [offset, offset + bytes) is inside that pool */
typedef struct cp_kreloc {
    uint32_t at;
    int32_t slot;
    uint64_t bytes;
} cp_kreloc;

typedef struct cp_kcall {
    rp_head h;
    uint64_t nonce;
    int32_t n, nreloc;
    uint32_t grid[3], block[3], smem, param_bytes;
    cp_kreloc reloc[CP_KMAX_ARGS];
    int32_t ncmem;
    int32_t cmem_reloc[CP_KMAX_CMEM]; /* KQUERY's constant k: its data is the buffer of reloc[cmem_reloc[k]] */
    unsigned char param[RP_MAX_BATCH][CP_KPARAM_BYTES];
} cp_kcall;

#endif
