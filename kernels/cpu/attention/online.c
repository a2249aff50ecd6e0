/*
 * kernels/cpu/attention/online.c - rung 1: fused single pass with the online
 * softmax (running max m, running sum l, output accumulator rescaled when the
 * max grows), one query row at a time: no S x S buffer, K and V read once per
 * row, the D-long loops left to the compiler's vectorizer. Optional threads
 * take (batch*head, row) items round-robin.
 *
 * Design/tuning defines (defaults in brackets; sensible values):
 *   THREADS  [1]   pthreads over query rows (1, 2, 4)
 *
 * Build and check:
 *   cc -O3 -march=native -fPIC -shared -DTHREADS=2 kernels/cpu/attention/online.c \
 *       -o online.so -lpthread -lm
 *   build/spak-harness-cpu --family attention --candidate ./online.so --seed 1 --check-only
 */
#include <math.h>
#include <pthread.h>
#include "abi.h"

#ifndef THREADS
#define THREADS 1
#endif

typedef struct job {
    int B, H, S, D, causal, t, nt;
    const float *Q, *K, *V;
    float *O;
} job;

static void rows(const job *jb)
{
    int S = jb->S, D = jb->D;
    float scale = 1.0f / sqrtf((float)D), acc[SPAK_ATTN_MAX_D];
    long total = (long)jb->B * jb->H * S;
    for (long r = jb->t; r < total; r += jb->nt) {
        long bh = r / S;
        int i = (int)(r % S);
        const float *q = jb->Q + r * D, *k = jb->K + bh * S * D, *v = jb->V + bh * S * D;
        float m = -INFINITY, l = 0.0f;
        for (int d = 0; d < D; d++) acc[d] = 0.0f;
        int n = jb->causal ? i + 1 : S;
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int d = 0; d < D; d++) s += q[d] * k[(long)j * D + d];
            s *= scale;
            if (s > m) { /* new max: rescale what we have */
                float a = expf(m - s);
                l *= a;
                for (int d = 0; d < D; d++) acc[d] *= a;
                m = s;
            }
            float p = expf(s - m);
            l += p;
            for (int d = 0; d < D; d++) acc[d] += p * v[(long)j * D + d];
        }
        float *o = jb->O + r * D;
        for (int d = 0; d < D; d++) o[d] = acc[d] / l;
    }
}

static void *worker(void *p)
{
    rows(p);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job jobs[THREADS];
    pthread_t tid[THREADS];
    int started[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (job){B, H, S, D, causal, t, THREADS, Q, K, V, O};
        started[t] = t > 0 && pthread_create(&tid[t], NULL, worker, &jobs[t]) == 0;
    }
    rows(&jobs[0]);
    for (int t = 1; t < THREADS; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            rows(&jobs[t]);
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/online", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
