/* tests/trust/base_at.c - the suite's attention baseline: the honest
 * one-thread kernel the attention cheats fall back to (trust_attn_rows), so
 * that an honest candidate's ratio is about 1 (2 with two threads). */
#include "trust.h"

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    return trust_attn_rows(B, H, S, D, causal, Q, K, V, O, 0, S);
}
