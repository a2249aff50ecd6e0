/*
 * tests/declared/redteam/solve.h - the CPU judge's input generator as it
 * was until 2026-12-06 (xoshiro256** and the fast normal fill of
 * kernels/cpu/common/check.c), and its state solved from the values of one
 * input set: the red team's predict.c and mm_freivalds.c include it. See
 * predict.c for how the solve works.
 */
#ifndef REDTEAM_SOLVE_H
#define REDTEAM_SOLVE_H
#pragma GCC optimize("fp-contract=off")
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- the judge's generator and fill, as in kernels/cpu/common ---------- */
typedef struct rng {
    uint64_t s[4];
    double spare;
    int has_spare;
} rng;

static uint64_t rng_next(rng *r)
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

#define NQ 4096
static float quant[NQ + 1];

static void init_quantiles(void)
{
    quant[0] = -3.9f;
    quant[NQ] = 3.9f;
    for (int i = 1; i < NQ; i++) {
        double p = (double)i / NQ, lo = -6, hi = 6;
        for (int t = 0; t < 60; t++) {
            double mid = (lo + hi) / 2;
            if (0.5 * erfc(-mid / sqrt(2.0)) < p)
                lo = mid;
            else
                hi = mid;
        }
        quant[i] = (float)((lo + hi) / 2);
    }
}

static float val(uint32_t b)
{
    unsigned q = b >> 20;
    float u = (float)(b & 0xfffff) * (1.0f / 1048576.0f);
    return quant[q] + (quant[q + 1] - quant[q]) * u;
}

/* the draws of a fill of n normals (cpu_fill_normal): into x when x */
static void fill(rng *r, float *x, long n)
{
    long j = 0;
    for (; j + 2 <= n; j += 2) {
        uint64_t v = rng_next(r);
        if (x) x[j] = val((uint32_t)v), x[j + 1] = val((uint32_t)(v >> 32));
    }
    if (j < n) { /* rng_normal: two draws, or the spare */
        if (r->has_spare)
            r->has_spare = 0;
        else {
            rng_next(r), rng_next(r);
            r->has_spare = 1;
        }
    }
}

/* the one b with val(b) == x, or -1 */
static int64_t invert(float x)
{
    int lo = 0, hi = NQ; /* the bin: quant[q] <= x < quant[q+1] */
    if (!(x >= quant[0] && x < quant[NQ])) return -1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (quant[mid] <= x) lo = mid;
        else hi = mid;
    }
    int64_t found = -1;
    int nfound = 0;
    for (int q = lo - 1; q <= lo + 1; q++) {
        if (q < 0 || q >= NQ) continue;
        uint32_t a = 0, b = 1u << 20; /* first u with val >= x */
        while (a < b) {
            uint32_t m = (a + b) / 2;
            if (val(((uint32_t)q << 20) | m) < x) a = m + 1;
            else b = m;
        }
        for (uint32_t u = a; u < (1u << 20) && val(((uint32_t)q << 20) | u) == x; u++) {
            found = ((int64_t)q << 20) | u;
            nfound++;
        }
    }
    return nfound == 1 ? found : -1;
}

/* ---- recovery: GF(2) equations on the state at the fill's start -------- */
typedef struct row { uint64_t w[4]; int rhs; } row;
static row basis[256];
static int have[256], rank_;
static uint64_t sym[256][4]; /* state bit 64*k+b as a combination of the start's bits */

static void add_eq(const uint64_t w[4], int rhs)
{
    row r;
    memcpy(r.w, w, sizeof r.w);
    r.rhs = rhs;
    for (int bit = 255; bit >= 0; bit--) {
        if (!((r.w[bit / 64] >> (bit % 64)) & 1)) continue;
        if (!have[bit]) {
            basis[bit] = r, have[bit] = 1, rank_++;
            return;
        }
        for (int k = 0; k < 4; k++) r.w[k] ^= basis[bit].w[k];
        r.rhs ^= basis[bit].rhs;
    }
}

static void sym_step(void)
{
    static uint64_t t[64][4], old3[64][4];
    for (int b = 0; b < 64; b++)
        for (int k = 0; k < 4; k++) t[b][k] = b >= 17 ? sym[64 + b - 17][k] : 0;
    for (int b = 0; b < 64; b++)
        for (int k = 0; k < 4; k++) {
            sym[128 + b][k] ^= sym[b][k];      /* s2 ^= s0 */
            sym[192 + b][k] ^= sym[64 + b][k]; /* s3 ^= s1 */
            sym[64 + b][k] ^= sym[128 + b][k]; /* s1 ^= s2 */
            sym[b][k] ^= sym[192 + b][k];      /* s0 ^= s3 */
            sym[128 + b][k] ^= t[b][k];        /* s2 ^= t */
        }
    memcpy(old3, &sym[192], sizeof old3);
    for (int b = 0; b < 64; b++) memcpy(sym[192 + b], old3[(b + 64 - 45) % 64], sizeof old3[0]);
}

static uint64_t inverse(uint64_t a) /* mod 2^64, a odd */
{
    uint64_t x = a;
    for (int i = 0; i < 6; i++) x *= 2 - a * x;
    return x;
}

/* the generator at the start of the fill that made x[0..n), or 0 */
static int recover(const float *x, long n, rng *out)
{
    memset(have, 0, sizeof have);
    rank_ = 0;
    memset(sym, 0, sizeof sym);
    for (int i = 0; i < 256; i++) sym[i][i / 64] = 1ull << (i % 64);
    uint64_t inv9 = inverse(9), inv5 = inverse(5);
    long i;
    for (i = 0; 2 * i + 1 < n && rank_ < 256 && i < 200000; i++) {
        int64_t lo = invert(x[2 * i]);
        if (lo >= 0) {
            uint32_t r32 = (uint32_t)lo * (uint32_t)inv9;
            uint32_t p25 = (r32 >> 7) & ((1u << 25) - 1);
            uint32_t s25 = (p25 * (uint32_t)inv5) & ((1u << 25) - 1);
            for (int b = 0; b < 25; b++) add_eq(sym[64 + b], (s25 >> b) & 1);
        }
        sym_step();
    }
    if (rank_ < 256) {
        fprintf(stderr, "redteam: recovery rank %d after %ld outputs\n", rank_, i);
        return 0;
    }
    int v[256];
    for (int bit = 0; bit < 256; bit++) {
        int p = basis[bit].rhs;
        for (int j = 0; j < bit; j++)
            if ((basis[bit].w[j / 64] >> (j % 64)) & 1) p ^= v[j];
        v[bit] = p;
    }
    memset(out, 0, sizeof *out);
    for (int bit = 0; bit < 256; bit++) out->s[bit / 64] |= (uint64_t)v[bit] << (bit % 64);
    rng t = *out;
    float chk[256];
    fill(&t, chk, 256);
    int ok = memcmp(chk, x, sizeof chk) == 0;
    fprintf(stderr, "redteam: recovered the judge's generator from %ld outputs: %s\n", i,
            ok ? "its first 256 inputs reproduce" : "WRONG");
    return ok;
}

#endif
