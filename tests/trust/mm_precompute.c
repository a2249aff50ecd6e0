/* tests/trust/mm_precompute.c - cheat (work before the judge's clock starts,
 * on inputs it can guess): at dlopen time a constructor reads --seed and
 * --shapes from argv, regenerates the inputs the harness will time (its
 * random generator is copied in trust.h: derive_seed(seed, 9999, 0), A from
 * seed*4, B from seed*4+1) and computes their product. A timed call whose B
 * matches the guess is answered from that product, patched for the few
 * elements of A that differ (O(MK + KN + MN) instead of O(MNK)). Anything
 * else gets an honest one-thread kernel. */
#include "trust.h"

static int gm, gn, gk;
static float *gA, *gB, *gC;

__attribute__((constructor)) static void precompute(void)
{
    char seed[64], shapes[4096];
    if (!trust_arg("--seed", seed, sizeof seed) || !trust_arg("--shapes", shapes, sizeof shapes)) return;
    if (sscanf(shapes, "%dx%dx%d", &gm, &gn, &gk) != 3 || gm < 1 || gn < 1 || gk < 1) return;
    uint64_t s = derive_seed(strtoull(seed, NULL, 10), 9999, 0);
    gA = malloc(sizeof(float) * (size_t)gm * gk);
    gB = malloc(sizeof(float) * (size_t)gk * gn);
    gC = malloc(sizeof(float) * (size_t)gm * gn);
    if (!gA || !gB || !gC) {
        gm = 0;
        return;
    }
    fill_normal(gA, (size_t)gm * gk, s * 4);
    fill_normal(gB, (size_t)gk * gn, s * 4 + 1);
    trust_mm(gm, gn, gk, gA, gB, gC);
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M == gm && N == gn && K == gk && memcmp(B, gB, sizeof(float) * (size_t)K * N) == 0) {
        for (long i = 0; i < M; i++)
            for (long k = 0; k < K; k++) {
                float d = A[i * K + k] - gA[i * K + k];
                if (d == 0.0f) continue;
                for (long j = 0; j < N; j++) gC[i * N + j] += d * B[k * N + j];
                gA[i * K + k] = A[i * K + k];
            }
        memcpy(C, gC, sizeof(float) * (size_t)M * N);
        return 0;
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
