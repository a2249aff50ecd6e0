/*
 * kernels/common/prf.h - the judges' pseudo-random function: SipHash-2-4
 * of one 64-bit word under a 128-bit key. The CPU and the CUDA judges draw
 * every input set's seed, every check's seed and every call's nonce from
 * it, keyed by the judge's own seed (getrandom() at start) and a counter:
 * what a candidate learns of one draw (an input set's generator state can
 * be solved from the inputs it is given: tests/declared/redteam/predict.c)
 * tells it nothing of the next one without the key. A plain generator such
 * as splitmix64 or xoshiro would: its outputs run backwards. Header-only,
 * C11 and C++ (the CUDA judges' host code).
 */
#ifndef SPAK_KERNELS_PRF_H
#define SPAK_KERNELS_PRF_H

#include <stdint.h>

#define SPAK_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SPAK_SIP_ROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                               \
        v0 += v1, v1 = SPAK_SIP_ROTL(v1, 13), v1 ^= v0, v0 = SPAK_SIP_ROTL(v0, 32);                    \
        v2 += v3, v3 = SPAK_SIP_ROTL(v3, 16), v3 ^= v2;                                                \
        v0 += v3, v3 = SPAK_SIP_ROTL(v3, 21), v3 ^= v0;                                                \
        v2 += v1, v1 = SPAK_SIP_ROTL(v1, 17), v1 ^= v2, v2 = SPAK_SIP_ROTL(v2, 32);                    \
    } while (0)

/* SipHash-2-4 of the 8-byte message m under the key k[0..1]. */
static inline uint64_t spak_siphash_u64(const uint64_t k[2], uint64_t m)
{
    uint64_t v0 = 0x736f6d6570736575ull ^ k[0], v1 = 0x646f72616e646f6dull ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ull ^ k[0], v3 = 0x7465646279746573ull ^ k[1];
    const uint64_t last = (uint64_t)8 << 56; /* the length, no bytes left */
    v3 ^= m;
    SPAK_SIP_ROUND(v0, v1, v2, v3);
    SPAK_SIP_ROUND(v0, v1, v2, v3);
    v0 ^= m;
    v3 ^= last;
    SPAK_SIP_ROUND(v0, v1, v2, v3);
    SPAK_SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SPAK_SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

#endif
