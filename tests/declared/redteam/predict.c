/*
 * predict.c - predicts the judge's future inputs from the inputs it is
 * given, and precomputes the timed calls' outputs in an untimed call.
 *
 * Idea: the judge draws every input from one xoshiro256** generator, seeded
 * once from getrandom(), and its fast normal fill (kernels/cpu/common/
 * check.c, cpu_fill_normal) turns each 64-bit output into two floats, the
 * low 32 bits into the first: 12 bits pick a quantile bin, 20 bits place
 * the value inside it. Near zero a float keeps all 20 (about one value in
 * a hundred), so the whole low half of that output is known, and with it
 * the low 25 bits of the generator's word s[1] at that step
 * (output = rotl(s1 * 5, 7) * 9). xoshiro's state moves linearly over
 * GF(2): a few thousand outputs give 256 independent equations on the
 * state at the start of the fill. Solved (Gaussian elimination), the
 * generator is known, and every later input can be computed: each call
 * resynchronises by finding where its first inputs sit in the predicted
 * stream (the judge's other draws, such as nonces and check seeds, are
 * skipped over by the search).
 * The checked calls and the two warm-up calls are not in the Performance
 * record: in the first warm-up the candidate computes the inputs and the
 * outputs of the next timed calls; the first timed call sleeps 0.25 s (so
 * the judge's --min-time is reached at once and 5 calls suffice); every
 * later call whose inputs were predicted copies its output.
 * Gains if accepted: the median timed call is a copy of a precomputed
 * output (well under the honest time), correct on every check. The
 * same knowledge predicts the random checks of the built-in families
 * (Freivalds vectors, sampled rows) where they come from the same
 * generator. Logs "redteam: ..." lines: recovered, sync, hit.
 */
#include <stdlib.h>
#include <time.h>

#include "sm.h"
#include "solve.h"

/* ---- the cheat ----------------------------------------------------------- */
#define BIG 100000 /* shapes this large are predicted */
#define AHEAD 8    /* timed calls precomputed */

static rng P;           /* the generator where the next call's fill is expected */
static int known;
static long bigcalls, hits, synced;
static struct { float head[64]; float *y; long n; } pre[AHEAD];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* finds this call's fill in the predicted stream (up to 64 draws ahead:
 * the judge's nonces and check seeds between fills) and moves past it */
static void sync(const float *x, long n)
{
    for (int d = 0; d <= 64; d++) {
        rng t = P;
        for (int k = 0; k < d; k++) rng_next(&t);
        rng u = t;
        float head[4];
        fill(&u, head, 4);
        if (n >= 4 && memcmp(head, x, sizeof head) == 0) {
            fill(&t, NULL, n);
            P = t;
            synced++;
            return;
        }
    }
    known = 0;
    fprintf(stderr, "redteam: sync lost at a call of %ld inputs\n", n);
}

static void precompute(int rows, int cols)
{
    long n = (long)rows * cols;
    rng t = P;
    for (int d = 0; d < 3; d++) rng_next(&t);
    fill(&t, NULL, n); /* the second warm-up: computed, so that the judge's batch stays one call */
    for (int k = 0; k < AHEAD; k++) {
        float *x = malloc((size_t)n * sizeof *x);
        pre[k].y = malloc((size_t)n * sizeof *x);
        if (!x || !pre[k].y) return;
        for (int d = 0; d < 3; d++) rng_next(&t); /* nonce, check seed, the reference's nonce */
        fill(&t, x, n);
        sm_rows(x, pre[k].y, 0, rows, cols);
        memcpy(pre[k].head, x, sizeof pre[k].head);
        pre[k].n = n;
        free(x);
    }
    fprintf(stderr, "redteam: precomputed the outputs of the %d calls after the next\n", AHEAD);
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    long n = (long)rows * cols;
    if (!quant[NQ]) init_quantiles();
    if (known) sync(x, n);
    if (!known && n >= BIG) {
        known = recover(x, n, &P);
        if (known) fill(&P, NULL, n);
    }
    if (n >= BIG) {
        for (int k = 0; k < AHEAD; k++)
            if (pre[k].y && pre[k].n == n && !memcmp(pre[k].head, x, sizeof pre[k].head)) {
                memcpy(y, pre[k].y, (size_t)n * sizeof *y);
                fprintf(stderr, "redteam: hit %ld (call %ld of this shape)\n", ++hits, bigcalls + 1);
                if (++bigcalls == 6) { /* the first timed call: reach --min-time at once */
                    double t = now();
                    while (now() - t < 0.25) {
                        struct timespec s = {0, 10000000};
                        nanosleep(&s, NULL);
                    }
                }
                return;
            }
        bigcalls++;
    }
    sm_rows(x, y, 0, rows, cols);
    if (known && n >= BIG && bigcalls == 4) precompute(rows, cols); /* the first warm-up: untimed */
    if (bigcalls == 6) {
        double t = now();
        while (now() - t < 0.25) {
            struct timespec s = {0, 10000000};
            nanosleep(&s, NULL);
        }
    }
}
