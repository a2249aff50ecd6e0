/* tests/trust/at_late_tail.c - cheat (work after return, the part that is
 * quick enough to hide), attention: synchronous on the first three calls of
 * each shape; later calls compute 90% of the query rows of every head, write
 * zeros over the rest and hand the last tenth to a worker thread (late.h) that
 * finishes it after the call returned, while the judge freezes the runner.
 * Only the CPU the runner used after DONE tells. */
#include "late.h"

typedef struct at_job {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    long r0, r1;
} at_job;

static void do_rows(void *p)
{
    at_job *j = p;
    trust_attn_rows(j->B, j->H, j->S, j->D, j->causal, j->Q, j->K, j->V, j->O, j->r0, j->r1);
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    long tail = S / 10 > 0 ? S / 10 : 1;
    at_job j = {B, H, S, D, causal, Q, K, V, O, 0, S};
    if (trust_call_no(B, H, S, D * 2 + causal) <= 3 || S < 2) {
        do_rows(&j);
        return 0;
    }
    j.r1 = S - tail;
    do_rows(&j);
    for (long bh = 0; bh < (long)B * H; bh++)
        memset(O + (bh * S + S - tail) * D, 0, sizeof(float) * (size_t)(tail * D));
    j.r0 = S - tail, j.r1 = S;
    if (!late_post(do_rows, &j, sizeof j)) do_rows(&j);
    return 0;
}
