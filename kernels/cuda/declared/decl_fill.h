/*
 * kernels/cuda/declared/decl_fill.h - the value of element i of a declared
 * kernel's buffer under its fill, from a seed the judge draws right before
 * (decl_core.h: normal, uniform, constant, index, zero). Counter based:
 * element i depends only on (seed, i), so any launch shape of the judge's
 * fill kernel writes the same data, and the judge regenerates a call's
 * inputs for the reference from the seed alone. One formula for the host
 * (cc: test_decl_core.c checks its moments) and the device (nvcc: the
 * judge's fill kernel); static inline, no state.
 */
#ifndef SPAK_DECL_FILL_H
#define SPAK_DECL_FILL_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define DC_HD __host__ __device__
#else
#define DC_HD
#endif

/* splitmix64's finalizer on x + the golden increment */
static inline DC_HD uint64_t dc_mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* a uniform double in [0, 1) from 53 bits of r */
static inline DC_HD double dc_unit(uint64_t r)
{
    return (double)(r >> 11) * (1.0 / 9007199254740992.0);
}

/* element i's value (before the cast to the buffer's type): fill is enum
 * dc_fill (0 normal, 1 uniform, 2 constant, 3 index, 4 zero), a0/a1 its
 * arguments (mean, sd | lo, hi | v) */
static inline DC_HD double dc_fill_value(int fill, double a0, double a1, uint64_t seed, uint64_t i)
{
    uint64_t r = dc_mix(seed ^ dc_mix(i));
    switch (fill) {
    case 0: {
        /* Box-Muller: u1 in (0, 1], so the log is finite */
        double u1 = 1.0 - dc_unit(r), u2 = dc_unit(dc_mix(r));
        return a0 + a1 * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    }
    case 1:
        return a0 + (a1 - a0) * dc_unit(r);
    case 2:
        return a0;
    case 3:
        return (double)i;
    default:
        return 0.0;
    }
}

#endif
