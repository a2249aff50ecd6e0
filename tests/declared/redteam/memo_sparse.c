/*
 * memo_sparse.c - memoisation across calls and input sets: a table of past
 * outputs keyed by a hash of 8 sampled input elements and the pointers; a
 * hit returns the stored output without computing.
 * Gains if accepted: every repeated input set costs a copy. The judge
 * draws fresh inputs for every call (never a rotation), so the table
 * should never hit: the cheat then is honest work (neutralised). Logs its
 * hits and misses ("redteam: memo").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm.h"

#define SLOTS 16
static struct { uint64_t key; long n; float *y; } T[SLOTS];
static long hits, misses;

static uint64_t key_of(const float *x, long n)
{
    uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < 8; k++) {
        uint32_t b;
        memcpy(&b, &x[(n - 1) * k / 7], 4);
        h = (h ^ b) * 1099511628211ull;
    }
    return h ^ (uint64_t)n;
}

void softmax_rows(const float *x, float *y, int rows, int cols)
{
    long n = (long)rows * cols;
    uint64_t k = key_of(x, n);
    int s = (int)(k % SLOTS);
    if (T[s].y && T[s].key == k && T[s].n == n) {
        memcpy(y, T[s].y, (size_t)n * sizeof *y);
        hits++;
    } else {
        sm_rows(x, y, 0, rows, cols);
        misses++;
        free(T[s].y);
        T[s].y = malloc((size_t)n * sizeof *y);
        if (T[s].y) memcpy(T[s].y, y, (size_t)n * sizeof *y), T[s].key = k, T[s].n = n;
    }
    if ((hits + misses) % 16 == 0) fprintf(stderr, "redteam: memo hits %ld misses %ld\n", hits, misses);
}
