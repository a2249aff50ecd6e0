/*
 * kernels/cpu/attention/abi.h - the fixed C ABI of a CPU attention-forward
 * candidate. Shared by the trusted harness and every candidate.
 *
 *   int spak_attention(int B, int H, int S, int D, int causal,
 *                      const float *Q, const float *K, const float *V,
 *                      float *O);
 *
 * fp32. Q, K, V, O are contiguous [B][H][S][D] (row-major). For every (b, h)
 * and query row i:
 *   s_j = (Q_i . K_j) / sqrt(D)         for j in 0..S-1 (j <= i when causal)
 *   O_i = sum_j softmax(s)_j V_j
 * Any B, H, S >= 1 and 1 <= D <= SPAK_ATTN_MAX_D. Every element of O must be
 * written (the harness fills it with NaN first); Q, K, V must not be written;
 * all work (threads included) finished at return; no state carried between
 * calls. Returns 0 on success, non-zero if it cannot handle the arguments.
 *
 * Optional: const spak_kernel_info *spak_info(void);  (see ../common/info.h)
 *
 *   cc -O3 -march=native -fPIC -shared -DNAME=VALUE... x.c -o x.so -lpthread -lm
 */
#ifndef SPAK_CPU_ATTENTION_ABI_H
#define SPAK_CPU_ATTENTION_ABI_H

#include "../common/info.h"

#define SPAK_ATTN_MAX_D 256
#define SPAK_ATTENTION_SYMBOL "spak_attention"
typedef int (*spak_attention_fn)(int B, int H, int S, int D, int causal, const float *Q,
                                 const float *K, const float *V, float *O);

#if defined(__GNUC__)
#define SPAK_EXPORT __attribute__((visibility("default")))
#else
#define SPAK_EXPORT
#endif

SPAK_EXPORT int spak_attention(int B, int H, int S, int D, int causal, const float *Q,
                               const float *K, const float *V, float *O);
SPAK_EXPORT const spak_kernel_info *spak_info(void);

#endif
