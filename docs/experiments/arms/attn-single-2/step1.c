/*
 * Flash-attention style fp32 CPU kernel: AVX-512, pthreads, online softmax.
 *   - K packed transposed per key block ([D][BK]), V padded ([Sp][Dp]);
 *   - tasks = (head, query block of BQ rows), dynamic scheduling;
 *   - QK^T and PV register-tiled micro-kernels (4 rows x 64 columns);
 *   - vectorized exp2 with Q pre-scaled by log2(e)/sqrt(D).
 * Tunables: BQ (multiple of 16), BK (multiple of 64), NTHREADS (0 = auto).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BQ
#define BQ 32
#endif
#ifndef BK
#define BK 64
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#define MAXT 64

#define STR2(x) #x
#define STR(x) STR2(x)

_Static_assert(BQ % 16 == 0 && BQ >= 16, "BQ must be a multiple of 16");
_Static_assert(BK % 64 == 0 && BK >= 64, "BK must be a multiple of 64");

typedef struct {
    int S, D, Dp, causal, nkb, Sp, nqb;
    long BH, ntasks;
    const float *Q, *K, *V;
    float *O;
    float *Kt; /* [BH][nkb][D][BK] */
    float *Vp; /* [BH][Sp][Dp] */
    float *ws; /* per-thread workspaces */
    size_t ws_floats;
    float qscale;
    long pack_next, task_next;
} ctx_t;

typedef struct {
    ctx_t *c;
    int tid;
} targ_t;

static inline __attribute__((always_inline)) __m512 exp2v(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f)); /* NaN -> -127 too */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 mask_for(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
}

/* S[4][64] = Q[4][0..D) . Kt[0..D)[64]   (Kt row stride BK, S row stride BK) */
static inline __attribute__((always_inline)) void qk_tile(const float *qb, int qs, const float *kt, int D,
                                                          float *sb)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
    __m512 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    __m512 a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    const float *q0 = qb, *q1 = qb + qs, *q2 = qb + 2 * qs, *q3 = qb + 3 * qs;
    for (int d = 0; d < D; d++) {
        const float *k = kt + (size_t)d * BK;
        __m512 k0 = _mm512_loadu_ps(k), k1 = _mm512_loadu_ps(k + 16);
        __m512 k2 = _mm512_loadu_ps(k + 32), k3 = _mm512_loadu_ps(k + 48);
        __m512 b;
        b = _mm512_set1_ps(q0[d]);
        a00 = _mm512_fmadd_ps(b, k0, a00); a01 = _mm512_fmadd_ps(b, k1, a01);
        a02 = _mm512_fmadd_ps(b, k2, a02); a03 = _mm512_fmadd_ps(b, k3, a03);
        b = _mm512_set1_ps(q1[d]);
        a10 = _mm512_fmadd_ps(b, k0, a10); a11 = _mm512_fmadd_ps(b, k1, a11);
        a12 = _mm512_fmadd_ps(b, k2, a12); a13 = _mm512_fmadd_ps(b, k3, a13);
        b = _mm512_set1_ps(q2[d]);
        a20 = _mm512_fmadd_ps(b, k0, a20); a21 = _mm512_fmadd_ps(b, k1, a21);
        a22 = _mm512_fmadd_ps(b, k2, a22); a23 = _mm512_fmadd_ps(b, k3, a23);
        b = _mm512_set1_ps(q3[d]);
        a30 = _mm512_fmadd_ps(b, k0, a30); a31 = _mm512_fmadd_ps(b, k1, a31);
        a32 = _mm512_fmadd_ps(b, k2, a32); a33 = _mm512_fmadd_ps(b, k3, a33);
    }
    _mm512_storeu_ps(sb, a00); _mm512_storeu_ps(sb + 16, a01);
    _mm512_storeu_ps(sb + 32, a02); _mm512_storeu_ps(sb + 48, a03);
    sb += BK;
    _mm512_storeu_ps(sb, a10); _mm512_storeu_ps(sb + 16, a11);
    _mm512_storeu_ps(sb + 32, a12); _mm512_storeu_ps(sb + 48, a13);
    sb += BK;
    _mm512_storeu_ps(sb, a20); _mm512_storeu_ps(sb + 16, a21);
    _mm512_storeu_ps(sb + 32, a22); _mm512_storeu_ps(sb + 48, a23);
    sb += BK;
    _mm512_storeu_ps(sb, a30); _mm512_storeu_ps(sb + 16, a31);
    _mm512_storeu_ps(sb + 32, a32); _mm512_storeu_ps(sb + 48, a33);
}

/* O[4][64] = alpha * O[4][64] + P[4][0..jn) . V[0..jn)[64]
 * (P row stride BK, V row stride Dp, O row stride Dp) */
static inline __attribute__((always_inline)) void pv_tile4(const float *pb, const float *vb, int Dp, int jn,
                                                           float *ob, const float *alp)
{
    float *o0 = ob, *o1 = ob + Dp, *o2 = ob + 2 * Dp, *o3 = ob + 3 * Dp;
    __m512 s;
    s = _mm512_set1_ps(alp[0]);
    __m512 a00 = _mm512_mul_ps(_mm512_loadu_ps(o0), s), a01 = _mm512_mul_ps(_mm512_loadu_ps(o0 + 16), s);
    __m512 a02 = _mm512_mul_ps(_mm512_loadu_ps(o0 + 32), s), a03 = _mm512_mul_ps(_mm512_loadu_ps(o0 + 48), s);
    s = _mm512_set1_ps(alp[1]);
    __m512 a10 = _mm512_mul_ps(_mm512_loadu_ps(o1), s), a11 = _mm512_mul_ps(_mm512_loadu_ps(o1 + 16), s);
    __m512 a12 = _mm512_mul_ps(_mm512_loadu_ps(o1 + 32), s), a13 = _mm512_mul_ps(_mm512_loadu_ps(o1 + 48), s);
    s = _mm512_set1_ps(alp[2]);
    __m512 a20 = _mm512_mul_ps(_mm512_loadu_ps(o2), s), a21 = _mm512_mul_ps(_mm512_loadu_ps(o2 + 16), s);
    __m512 a22 = _mm512_mul_ps(_mm512_loadu_ps(o2 + 32), s), a23 = _mm512_mul_ps(_mm512_loadu_ps(o2 + 48), s);
    s = _mm512_set1_ps(alp[3]);
    __m512 a30 = _mm512_mul_ps(_mm512_loadu_ps(o3), s), a31 = _mm512_mul_ps(_mm512_loadu_ps(o3 + 16), s);
    __m512 a32 = _mm512_mul_ps(_mm512_loadu_ps(o3 + 32), s), a33 = _mm512_mul_ps(_mm512_loadu_ps(o3 + 48), s);
    const float *p0 = pb, *p1 = pb + BK, *p2 = pb + 2 * BK, *p3 = pb + 3 * BK;
    for (int j = 0; j < jn; j++) {
        const float *v = vb + (size_t)j * Dp;
        __m512 v0 = _mm512_loadu_ps(v), v1 = _mm512_loadu_ps(v + 16);
        __m512 v2 = _mm512_loadu_ps(v + 32), v3 = _mm512_loadu_ps(v + 48);
        __m512 b;
        b = _mm512_set1_ps(p0[j]);
        a00 = _mm512_fmadd_ps(b, v0, a00); a01 = _mm512_fmadd_ps(b, v1, a01);
        a02 = _mm512_fmadd_ps(b, v2, a02); a03 = _mm512_fmadd_ps(b, v3, a03);
        b = _mm512_set1_ps(p1[j]);
        a10 = _mm512_fmadd_ps(b, v0, a10); a11 = _mm512_fmadd_ps(b, v1, a11);
        a12 = _mm512_fmadd_ps(b, v2, a12); a13 = _mm512_fmadd_ps(b, v3, a13);
        b = _mm512_set1_ps(p2[j]);
        a20 = _mm512_fmadd_ps(b, v0, a20); a21 = _mm512_fmadd_ps(b, v1, a21);
        a22 = _mm512_fmadd_ps(b, v2, a22); a23 = _mm512_fmadd_ps(b, v3, a23);
        b = _mm512_set1_ps(p3[j]);
        a30 = _mm512_fmadd_ps(b, v0, a30); a31 = _mm512_fmadd_ps(b, v1, a31);
        a32 = _mm512_fmadd_ps(b, v2, a32); a33 = _mm512_fmadd_ps(b, v3, a33);
    }
    _mm512_storeu_ps(o0, a00); _mm512_storeu_ps(o0 + 16, a01);
    _mm512_storeu_ps(o0 + 32, a02); _mm512_storeu_ps(o0 + 48, a03);
    _mm512_storeu_ps(o1, a10); _mm512_storeu_ps(o1 + 16, a11);
    _mm512_storeu_ps(o1 + 32, a12); _mm512_storeu_ps(o1 + 48, a13);
    _mm512_storeu_ps(o2, a20); _mm512_storeu_ps(o2 + 16, a21);
    _mm512_storeu_ps(o2 + 32, a22); _mm512_storeu_ps(o2 + 48, a23);
    _mm512_storeu_ps(o3, a30); _mm512_storeu_ps(o3 + 16, a31);
    _mm512_storeu_ps(o3 + 32, a32); _mm512_storeu_ps(o3 + 48, a33);
}

/* Remainder columns: nvec (1..3) vectors of 16. */
static void pv_tile_rem(const float *pb, const float *vb, int Dp, int jn, float *ob, const float *alp, int nvec)
{
    __m512 acc[4][3];
    for (int r = 0; r < 4; r++) {
        __m512 s = _mm512_set1_ps(alp[r]);
        for (int c = 0; c < 3; c++)
            acc[r][c] = c < nvec ? _mm512_mul_ps(_mm512_loadu_ps(ob + (size_t)r * Dp + 16 * c), s)
                                 : _mm512_setzero_ps();
    }
    for (int j = 0; j < jn; j++) {
        const float *v = vb + (size_t)j * Dp;
        for (int c = 0; c < nvec; c++) {
            __m512 vv = _mm512_loadu_ps(v + 16 * c);
            for (int r = 0; r < 4; r++)
                acc[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(pb[(size_t)r * BK + j]), vv, acc[r][c]);
        }
    }
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < nvec; c++) _mm512_storeu_ps(ob + (size_t)r * Dp + 16 * c, acc[r][c]);
}

static void pack_head(const ctx_t *c, long bh)
{
    const int S = c->S, D = c->D, Dp = c->Dp;
    const float *k = c->K + (size_t)bh * S * D;
    const float *v = c->V + (size_t)bh * S * D;
    float *kt = c->Kt + (size_t)bh * c->nkb * D * BK;
    float *vp = c->Vp + (size_t)bh * c->Sp * Dp;
    for (int kb = 0; kb < c->nkb; kb++) {
        float *blk = kt + (size_t)kb * D * BK;
        int j0 = kb * BK;
        for (int jj = 0; jj < BK; jj++) {
            int j = j0 + jj;
            if (j < S) {
                const float *kr = k + (size_t)j * D;
                for (int d = 0; d < D; d++) blk[(size_t)d * BK + jj] = kr[d];
            } else {
                for (int d = 0; d < D; d++) blk[(size_t)d * BK + jj] = 0.0f;
            }
        }
    }
    for (int j = 0; j < c->Sp; j++) {
        float *dst = vp + (size_t)j * Dp;
        if (j < S) {
            memcpy(dst, v + (size_t)j * D, sizeof(float) * (size_t)D);
            for (int d = D; d < Dp; d++) dst[d] = 0.0f;
        } else {
            memset(dst, 0, sizeof(float) * (size_t)Dp);
        }
    }
}

static void do_task(const ctx_t *c, float *ws, long bh, int qb)
{
    const int S = c->S, D = c->D, Dp = c->Dp, causal = c->causal;
    const int i0 = qb * BQ;
    const int nrows = S - i0 < BQ ? S - i0 : BQ;
    float *Qb = ws;                 /* BQ*Dp */
    float *Sb = Qb + BQ * Dp;       /* BQ*BK */
    float *Ob = Sb + BQ * BK;       /* BQ*Dp */
    float *lv = Ob + BQ * Dp;       /* BQ*16 */
    float *mrow = lv + BQ * 16;     /* BQ */
    float *bmax = mrow + BQ;        /* BQ */
    float *alp = bmax + BQ;         /* BQ */
    int lim[BQ], nval[BQ];

    const float *q = c->Q + (size_t)bh * S * D + (size_t)i0 * D;
    const float qs = c->qscale;
    for (int r = 0; r < BQ; r++) {
        float *qr = Qb + (size_t)r * Dp;
        if (r < nrows) {
            const float *src = q + (size_t)r * D;
            for (int d = 0; d < D; d++) qr[d] = src[d] * qs;
        } else {
            for (int d = 0; d < D; d++) qr[d] = 0.0f;
        }
        mrow[r] = -INFINITY;
        int i = i0 + r;
        lim[r] = (causal && i < S) ? i : S - 1;
    }
    memset(Ob, 0, sizeof(float) * (size_t)BQ * Dp);
    memset(lv, 0, sizeof(float) * (size_t)BQ * 16);

    const int lastkey = causal ? (i0 + nrows - 1) : S - 1;
    const int nkb = lastkey / BK + 1;
    const float *kth = c->Kt + (size_t)bh * c->nkb * D * BK;
    const float *vh = c->Vp + (size_t)bh * c->Sp * Dp;
    const int dfull = Dp & ~63, drem = (Dp & 63) / 16;

    for (int kb = 0; kb < nkb; kb++) {
        const int j0 = kb * BK;
        const float *kt = kth + (size_t)kb * D * BK;
        const float *vb = vh + (size_t)j0 * Dp;

        /* scores (already in log2 units) */
        for (int r0 = 0; r0 < BQ; r0 += 4) {
            const int rmax = i0 + r0 + 3;
            for (int kc = 0; kc < BK; kc += 64) {
                if (causal && j0 + kc > rmax) break;
                qk_tile(Qb + (size_t)r0 * Dp, Dp, kt + kc, D, Sb + (size_t)r0 * BK + kc);
            }
        }

        /* block row maxima over valid keys */
        for (int r = 0; r < BQ; r++) {
            const float *sr = Sb + (size_t)r * BK;
            int nv = lim[r] - j0 + 1;
            nv = nv < 0 ? 0 : (nv > BK ? BK : nv);
            nval[r] = nv;
            __m512 mx = _mm512_set1_ps(-INFINITY);
            for (int cc = 0; cc * 16 < nv; cc++)
                mx = _mm512_mask_max_ps(mx, mask_for(nv - cc * 16), mx, _mm512_loadu_ps(sr + 16 * cc));
            bmax[r] = _mm512_reduce_max_ps(mx);
        }
        /* new running max and rescale factors, 16 rows at a time */
        for (int r = 0; r < BQ; r += 16) {
            __m512 mo = _mm512_loadu_ps(mrow + r);
            __m512 mn = _mm512_max_ps(mo, _mm512_loadu_ps(bmax + r));
            _mm512_storeu_ps(mrow + r, mn);
            _mm512_storeu_ps(alp + r, exp2v(_mm512_sub_ps(mo, mn)));
        }
        /* probabilities (masked keys -> 0) and running row sums */
        for (int r = 0; r < BQ; r++) {
            float *sr = Sb + (size_t)r * BK;
            const int nv = nval[r];
            const __m512 mv = _mm512_set1_ps(mrow[r]);
            __m512 la = _mm512_mul_ps(_mm512_loadu_ps(lv + 16 * r), _mm512_set1_ps(alp[r]));
            for (int cc = 0; cc < BK / 16; cc++) {
                __m512 p;
                if (cc * 16 < nv) {
                    p = exp2v(_mm512_sub_ps(_mm512_loadu_ps(sr + 16 * cc), mv));
                    p = _mm512_maskz_mov_ps(mask_for(nv - cc * 16), p);
                    la = _mm512_add_ps(la, p);
                } else {
                    p = _mm512_setzero_ps();
                }
                _mm512_storeu_ps(sr + 16 * cc, p);
            }
            _mm512_storeu_ps(lv + 16 * r, la);
        }
        /* O = alpha * O + P V */
        for (int r0 = 0; r0 < BQ; r0 += 4) {
            int jlast = causal ? (i0 + r0 + 3 < S - 1 ? i0 + r0 + 3 : S - 1) : S - 1;
            int jn = jlast - j0 + 1;
            jn = jn < 0 ? 0 : (jn > BK ? BK : jn);
            const float *pb = Sb + (size_t)r0 * BK;
            float *ob = Ob + (size_t)r0 * Dp;
            for (int cg = 0; cg < dfull; cg += 64) pv_tile4(pb, vb + cg, Dp, jn, ob + cg, alp + r0);
            if (drem) pv_tile_rem(pb, vb + dfull, Dp, jn, ob + dfull, alp + r0, drem);
        }
    }

    float *o = c->O + (size_t)bh * S * D + (size_t)i0 * D;
    for (int r = 0; r < nrows; r++) {
        float l = _mm512_reduce_add_ps(_mm512_loadu_ps(lv + 16 * r));
        float inv = 1.0f / l;
        const float *orow = Ob + (size_t)r * Dp;
        float *dst = o + (size_t)r * D;
        for (int d = 0; d < D; d++) dst[d] = orow[d] * inv;
    }
}

static void *pack_worker(void *arg)
{
    ctx_t *c = ((targ_t *)arg)->c;
    for (;;) {
        long bh = __atomic_fetch_add(&c->pack_next, 1, __ATOMIC_RELAXED);
        if (bh >= c->BH) break;
        pack_head(c, bh);
    }
    return NULL;
}

static void *task_worker(void *arg)
{
    targ_t *t = (targ_t *)arg;
    ctx_t *c = t->c;
    float *ws = c->ws + (size_t)t->tid * c->ws_floats;
    for (;;) {
        long k = __atomic_fetch_add(&c->task_next, 1, __ATOMIC_RELAXED);
        if (k >= c->ntasks) break;
        /* largest query blocks first (matters for causal balance) */
        int qb = c->nqb - 1 - (int)(k / c->BH);
        long bh = k % c->BH;
        do_task(c, ws, bh, qb);
    }
    return NULL;
}

static void run_parallel(int nt, void *(*fn)(void *), targ_t *args)
{
    pthread_t th[MAXT];
    int ok[MAXT];
    for (int t = 1; t < nt; t++) ok[t] = pthread_create(&th[t], NULL, fn, &args[t]) == 0;
    fn(&args[0]);
    for (int t = 1; t < nt; t++)
        if (ok[t]) pthread_join(th[t], NULL);
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    memset(&c, 0, sizeof c);
    c.S = S;
    c.D = D;
    c.Dp = (D + 15) & ~15;
    c.causal = causal ? 1 : 0;
    c.nkb = (S + BK - 1) / BK;
    c.Sp = c.nkb * BK;
    c.nqb = (S + BQ - 1) / BQ;
    c.BH = (long)B * H;
    c.ntasks = c.BH * c.nqb;
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    c.qscale = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;

    int nt = NTHREADS;
    if (nt <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nt = n > 0 ? (int)n : 1;
    }
    if (nt > MAXT) nt = MAXT;
    if (nt > c.ntasks) nt = (int)c.ntasks;
    if (nt < 1) nt = 1;

    size_t kt_f = (size_t)c.BH * c.nkb * D * BK;
    size_t vp_f = (size_t)c.BH * c.Sp * c.Dp;
    c.ws_floats = ((size_t)BQ * c.Dp * 2 + (size_t)BQ * BK + (size_t)BQ * 16 + 3 * BQ + 15) & ~(size_t)15;
    size_t total = kt_f + vp_f + c.ws_floats * nt + 64;
    float *buf = aligned_alloc(64, ((total * sizeof(float)) + 63) & ~(size_t)63);
    if (!buf) return 2;
    c.Kt = buf;
    c.Vp = buf + ((kt_f + 15) & ~(size_t)15);
    c.ws = c.Vp + ((vp_f + 15) & ~(size_t)15);

    targ_t args[MAXT];
    for (int t = 0; t < nt; t++) {
        args[t].c = &c;
        args[t].tid = t;
    }
    run_parallel(nt, pack_worker, args);
    run_parallel(nt, task_worker, args);
    free(buf);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32",
                                      "BQ=" STR(BQ) " BK=" STR(BK) " NTHREADS=" STR(NTHREADS)};
const spak_kernel_info *spak_info(void) { return &info; }
