/*
 * step1.c - fused, tiled, AVX-512, multi-threaded attention forward (fp32).
 *
 * Per (batch, head) a worker transposes K into a blocked layout
 *   Kt[jb][d][SCOLS]  (zero-padded past S), contiguous per key block,
 * then for each tile of RT query rows:
 *   1. scores  P[RT][jn] = (Qtile K^T) * 1/sqrt(D)   (register tile RT x SCOLS)
 *   2. exact row softmax (max, exp, sum) in place, normalisation deferred
 *   3. O[RT][D] = P V / l                               (register tile RT x 16*PNC)
 * Causal: only keys j < min(S, i0+RT) are touched by a tile; P is zeroed for j >= i+1.
 * Work items (bh, group of GT tiles) are handed out dynamically to one thread per core.
 *
 * Tunable: RT (query rows per register tile) in {4, 6, 8, 12}; SNC/PNC follow.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef RT
#define RT 6
#endif
#if RT == 4
#define SNC 6
#define PNC 4
#elif RT == 6
#define SNC 4
#define PNC 4
#elif RT == 8
#define SNC 3
#define PNC 3
#elif RT == 12
#define SNC 2
#define PNC 2
#else
#error "RT must be 4, 6, 8 or 12"
#endif
#define SCOLS (16 * SNC)
#ifndef GT
#define GT 8 /* tiles per work item */
#endif

#define AI static inline __attribute__((always_inline))

AI __m512 exp512(__m512 x)
{
    /* Cephes-style expf: x = n ln2 + r, |r| <= ln2/2, degree-6 poly, 2^n via scalef. */
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    __m512 y = _mm512_fmadd_ps(p, r2, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, n);
}

/* P[r][0..SCOLS) = scale * sum_d qt[d][r] * ktb[d][0..SCOLS) */
AI void score_tile(const float *qt, const float *ktb, int D, float *p, long ldp, float scale)
{
    __m512 acc[RT][SNC];
#pragma GCC unroll 16
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 8
        for (int c = 0; c < SNC; c++) acc[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kd = ktb + (long)d * SCOLS;
        const float *qd = qt + (long)d * RT;
        __m512 kv[SNC];
#pragma GCC unroll 8
        for (int c = 0; c < SNC; c++) kv[c] = _mm512_loadu_ps(kd + 16 * c);
#pragma GCC unroll 16
        for (int r = 0; r < RT; r++) {
            __m512 b = _mm512_set1_ps(qd[r]);
#pragma GCC unroll 8
            for (int c = 0; c < SNC; c++) acc[r][c] = _mm512_fmadd_ps(b, kv[c], acc[r][c]);
        }
    }
    __m512 sc = _mm512_set1_ps(scale);
#pragma GCC unroll 16
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 8
        for (int c = 0; c < SNC; c++) _mm512_storeu_ps(p + r * ldp + 16 * c, _mm512_mul_ps(acc[r][c], sc));
}

/* O[r][d0 .. d0+16*nc) = invl[r] * sum_{j<jn} P[r][j] V[j][d0..] ; last vector masked. */
AI void pv_tile(const float *P, long ldp, const float *v, int D, int jn, int d0, const int nc,
                __mmask16 lastmask, float *o, int rows, const float *invl)
{
    __m512 acc[RT][4];
#pragma GCC unroll 16
    for (int r = 0; r < RT; r++)
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int j = 0; j < jn; j++) {
        const float *vj = v + (long)j * D + d0;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (c < nc - 1)
                vv[c] = _mm512_loadu_ps(vj + 16 * c);
            else if (c == nc - 1)
                vv[c] = _mm512_maskz_loadu_ps(lastmask, vj + 16 * c);
            else
                vv[c] = _mm512_setzero_ps();
        }
        const float *pj = P + j;
#pragma GCC unroll 16
        for (int r = 0; r < RT; r++) {
            __m512 b = _mm512_set1_ps(pj[r * ldp]);
#pragma GCC unroll 4
            for (int c = 0; c < 4; c++)
                if (c < nc) acc[r][c] = _mm512_fmadd_ps(b, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < RT; r++) {
        if (r >= rows) break;
        __m512 il = _mm512_set1_ps(invl[r]);
        float *orow = o + (long)r * D + d0;
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            if (c < nc - 1)
                _mm512_storeu_ps(orow + 16 * c, _mm512_mul_ps(acc[r][c], il));
            else if (c == nc - 1)
                _mm512_mask_storeu_ps(orow + 16 * c, lastmask, _mm512_mul_ps(acc[r][c], il));
        }
    }
}

typedef struct {
    int S, D, causal;
    long nbh, gph, nitems;
    const float *Q, *K, *V;
    float *O;
    long counter; /* atomic: next item */
    long done;    /* atomic: items finished */
} job_t;

static void process_tile(const job_t *jb, const float *q, const float *v, float *o, const float *kt,
                         float *P, float *qt, long Sp, int i0)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const float scale = 1.0f / sqrtf((float)D);
    const int rows = (S - i0) < RT ? (S - i0) : RT;
    const int jn = causal ? ((i0 + RT) < S ? (i0 + RT) : S) : S;
    const int jc = (jn + SCOLS - 1) / SCOLS * SCOLS;
    float invl[RT];

    /* pack Q tile transposed: qt[d][r] */
    for (int r = 0; r < RT; r++) {
        if (r < rows) {
            const float *qr = q + (long)(i0 + r) * D;
            for (int d = 0; d < D; d++) qt[(long)d * RT + r] = qr[d];
        } else {
            for (int d = 0; d < D; d++) qt[(long)d * RT + r] = 0.0f;
        }
    }

    /* 1. scores */
    for (int j0 = 0; j0 < jc; j0 += SCOLS)
        score_tile(qt, kt + (long)j0 * D, D, P + j0, Sp, scale);

    /* 2. softmax, row by row */
    for (int r = 0; r < RT; r++) {
        float *p = P + (long)r * Sp;
        if (r >= rows) {
            memset(p, 0, sizeof(float) * (size_t)jn);
            invl[r] = 0.0f;
            continue;
        }
        const int i = i0 + r;
        const int n = causal ? i + 1 : S;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(p + j));
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            vm = _mm512_mask_max_ps(vm, mk, vm, _mm512_maskz_loadu_ps(mk, p + j));
        }
        const float m = _mm512_reduce_max_ps(vm);
        const __m512 vmm = _mm512_set1_ps(m);
        __m512 vs = _mm512_setzero_ps();
        for (j = 0; j + 16 <= n; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(p + j), vmm));
            _mm512_storeu_ps(p + j, e);
            vs = _mm512_add_ps(vs, e);
        }
        if (j < n) {
            __mmask16 mk = (__mmask16)((1u << (n - j)) - 1u);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, p + j), vmm));
            e = _mm512_maskz_mov_ps(mk, e);
            _mm512_storeu_ps(p + j, e); /* row has Sp >= j+16 floats; zeros past n */
            vs = _mm512_add_ps(vs, e);
            j += 16;
        }
        for (; j < jn; j++) p[j] = 0.0f;
        invl[r] = 1.0f / _mm512_reduce_add_ps(vs);
    }

    /* 3. O = P V / l */
    const int nz = (D + 15) / 16;
    const __mmask16 tailmask = (D % 16) ? (__mmask16)((1u << (D % 16)) - 1u) : (__mmask16)0xFFFF;
    float *ot = o + (long)i0 * D;
    for (int c0 = 0; c0 < nz; c0 += PNC) {
        int nc = nz - c0 < PNC ? nz - c0 : PNC;
        __mmask16 lm = (c0 + nc == nz) ? tailmask : (__mmask16)0xFFFF;
        int d0 = c0 * 16;
        switch (nc) {
        case 1: pv_tile(P, Sp, v, D, jn, d0, 1, lm, ot, rows, invl); break;
        case 2: pv_tile(P, Sp, v, D, jn, d0, 2, lm, ot, rows, invl); break;
#if PNC >= 3
        case 3: pv_tile(P, Sp, v, D, jn, d0, 3, lm, ot, rows, invl); break;
#endif
#if PNC >= 4
        case 4: pv_tile(P, Sp, v, D, jn, d0, 4, lm, ot, rows, invl); break;
#endif
        default: break;
        }
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D;
    const long Sp = (long)(S + SCOLS - 1) / SCOLS * SCOLS;
    size_t ktb = ((size_t)D * (size_t)Sp * sizeof(float) + 63) / 64 * 64;
    size_t pb = ((size_t)RT * (size_t)Sp * sizeof(float) + 63) / 64 * 64;
    size_t qb = ((size_t)RT * (size_t)D * sizeof(float) + 63) / 64 * 64;
    float *kt = aligned_alloc(64, ktb);
    float *P = aligned_alloc(64, pb);
    float *qt = aligned_alloc(64, qb);
    if (!kt || !P || !qt) {
        free(kt);
        free(P);
        free(qt);
        return NULL;
    }
    const long SD = (long)S * D;
    const int ntiles = (S + RT - 1) / RT;
    long cur = -1;
    for (;;) {
        long it = __atomic_fetch_add(&jb->counter, 1, __ATOMIC_RELAXED);
        if (it >= jb->nitems) break;
        long bh = it / jb->gph;
        int g = (int)(it % jb->gph);
        const float *q = jb->Q + bh * SD, *v = jb->V + bh * SD;
        float *o = jb->O + bh * SD;
        if (bh != cur) {
            const float *k = jb->K + bh * SD;
            /* blocked transpose: kt[jb][d][SCOLS] */
            for (long j0 = 0; j0 < Sp; j0 += SCOLS) {
                float *blk = kt + j0 * D;
                for (int jj = 0; jj < SCOLS; jj++) {
                    long j = j0 + jj;
                    if (j < S) {
                        const float *kr = k + j * D;
                        for (int d = 0; d < D; d++) blk[(long)d * SCOLS + jj] = kr[d];
                    } else {
                        for (int d = 0; d < D; d++) blk[(long)d * SCOLS + jj] = 0.0f;
                    }
                }
            }
            cur = bh;
        }
        for (int t = 0; t < GT; t++) {
            int tile = g * GT + t;
            if (tile >= ntiles) break;
            process_tile(jb, q, v, o, kt, P, qt, Sp, tile * RT);
        }
        __atomic_fetch_add(&jb->done, 1, __ATOMIC_RELAXED);
    }
    free(kt);
    free(P);
    free(qt);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t jb;
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.nbh = (long)B * H;
    int ntiles = (S + RT - 1) / RT;
    jb.gph = (ntiles + GT - 1) / GT;
    jb.nitems = jb.nbh * jb.gph;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.counter = 0;
    jb.done = 0;

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > jb.nitems) nt = jb.nitems;
    pthread_t th[64];
    int started[64];
    for (long t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, worker, &jb) == 0;
    worker(&jb);
    for (long t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return __atomic_load_n(&jb.done, __ATOMIC_RELAXED) == jb.nitems ? 0 : 2;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/fused-tiled-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
