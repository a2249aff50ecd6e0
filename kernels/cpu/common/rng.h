/*
 * kernels/cpu/common/rng.h - the harness's random numbers: splitmix64 seeding,
 * xoshiro256** and Box-Muller normals. Header-only (static inline) so the
 * judge core and each family's reference sampling draw the same sequences
 * from the same seeds. No ownership: every state lives in the caller's rng.
 */
#ifndef SPAK_CPU_RNG_H
#define SPAK_CPU_RNG_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- random numbers: splitmix64 + xoshiro256**, Box-Muller normals ------ */

typedef struct rng {
    uint64_t s[4];
    double spare;
    bool has_spare;
} rng;

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void rng_seed(rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    r->spare = 0; /* never read before set; said so for the compiler once inlined */
    r->has_spare = false;
}

static inline uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return res;
}

static inline double rng_uniform(rng *r) /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double rng_normal(rng *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u = rng_uniform(r), v = rng_uniform(r);
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2.0 * M_PI * v);
    r->has_spare = true;
    return m * cos(2.0 * M_PI * v);
}

static inline void fill_normal(float *x, size_t n, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal(&r);
}

static inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed ^ (a * 0x100000001b3ull) ^ (b << 40);
    return splitmix64(&x) & 0x7fffffffffffull; /* exact in a JSON number */
}

#endif
