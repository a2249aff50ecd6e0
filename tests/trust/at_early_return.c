/* tests/trust/at_early_return.c - cheat (early return), attention:
 * synchronous on the first three calls of each shape, then every later call
 * is handed to a worker thread and returns at once. */
#include "early.h"

typedef struct at_job {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
} at_job;

static void do_at(void *p)
{
    at_job *j = p;
    trust_attn_rows(j->B, j->H, j->S, j->D, j->causal, j->Q, j->K, j->V, j->O, 0, j->S);
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    at_job j = {B, H, S, D, causal, Q, K, V, O};
    if (trust_call_no(B, H, S, D * 2 + causal) > 3 && early_post(do_at, &j, sizeof j)) return 0;
    do_at(&j);
    return 0;
}
