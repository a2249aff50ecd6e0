/*
 * abi.h - the C ABI every FMHA (attention forward) candidate shared object
 * exports. Issue 7. The GEMM family's twin: kernels/cuda/gemm/abi.h.
 *
 * A candidate is one .cu file plus -D parameter values, built by nvcc into a
 * shared object (-shared -Xcompiler -fPIC, -gencode arch=compute_90a,code=sm_90a).
 * The trusted judge (spak-harness-cuda-fmha) loads it into spak-runner-cuda,
 * a sandboxed process of its own, which calls only the symbols below.
 *
 * The function computed, for b < B, h < H, i < S (query), j < S (key):
 *
 *   hk      = h / (H / Hkv)                 (GQA: H/Hkv query heads share a KV head;
 *                                            Hkv == H is MHA, Hkv == 1 is MQA)
 *   s[i][j] = scale * sum_d Q[b][h][i][d] * K[b][hk][j][d]       (fp32)
 *   masked  = causal && j > i                (top-left aligned; Sq == Sk here)
 *   m[i]    = max_{j not masked} s[i][j]
 *   l[i]    = sum_{j not masked} exp(s[i][j] - m[i])
 *   O[b][h][i][d] = sum_{j not masked} exp(s[i][j] - m[i]) / l[i] * V[b][hk][j][d]
 *   lse[b][h][i]  = m[i] + log(l[i])         (natural log, of the scaled scores)
 *
 * Layouts, all packed and row-major ("BHSD"):
 *   Q, O  [B][H][S][D]     element (b,h,i,d) at ((b*H + h)*S + i)*D + d
 *   K, V  [B][Hkv][S][D]   element (b,g,j,d) at ((b*Hkv + g)*S + j)*D + d
 *   lse   [B][H][S] fp32   (may be NULL: then it must not be written)
 * Q, K, V, O have type `dtype` (fp16 or bf16). The precision contract: the
 * products Q K^T and P V accumulate in fp32, the softmax runs in fp32; P may
 * be rounded to `dtype` before the second product (as FlashAttention and
 * cuDNN do). `scale` is passed by the harness (1/sqrt(D) in every run).
 *
 * Pointers are device pointers into a pool the judge shares with the runner
 * (256-byte aligned; every call of a batch has its own Q, K, V, O). `workspace`
 * is scratch memory of workspace_bytes >= spak_fmha_workspace(...) bytes (NULL
 * when 0 was asked), owned by the harness, contents undefined on entry. All
 * work is enqueued on `stream`; when spak_fmha returns nothing of the
 * candidate may run on another stream. spak_fmha must not write Q, K, V,
 * must not keep results between calls, must not synchronize the device.
 */
#ifndef SPAK_FMHA_ABI_H
#define SPAK_FMHA_ABI_H

#include <stddef.h>
#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPAK_FMHA_ABI_VERSION 1

/* Same numbering as the GEMM ABI's enum spak_gemm_dtype (fp32 is not offered). */
enum spak_fmha_dtype {
    SPAK_FMHA_F16 = 1,
    SPAK_FMHA_BF16 = 2
};
#define SPAK_FMHA_DT_BIT(d) (1u << (d))
/* Head dimensions as a bit set: SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128). */
#define SPAK_FMHA_D_BIT(d) ((d) == 64 ? 1u : (d) == 128 ? 2u : (d) == 256 ? 4u : 0u)

/* What a candidate declares about itself (static storage in the candidate).
 * The harness refuses ({"passed":false,"skipped":true}, never a pass) every
 * shape outside these declarations. */
struct spak_fmha_info {
    int abi_version;       /* SPAK_FMHA_ABI_VERSION */
    const char *name;      /* e.g. "rung3_mma BM=128 BN=64 W=4 ST=2" */
    unsigned dtypes;       /* OR of SPAK_FMHA_DT_BIT(dtype) */
    unsigned head_dims;    /* OR of SPAK_FMHA_D_BIT(D) */
    int s_multiple;        /* S must be a multiple of this (1 = any S) */
    int max_s;             /* largest S handled (0 = no limit) */
    int causal;            /* 1: handles causal=1 as well as causal=0 */
    int gqa;               /* 1: handles Hkv < H; 0: only Hkv == H */
    int lse;               /* 1: writes lse when it is non-NULL (the harness checks it) */
    int min_sm;            /* major*10+minor, 90 for sm_90a */
};

/* Required. Never NULL. */
const struct spak_fmha_info *spak_fmha_info(void);

/* Required. The function above, enqueued on `stream`. 0 (cudaSuccess) or a
 * cudaError_t value; 1 (cudaErrorInvalidValue) for a problem it cannot do. */
int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
              const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
              cudaStream_t stream);

/* Optional. Scratch bytes spak_fmha needs for this problem (absent = 0). */
size_t spak_fmha_workspace(int B, int H, int Hkv, int S, int D, int causal, int dtype);

/* Resource use of the main kernel, for the Analysis record (filled with
 * cudaFuncGetAttributes / cudaOccupancyMaxActiveBlocksPerMultiprocessor in
 * the candidate, whose kernels belong to its own copy of the runtime). */
struct spak_fmha_kinfo {
    int registers;          /* per thread */
    int smem_bytes;         /* static + dynamic shared memory per block */
    int local_bytes;        /* local memory per thread (spills, stack) */
    int block_threads;
    int blocks_per_sm;
    long long grid_blocks;
};

/* Optional. 0 on success. */
int spak_fmha_kernel_info(int B, int H, int Hkv, int S, int D, int causal, int dtype,
                          struct spak_fmha_kinfo *out);

#ifdef __cplusplus
}
#endif

#endif
