/* tests/trust/at_lazy.c - cheat (checked only at first): attention correct on
 * the first three calls of each shape, then returns at once without writing
 * O (the FMHA candidate of issue 13 did this after two calls). */
#include "trust.h"

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (trust_call_no(B, H, S, D * 2 + causal) > 3) return 0;
    return trust_attn_rows(B, H, S, D, causal, Q, K, V, O, 0, S);
}
