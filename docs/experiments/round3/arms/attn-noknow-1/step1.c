/*
 * Flash-style fp32 attention, AVX-512, pthreads.
 * Per (b,h): K packed into 64-key panels Kp[chunk][d][64].
 * Work unit = (bh, query block of BQ = RR*QS rows). For each query block,
 * loop over key blocks of BK keys; for each strip of RR rows:
 *   S = Q K^T (RR x BK, register tiles RR x 64), online softmax (exp2 poly),
 *   O_strip = O_strip*alpha + P V (register tile RR x 64 columns).
 * Tunables: RR (rows per strip, 4 or 6), QS (strips per query block), BK (multiple of 64).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef RR
#define RR 6
#endif
#ifndef QS
#define QS 4
#endif
#ifndef BK
#define BK 64
#endif
#define BQ (RR * QS)
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

/* scores for RR rows x NV key vectors (NV<=4) of one 64-key chunk. */
AI void qk_chunk(const float *const *qr, const float *kp, int D, const int NV, float *sout, __m512 *rmax,
                 int domask, int kbase, const int *lim)
{
    __m512 acc[RR][4];
#pragma GCC unroll 8
    for (int r = 0; r < RR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 kv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) kv[v] = _mm512_load_ps(kp + (size_t)d * 64 + v * 16);
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++) {
            __m512 qb = _mm512_set1_ps(qr[r][d]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(qb, kv[v], acc[r][v]);
        }
    }
    if (domask) {
        const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++) {
            __m512i lv = _mm512_set1_epi32(lim[r]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
                __m512i idx = _mm512_add_epi32(iota, _mm512_set1_epi32(kbase + v * 16));
                __mmask16 m = _mm512_cmplt_epi32_mask(idx, lv);
                acc[r][v] = _mm512_mask_mov_ps(ninf, m, acc[r][v]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            rmax[r] = _mm512_max_ps(rmax[r], acc[r][v]);
            _mm512_store_ps(sout + (size_t)r * BK + v * 16, acc[r][v]);
        }
}

/* O tile (RR rows x NV vectors of columns) = O*alpha + P V */
AI void pv_chunk(const float *P, const float *vb, int D, int jn, const int NV, __mmask16 mlast, float *ob, int Dp,
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
#pragma GCC unroll 8
        for (int r = 0; r < RR; r++) {
            __m512 pb = _mm512_set1_ps(P[(size_t)r * BK + j]);
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
    int ret;
} targ;

static void *worker(void *p)
{
    targ *a = (targ *)p;
    const int S = a->S, D = a->D, causal = a->causal, T = a->T, tid = a->tid;
    const long BH = (long)a->B * a->H;
    const int Dp = (D + 15) & ~15, DV = Dp / 16;
    const int S64 = (S + 63) & ~63;
    const int nqb = (S + BQ - 1) / BQ;
    const __mmask16 mlast = (D % 16) ? (__mmask16)((1u << (D % 16)) - 1) : (__mmask16)0xFFFF;
    const float c = (float)(1.4426950408889634 / sqrt((double)D));

    float *Kp = aligned_alloc(64, sizeof(float) * (size_t)S64 * D + 64);
    float *Sb = aligned_alloc(64, sizeof(float) * RR * BK);
    float *Ob = aligned_alloc(64, sizeof(float) * (size_t)BQ * Dp);
    float *Lb = aligned_alloc(64, sizeof(float) * BQ * 16);
    float Mb[BQ];
    if (!Kp || !Sb || !Ob || !Lb) {
        free(Kp); free(Sb); free(Ob); free(Lb);
        a->ret = 2;
        return NULL;
    }
    long packed = -1;

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
        if (packed != bh) {
            for (int ch = 0; ch < S64 / 64; ch++) {
                float *dst = Kp + (size_t)ch * D * 64;
                for (int d = 0; d < D; d++)
                    for (int t = 0; t < 64; t++) {
                        int j = ch * 64 + t;
                        dst[(size_t)d * 64 + t] = j < S ? Kh[(size_t)j * D + d] : 0.0f;
                    }
            }
            packed = bh;
        }
        const int q0 = qb * BQ;
        /* key range for this block */
        int qlast = q0 + BQ - 1;
        if (qlast > S - 1) qlast = S - 1;
        const int kend_blk = causal ? qlast + 1 : S;
        for (int r = 0; r < BQ; r++) Mb[r] = -INFINITY;
        memset(Lb, 0, sizeof(float) * BQ * 16);

        for (int k0 = 0; k0 < kend_blk; k0 += BK) {
            for (int s = 0; s < QS; s++) {
                const int i0 = q0 + s * RR;
                if (i0 >= S) break;
                const float *qr[RR];
                int lim[RR];
                int kend = 0, kmin = S;
                for (int r = 0; r < RR; r++) {
                    int i = i0 + r;
                    int ic = i < S ? i : S - 1;
                    qr[r] = Qh + (size_t)ic * D;
                    int l = causal ? (i + 1 < S ? i + 1 : S) : S;
                    lim[r] = l;
                    if (l > kend) kend = l;
                    if (l < kmin) kmin = l;
                }
                if (k0 >= kend) continue;
                int bkv = kend - k0;
                if (bkv > BK) bkv = BK;
                const int nkv = (bkv + 15) / 16;
                const int domask = (k0 + nkv * 16 > kmin);
                __m512 rmax[RR];
                for (int r = 0; r < RR; r++) rmax[r] = _mm512_set1_ps(-INFINITY);
                for (int ch = 0; ch * 4 < nkv; ch++) {
                    int nv = nkv - ch * 4;
                    const float *kp = Kp + (size_t)((k0 >> 6) + ch) * D * 64;
                    float *so = Sb + ch * 64;
                    int kb = k0 + ch * 64;
                    switch (nv) {
                    case 1: qk_chunk(qr, kp, D, 1, so, rmax, domask, kb, lim); break;
                    case 2: qk_chunk(qr, kp, D, 2, so, rmax, domask, kb, lim); break;
                    case 3: qk_chunk(qr, kp, D, 3, so, rmax, domask, kb, lim); break;
                    default: qk_chunk(qr, kp, D, 4, so, rmax, domask, kb, lim); break;
                    }
                }
                /* online softmax */
                float alpha[RR];
                const __m512 cv = _mm512_set1_ps(c);
                for (int r = 0; r < RR; r++) {
                    float hm = _mm512_reduce_max_ps(rmax[r]);
                    float mo = Mb[s * RR + r];
                    float mn = mo > hm ? mo : hm;
                    Mb[s * RR + r] = mn;
                    __m512 al = exp2_ps(_mm512_set1_ps((mo - mn) * c));
                    alpha[r] = _mm512_cvtss_f32(al);
                    const __m512 mc = _mm512_set1_ps(-mn * c);
                    __m512 sum = _mm512_setzero_ps();
                    float *sr = Sb + (size_t)r * BK;
                    for (int v = 0; v < nkv; v++) {
                        __m512 pv = exp2_ps(_mm512_fmadd_ps(_mm512_load_ps(sr + v * 16), cv, mc));
                        _mm512_store_ps(sr + v * 16, pv);
                        sum = _mm512_add_ps(sum, pv);
                    }
                    float *lr = Lb + (size_t)(s * RR + r) * 16;
                    _mm512_store_ps(lr, _mm512_fmadd_ps(_mm512_load_ps(lr), al, sum));
                }
                /* O += P V */
                const int first = (k0 == 0);
                const float *vb = Vh + (size_t)k0 * D;
                float *ob = Ob + (size_t)s * RR * Dp;
                for (int cc = 0; cc < DV; cc += 4) {
                    int nv = DV - cc;
                    __mmask16 ml = (cc + 4 >= DV) ? mlast : (__mmask16)0xFFFF;
                    switch (nv) {
                    case 1: pv_chunk(Sb, vb + cc * 16, D, bkv, 1, ml, ob + cc * 16, Dp, alpha, first); break;
                    case 2: pv_chunk(Sb, vb + cc * 16, D, bkv, 2, ml, ob + cc * 16, Dp, alpha, first); break;
                    case 3: pv_chunk(Sb, vb + cc * 16, D, bkv, 3, ml, ob + cc * 16, Dp, alpha, first); break;
                    default: pv_chunk(Sb, vb + cc * 16, D, bkv, 4, ml, ob + cc * 16, Dp, alpha, first); break;
                    }
                }
            }
        }
        /* finalize */
        for (int r = 0; r < BQ; r++) {
            int i = q0 + r;
            if (i >= S) break;
            float l = _mm512_reduce_add_ps(_mm512_load_ps(Lb + (size_t)r * 16));
            __m512 inv = _mm512_set1_ps(1.0f / l);
            const float *orow = Ob + (size_t)r * Dp;
            float *dst = Oh + (size_t)i * D;
            for (int v = 0; v < DV; v++) {
                __mmask16 m = (v == DV - 1) ? mlast : (__mmask16)0xFFFF;
                _mm512_mask_storeu_ps(dst + v * 16, m, _mm512_mul_ps(_mm512_load_ps(orow + v * 16), inv));
            }
        }
    }
    free(Kp);
    free(Sb);
    free(Ob);
    free(Lb);
    a->ret = 0;
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
        args[t] = (targ){B, H, S, D, causal, T, t, Q, K, V, O, 0};
        started[t] = 0;
    }
    for (int t = 1; t < T; t++) started[t] = pthread_create(&th[t], NULL, worker, &args[t]) == 0;
    worker(&args[0]);
    int ret = args[0].ret;
    for (int t = 1; t < T; t++) {
        if (started[t]) {
            pthread_join(th[t], NULL);
            if (args[t].ret) ret = args[t].ret;
        } else {
            /* could not start: do its share here */
            worker(&args[t]);
            if (args[t].ret) ret = args[t].ret;
        }
    }
    return ret;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32", "RR QS BK"};
const spak_kernel_info *spak_info(void) { return &info; }
