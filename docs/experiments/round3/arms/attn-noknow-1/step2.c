/*
 * Flash-style fp32 attention, AVX-512, pthreads - "transposed scores" variant.
 * Work unit = (bh, query block of BQ = 16*QV rows).
 *  - Q block packed transposed and pre-scaled: QT[d][BQ] = Q[i][d] * log2(e)/sqrt(D).
 *  - QK: S^T tile RK keys x QV query vectors (broadcast K[j][d] straight from K,
 *    load QT[d][:]); lanes are query rows, so the row max / row sum of the
 *    online softmax are vertical (no horizontal reductions), exp2 per vector.
 *  - PV: O tile RR query rows x 64 columns (broadcast P[i][j] from ST, V rows).
 * No K packing, all scratch on the thread stack (no per-call page faults).
 * Tunables: QV (query vectors per block: 2, 3, 4), BK (keys per block).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef QV
#define QV 3
#endif
#ifndef BK
#define BK 128
#endif
#define BQ (16 * QV)
#if QV == 3
#define RK 8
#define RR 6
#elif QV == 2
#define RK 12
#define RR 4
#else
#define RK 6
#define RR 4
#endif
#define MAXT 64

#define AI __attribute__((always_inline)) static inline

AI __m512 exp2_ps(__m512 t)
{
    t = _mm512_max_ps(t, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.5403530393381608e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* S^T rows for up to RK keys (kr[r] = K row of key r), all BQ queries. */
AI void qk_group(const float *const *kr, const float *QT, int D, int jn, float *st, __m512 *mx, int domask, int jbase,
                 int i0)
{
    __m512 acc[RK][QV];
#pragma GCC unroll 16
    for (int r = 0; r < RK; r++)
#pragma GCC unroll 4
        for (int v = 0; v < QV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 qv[QV];
#pragma GCC unroll 4
        for (int v = 0; v < QV; v++) qv[v] = _mm512_load_ps(QT + (size_t)d * BQ + v * 16);
#pragma GCC unroll 16
        for (int r = 0; r < RK; r++) {
            __m512 kb = _mm512_set1_ps(kr[r][d]);
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) acc[r][v] = _mm512_fmadd_ps(kb, qv[v], acc[r][v]);
        }
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 16
    for (int r = 0; r < RK; r++) {
        if (r < jn) {
            __m512i jv = _mm512_set1_epi32(jbase + r);
#pragma GCC unroll 4
            for (int v = 0; v < QV; v++) {
                __m512 s = acc[r][v];
                if (domask) {
                    /* valid iff key j <= query i */
                    __m512i iv = _mm512_add_epi32(iota, _mm512_set1_epi32(i0 + v * 16));
                    __mmask16 m = _mm512_cmp_epi32_mask(jv, iv, _MM_CMPINT_LE);
                    s = _mm512_mask_mov_ps(ninf, m, s);
                }
                mx[v] = _mm512_max_ps(mx[v], s);
                _mm512_store_ps(st + (size_t)r * BQ + v * 16, s);
            }
        }
    }
}

/* O tile (RR rows x NV column vectors) = O*alpha + P V ; P[r][j] = pt[j*BQ + r] */
AI void pv_chunk(const float *pt, const float *vb, int D, int jn, const int NV, __mmask16 mlast, float *ob, int Dp,
                 const float *alpha, int first)
{
    __m512 acc[RR][4];
    if (first) {
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++) {
            __m512 a = _mm512_set1_ps(alpha[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_mul_ps(a, _mm512_load_ps(ob + (size_t)r * Dp + v * 16));
        }
    }
    for (int j = 0; j < jn; j++) {
        __m512 vv[4];
        const float *vr = vb + (size_t)j * D;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            vv[v] = (v == NV - 1) ? _mm512_maskz_loadu_ps(mlast, vr + v * 16) : _mm512_loadu_ps(vr + v * 16);
        const float *pj = pt + (size_t)j * BQ;
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++) {
            __m512 pb = _mm512_set1_ps(pj[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(pb, vv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_store_ps(ob + (size_t)r * Dp + v * 16, acc[r][v]);
}

typedef struct {
    int B, H, S, D, causal, T, tid;
    const float *Q, *K, *V;
    float *O;
} targ;

static void *worker(void *p)
{
    targ *a = (targ *)p;
    const int S = a->S, D = a->D, causal = a->causal, T = a->T, tid = a->tid;
    const long BH = (long)a->B * a->H;
    const int Dp = (D + 15) & ~15, DV = Dp / 16;
    const int nqb = (S + BQ - 1) / BQ;
    const __mmask16 mlast = (D % 16) ? (__mmask16)((1u << (D % 16)) - 1) : (__mmask16)0xFFFF;
    const float c = (float)(1.4426950408889634 / sqrt((double)D));

    float QT[SPAK_ATTN_MAX_D * BQ] __attribute__((aligned(64)));
    float ST[BK * BQ] __attribute__((aligned(64)));
    float Ob[BQ * SPAK_ATTN_MAX_D] __attribute__((aligned(64)));
    float alpha[BQ] __attribute__((aligned(64)));
    float lsum[BQ] __attribute__((aligned(64)));

    /* weighted contiguous partition of units */
    double W = 0;
    for (int qb = 0; qb < nqb; qb++) W += causal ? (double)(qb + 1) : 1.0;
    W *= (double)BH;
    double cum = 0;
    long nunits = BH * nqb;
    for (long u = 0; u < nunits; u++) {
        long bh = u / nqb;
        int qb = (int)(u % nqb);
        double w = causal ? (double)(qb + 1) : 1.0;
        int owner = (int)((cum + 0.5 * w) * T / W);
        cum += w;
        if (owner >= T) owner = T - 1;
        if (owner != tid) continue;

        const float *Qh = a->Q + bh * (long)S * D;
        const float *Kh = a->K + bh * (long)S * D;
        const float *Vh = a->V + bh * (long)S * D;
        float *Oh = a->O + bh * (long)S * D;
        const int i0 = qb * BQ;
        const int nq = (S - i0 < BQ) ? S - i0 : BQ; /* valid query rows */
        /* pack Q^T scaled */
        for (int i = 0; i < BQ; i++) {
            if (i < nq) {
                const float *qr = Qh + (size_t)(i0 + i) * D;
                for (int d = 0; d < D; d++) QT[(size_t)d * BQ + i] = qr[d] * c;
            } else {
                for (int d = 0; d < D; d++) QT[(size_t)d * BQ + i] = 0.0f;
            }
        }
        __m512 m[QV], l[QV];
        for (int v = 0; v < QV; v++) {
            m[v] = _mm512_set1_ps(-INFINITY);
            l[v] = _mm512_setzero_ps();
        }
        const int kend = causal ? i0 + nq : S;
        for (int k0 = 0; k0 < kend; k0 += BK) {
            const int bkv = (kend - k0 < BK) ? kend - k0 : BK;
            const int domask = causal && (k0 + bkv - 1 > i0);
            __m512 mx[QV];
            for (int v = 0; v < QV; v++) mx[v] = _mm512_set1_ps(-INFINITY);
            for (int jg = 0; jg < bkv; jg += RK) {
                const int jn = (bkv - jg < RK) ? bkv - jg : RK;
                const float *kr[RK];
                for (int r = 0; r < RK; r++) {
                    int j = k0 + jg + r;
                    if (j > S - 1) j = S - 1;
                    kr[r] = Kh + (size_t)j * D;
                }
                qk_group(kr, QT, D, jn, ST + (size_t)jg * BQ, mx, domask, k0 + jg, i0);
            }
            /* online softmax, vertical */
            for (int v = 0; v < QV; v++) {
                __m512 mn = _mm512_max_ps(m[v], mx[v]);
                __m512 al = exp2_ps(_mm512_sub_ps(m[v], mn));
                m[v] = mn;
                _mm512_store_ps(alpha + v * 16, al);
                __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
                float *sp = ST + v * 16;
                int j = 0;
                for (; j + 1 < bkv; j += 2) {
                    __m512 p0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp + (size_t)j * BQ), mn));
                    __m512 p1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp + (size_t)(j + 1) * BQ), mn));
                    _mm512_store_ps(sp + (size_t)j * BQ, p0);
                    _mm512_store_ps(sp + (size_t)(j + 1) * BQ, p1);
                    s0 = _mm512_add_ps(s0, p0);
                    s1 = _mm512_add_ps(s1, p1);
                }
                if (j < bkv) {
                    __m512 p0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sp + (size_t)j * BQ), mn));
                    _mm512_store_ps(sp + (size_t)j * BQ, p0);
                    s0 = _mm512_add_ps(s0, p0);
                }
                l[v] = _mm512_fmadd_ps(l[v], al, _mm512_add_ps(s0, s1));
            }
            /* O += P V, strips of RR query rows */
            const int first = (k0 == 0);
            const float *vb = Vh + (size_t)k0 * D;
            for (int s = 0; s < BQ / RR; s++) {
                const int r0 = s * RR;
                if (r0 >= nq) break;
                int jn = bkv;
                if (causal) {
                    int lastrow = i0 + r0 + RR - 1;
                    if (lastrow - k0 + 1 < jn) jn = lastrow - k0 + 1;
                    if (jn <= 0) continue; /* rows all before this block: alpha == 1, P == 0 */
                }
                float *ob = Ob + (size_t)r0 * Dp;
                for (int cc = 0; cc < DV; cc += 4) {
                    int nv = DV - cc;
                    __mmask16 ml = (cc + 4 >= DV) ? mlast : (__mmask16)0xFFFF;
                    switch (nv) {
                    case 1: pv_chunk(ST + r0, vb + cc * 16, D, jn, 1, ml, ob + cc * 16, Dp, alpha + r0, first); break;
                    case 2: pv_chunk(ST + r0, vb + cc * 16, D, jn, 2, ml, ob + cc * 16, Dp, alpha + r0, first); break;
                    case 3: pv_chunk(ST + r0, vb + cc * 16, D, jn, 3, ml, ob + cc * 16, Dp, alpha + r0, first); break;
                    default: pv_chunk(ST + r0, vb + cc * 16, D, jn, 4, ml, ob + cc * 16, Dp, alpha + r0, first); break;
                    }
                }
            }
        }
        /* finalize */
        for (int v = 0; v < QV; v++) _mm512_store_ps(lsum + v * 16, l[v]);
        for (int r = 0; r < nq; r++) {
            __m512 inv = _mm512_set1_ps(1.0f / lsum[r]);
            const float *orow = Ob + (size_t)r * Dp;
            float *dst = Oh + (size_t)(i0 + r) * D;
            for (int v = 0; v < DV; v++) {
                __mmask16 mm = (v == DV - 1) ? mlast : (__mmask16)0xFFFF;
                _mm512_mask_storeu_ps(dst + v * 16, mm, _mm512_mul_ps(_mm512_load_ps(orow + v * 16), inv));
            }
        }
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    long nunits = (long)B * H * ((S + BQ - 1) / BQ);
    long np = sysconf(_SC_NPROCESSORS_ONLN);
    if (np < 1) np = 1;
    if (np > MAXT) np = MAXT;
    int T = (int)(np < nunits ? np : nunits);
    targ args[MAXT];
    pthread_t th[MAXT];
    int started[MAXT];
    for (int t = 0; t < T; t++) {
        args[t] = (targ){B, H, S, D, causal, T, t, Q, K, V, O};
        started[t] = 0;
    }
    for (int t = 1; t < T; t++) started[t] = pthread_create(&th[t], NULL, worker, &args[t]) == 0;
    worker(&args[0]);
    for (int t = 1; t < T; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            worker(&args[t]);
    }
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512-st", "fp32", "QV BK"};
const spak_kernel_info *spak_info(void) { return &info; }
