/*
 * tests/cheats/honest.h - what several cheats share: the honest fp32 matmul
 * (the textbook i-j-k loop of kernels/cpu/matmul/naive.c) that a cheat runs
 * when it is not cheating, and the copy of C a memoising cheat keeps.
 * Static inline: each cheat is one file, built on its own
 * (tests/suites/cpu_harness.sh), and includes this beside it.
 */
#ifndef SPAK_CHEATS_HONEST_H
#define SPAK_CHEATS_HONEST_H

#include <stdlib.h>
#include <string.h>
#include "../../kernels/cpu/matmul/abi.h"

/* C = A B, row-major, one scalar fp32 dot product per element */
static inline void honest_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[(long)i * K + k] * B[(long)k * N + j];
            C[(long)i * N + j] = s;
        }
}

/* C = A B computed with A as scratch: A is scaled by 3 in place, the product
 * divided by 3, and A scaled back, which is not bit-exact, so the caller's
 * input changes (the cheat of writes_inputs.c and unseal.c). */
static inline void honest_matmul_scratch_a(int M, int N, int K, const float *A, const float *B, float *C)
{
    float *a = (float *)A; /* casting away const: the cheat */
    for (long t = 0; t < (long)M * K; t++) a[t] *= 3.0f;
    honest_matmul(M, N, K, A, B, C);
    for (long t = 0; t < (long)M * N; t++) C[t] /= 3.0f;
    for (long t = 0; t < (long)M * K; t++) a[t] /= 3.0f; /* not bit-exact */
}

/* Frees old and returns a fresh copy of the n floats of C (NULL when out of
 * memory): what a memoising cheat keeps to replay. The caller owns it. */
static inline float *honest_keep(float *old, const float *C, size_t n)
{
    free(old);
    float *copy = malloc(n * sizeof(float));
    if (copy) memcpy(copy, C, n * sizeof(float));
    return copy;
}

#endif
