/* tests/trust/ctl_at_pthreads.c - honest control: attention forward on 2
 * pthreads (each a half of the query rows of every head), joined before
 * return. Must stay correct and accepted under every defence. */
#include <pthread.h>
#include "trust.h"

typedef struct part {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    long r0, r1;
    int rc;
} part;

static void *run(void *p)
{
    part *w = p;
    w->rc = trust_attn_rows(w->B, w->H, w->S, w->D, w->causal, w->Q, w->K, w->V, w->O, w->r0, w->r1);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    part w[2] = {{B, H, S, D, causal, Q, K, V, O, 0, S / 2, 0}, {B, H, S, D, causal, Q, K, V, O, S / 2, S, 0}};
    pthread_t t;
    if (pthread_create(&t, NULL, run, &w[1]) != 0) return trust_attn_rows(B, H, S, D, causal, Q, K, V, O, 0, S);
    run(&w[0]);
    pthread_join(t, NULL);
    return w[0].rc | w[1].rc;
}
