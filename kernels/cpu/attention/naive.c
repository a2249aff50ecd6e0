/*
 * kernels/cpu/attention/naive.c - rung 0 of the CPU attention ladder, and the
 * baseline the harness times the other rungs against (--baseline
 * naive-attention --baseline-so naive.so). Three passes per (batch, head):
 *   1. scores P = Q K^T / sqrt(D)            (an S x S buffer in memory)
 *   2. row softmax of P (causal: keys j > i excluded)
 *   3. O = P V
 * Scalar loops in the textbook order, one thread.
 *
 * Design/tuning defines: none (the reference point of the ladder).
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared kernels/cpu/attention/naive.c -o naive.so -lm
 *   build/spak-harness-cpu --family attention --candidate ./naive.so --seed 1 \
 *       --shapes 1x4x256x64,1x4x256x64c --check-only
 */
#include <math.h>
#include <stdlib.h>
#include "abi.h"

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    float *P = malloc(sizeof(float) * (size_t)S * (size_t)S);
    if (!P) return 2;
    float scale = 1.0f / sqrtf((float)D);
    for (long bh = 0; bh < (long)B * H; bh++) {
        const float *q = Q + bh * S * D, *k = K + bh * S * D, *v = V + bh * S * D;
        float *o = O + bh * S * D;
        for (int i = 0; i < S; i++) /* pass 1: scores */
            for (int j = 0; j < S; j++) {
                float s = 0.0f;
                for (int d = 0; d < D; d++) s += q[(long)i * D + d] * k[(long)j * D + d];
                P[(long)i * S + j] = s * scale;
            }
        for (int i = 0; i < S; i++) { /* pass 2: softmax */
            int n = causal ? i + 1 : S;
            float *p = P + (long)i * S, m = -INFINITY, l = 0.0f;
            for (int j = 0; j < n; j++) m = p[j] > m ? p[j] : m;
            for (int j = 0; j < n; j++) {
                p[j] = expf(p[j] - m);
                l += p[j];
            }
            for (int j = 0; j < n; j++) p[j] /= l;
            for (int j = n; j < S; j++) p[j] = 0.0f;
        }
        for (int i = 0; i < S; i++) /* pass 3: O = P V */
            for (int d = 0; d < D; d++) {
                float s = 0.0f;
                for (int j = 0; j < S; j++) s += P[(long)i * S + j] * v[(long)j * D + d];
                o[(long)i * D + d] = s;
            }
    }
    free(P);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/naive", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
