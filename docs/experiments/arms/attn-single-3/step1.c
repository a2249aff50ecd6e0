/*
 * Blocked AVX-512 attention forward, fp32, multi-threaded (pthreads).
 *   - K of the current head packed per thread into 64-key chunks [c][d][64]
 *   - QK^T: 4 rows x 64 keys register tile (16 zmm accumulators)
 *   - exact two-pass softmax per row over a BM x S score buffer,
 *     vectorized exp (Cephes polynomial, ~1 ulp) with scalef
 *   - PV: 4 rows x 64 cols register tile, V chunked by JC keys for L1 reuse
 *   - causal: only the needed key chunks; work items by an atomic counter
 * Tunables: BM (query rows per work item, multiple of 4), JC (V chunk).
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BM
#define BM 16
#endif
#ifndef JC
#define JC 64
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#if (BM % 4) != 0 || BM < 4
#error "BM must be a positive multiple of 4"
#endif

#define KC 64 /* keys per packed chunk */
#define MAXT 64

typedef struct {
    int S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nch, Sst, Dpad, nb, nitems;
    float scale;
    int counter;
} shared_t;

typedef struct {
    shared_t *sh;
    float *Kp, *Sb, *Oa, *linv;
} tctx_t;

static inline __m512 exp512(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.3762626647949f);
    const __m512 lo = _mm512_set1_ps(-87.3365447504f);
    x = _mm512_min_ps(x, hi);
    x = _mm512_max_ps(x, lo);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    y = _mm512_fmadd_ps(y, r2, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(y, fx);
}

static inline __mmask16 tailmask(int rem)
{
    if (rem >= 16) return (__mmask16)0xFFFF;
    if (rem <= 0) return (__mmask16)0;
    return (__mmask16)((1u << rem) - 1u);
}

static void pack_k(const shared_t *s, long bh, float *Kp)
{
    const int S = s->S, D = s->D;
    const float *k = s->K + bh * (long)S * D;
    for (int c = 0; c < s->nch; c++) {
        float *dst = Kp + (long)c * D * KC;
        for (int jj = 0; jj < KC; jj++) {
            int j = c * KC + jj;
            if (j < S) {
                const float *kr = k + (long)j * D;
                for (int d = 0; d < D; d++) dst[(long)d * KC + jj] = kr[d];
            } else {
                for (int d = 0; d < D; d++) dst[(long)d * KC + jj] = 0.0f;
            }
        }
    }
}

/* 4 query rows x 64 keys of one packed chunk */
static inline void score_tile(const float *q0, const float *q1, const float *q2, const float *q3,
                              const float *kp, int D, float scale, float *out, int ost)
{
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
    __m512 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00;
    __m512 a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    for (int d = 0; d < D; d++) {
        const float *kr = kp + (long)d * KC;
        __m512 k0 = _mm512_load_ps(kr), k1 = _mm512_load_ps(kr + 16);
        __m512 k2 = _mm512_load_ps(kr + 32), k3 = _mm512_load_ps(kr + 48);
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
    __m512 sc = _mm512_set1_ps(scale);
    float *o0 = out, *o1 = out + ost, *o2 = out + 2 * (long)ost, *o3 = out + 3 * (long)ost;
    _mm512_storeu_ps(o0, _mm512_mul_ps(a00, sc)); _mm512_storeu_ps(o0 + 16, _mm512_mul_ps(a01, sc));
    _mm512_storeu_ps(o0 + 32, _mm512_mul_ps(a02, sc)); _mm512_storeu_ps(o0 + 48, _mm512_mul_ps(a03, sc));
    _mm512_storeu_ps(o1, _mm512_mul_ps(a10, sc)); _mm512_storeu_ps(o1 + 16, _mm512_mul_ps(a11, sc));
    _mm512_storeu_ps(o1 + 32, _mm512_mul_ps(a12, sc)); _mm512_storeu_ps(o1 + 48, _mm512_mul_ps(a13, sc));
    _mm512_storeu_ps(o2, _mm512_mul_ps(a20, sc)); _mm512_storeu_ps(o2 + 16, _mm512_mul_ps(a21, sc));
    _mm512_storeu_ps(o2 + 32, _mm512_mul_ps(a22, sc)); _mm512_storeu_ps(o2 + 48, _mm512_mul_ps(a23, sc));
    _mm512_storeu_ps(o3, _mm512_mul_ps(a30, sc)); _mm512_storeu_ps(o3 + 16, _mm512_mul_ps(a31, sc));
    _mm512_storeu_ps(o3 + 32, _mm512_mul_ps(a32, sc)); _mm512_storeu_ps(o3 + 48, _mm512_mul_ps(a33, sc));
}

/* oa[r][ds..ds+63] (+)= sum_{j0<=j<j1} P[r][j] * v[j][ds..ds+63], 4 rows */
static inline void pv_tile(const float *P, int Pst, const float *v, int D, int ds, int j0, int j1, float *oa,
                           int ost, int init)
{
    const int rem = D - ds;
    const __mmask16 m0 = tailmask(rem), m1 = tailmask(rem - 16), m2 = tailmask(rem - 32),
                    m3 = tailmask(rem - 48);
    float *o0 = oa, *o1 = oa + ost, *o2 = oa + 2 * (long)ost, *o3 = oa + 3 * (long)ost;
    __m512 a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33;
    if (init) {
        a00 = _mm512_setzero_ps(); a01 = a00; a02 = a00; a03 = a00;
        a10 = a00; a11 = a00; a12 = a00; a13 = a00;
        a20 = a00; a21 = a00; a22 = a00; a23 = a00;
        a30 = a00; a31 = a00; a32 = a00; a33 = a00;
    } else {
        a00 = _mm512_load_ps(o0); a01 = _mm512_load_ps(o0 + 16);
        a02 = _mm512_load_ps(o0 + 32); a03 = _mm512_load_ps(o0 + 48);
        a10 = _mm512_load_ps(o1); a11 = _mm512_load_ps(o1 + 16);
        a12 = _mm512_load_ps(o1 + 32); a13 = _mm512_load_ps(o1 + 48);
        a20 = _mm512_load_ps(o2); a21 = _mm512_load_ps(o2 + 16);
        a22 = _mm512_load_ps(o2 + 32); a23 = _mm512_load_ps(o2 + 48);
        a30 = _mm512_load_ps(o3); a31 = _mm512_load_ps(o3 + 16);
        a32 = _mm512_load_ps(o3 + 32); a33 = _mm512_load_ps(o3 + 48);
    }
    const float *p0 = P, *p1 = P + Pst, *p2 = P + 2 * (long)Pst, *p3 = P + 3 * (long)Pst;
    for (int j = j0; j < j1; j++) {
        const float *vr = v + (long)j * D + ds;
        __m512 v0 = _mm512_maskz_loadu_ps(m0, vr), v1 = _mm512_maskz_loadu_ps(m1, vr + 16);
        __m512 v2 = _mm512_maskz_loadu_ps(m2, vr + 32), v3 = _mm512_maskz_loadu_ps(m3, vr + 48);
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
    _mm512_store_ps(o0, a00); _mm512_store_ps(o0 + 16, a01);
    _mm512_store_ps(o0 + 32, a02); _mm512_store_ps(o0 + 48, a03);
    _mm512_store_ps(o1, a10); _mm512_store_ps(o1 + 16, a11);
    _mm512_store_ps(o1 + 32, a12); _mm512_store_ps(o1 + 48, a13);
    _mm512_store_ps(o2, a20); _mm512_store_ps(o2 + 16, a21);
    _mm512_store_ps(o2 + 32, a22); _mm512_store_ps(o2 + 48, a23);
    _mm512_store_ps(o3, a30); _mm512_store_ps(o3 + 16, a31);
    _mm512_store_ps(o3 + 32, a32); _mm512_store_ps(o3 + 48, a33);
}

static inline int imin(int a, int b) { return a < b ? a : b; }

static void do_block(tctx_t *t, long bh, int blk)
{
    const shared_t *s = t->sh;
    const int S = s->S, D = s->D, causal = s->causal, Sst = s->Sst, Dpad = s->Dpad;
    const float *q = s->Q + bh * (long)S * D;
    const float *v = s->V + bh * (long)S * D;
    float *o = s->O + bh * (long)S * D;
    float *Sb = t->Sb, *Oa = t->Oa, *linv = t->linv;

    const int i0 = blk * BM;
    const int rows = imin(BM, S - i0);
    const int ng = (rows + 3) / 4;
    const int nmax = causal ? imin(S, i0 + rows) : S;
    const int nchb = (nmax + KC - 1) / KC;
    int gj[BM / 4];
    for (int g = 0; g < ng; g++) {
        int glast = imin(i0 + 4 * g + 3, S - 1);
        gj[g] = causal ? glast + 1 : S;
    }

    /* scores */
    for (int c = 0; c < nchb; c++) {
        const float *kp = t->Kp + (long)c * D * KC;
        for (int g = 0; g < ng; g++) {
            if (c * KC >= gj[g]) continue;
            const float *q0 = q + (long)imin(i0 + 4 * g + 0, S - 1) * D;
            const float *q1 = q + (long)imin(i0 + 4 * g + 1, S - 1) * D;
            const float *q2 = q + (long)imin(i0 + 4 * g + 2, S - 1) * D;
            const float *q3 = q + (long)imin(i0 + 4 * g + 3, S - 1) * D;
            score_tile(q0, q1, q2, q3, kp, D, s->scale, Sb + (long)(4 * g) * Sst + c * KC, Sst);
        }
    }

    /* softmax (unnormalized; 1/l applied at the end) */
    const int zend = (nmax + 15) & ~15;
    for (int r = 0; r < 4 * ng; r++) {
        int i = imin(i0 + r, S - 1);
        int n = causal ? i + 1 : S;
        float *p = Sb + (long)r * Sst;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) vm = _mm512_max_ps(vm, _mm512_loadu_ps(p + j));
        if (j < n) {
            __mmask16 mk = tailmask(n - j);
            vm = _mm512_mask_max_ps(vm, mk, vm, _mm512_maskz_loadu_ps(mk, p + j));
        }
        __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
        __m512 vs = _mm512_setzero_ps();
        j = 0;
        for (; j + 16 <= n; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(p + j), mv));
            _mm512_storeu_ps(p + j, e);
            vs = _mm512_add_ps(vs, e);
        }
        if (j < n) {
            __mmask16 mk = tailmask(n - j);
            __m512 e = _mm512_maskz_mov_ps(mk, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, p + j), mv)));
            _mm512_storeu_ps(p + j, e);
            vs = _mm512_add_ps(vs, e);
            j += 16;
        }
        for (; j < zend; j += 16) _mm512_storeu_ps(p + j, _mm512_setzero_ps());
        linv[r] = 1.0f / _mm512_reduce_add_ps(vs);
    }

    /* O = P V */
    for (int jc = 0; jc < nmax; jc += JC) {
        int je = imin(jc + JC, nmax);
        for (int g = 0; g < ng; g++) {
            if (jc >= gj[g]) continue;
            int jend = imin(je, gj[g]);
            for (int ds = 0; ds < D; ds += 64)
                pv_tile(Sb + (long)(4 * g) * Sst, Sst, v, D, ds, jc, jend, Oa + (long)(4 * g) * Dpad + ds, Dpad,
                        jc == 0);
        }
    }

    /* write out */
    for (int r = 0; r < rows; r++) {
        float *orow = o + (long)(i0 + r) * D;
        const float *arow = Oa + (long)r * Dpad;
        __m512 li = _mm512_set1_ps(linv[r]);
        for (int d = 0; d < D; d += 16) {
            __mmask16 mk = tailmask(D - d);
            _mm512_mask_storeu_ps(orow + d, mk, _mm512_mul_ps(_mm512_load_ps(arow + d), li));
        }
    }
}

static void *worker(void *arg)
{
    tctx_t *t = (tctx_t *)arg;
    shared_t *s = t->sh;
    long cur = -1;
    for (;;) {
        int it = __atomic_fetch_add(&s->counter, 1, __ATOMIC_RELAXED);
        if (it >= s->nitems) break;
        long bh = it / s->nb;
        int bi = it % s->nb;
        int blk = s->causal ? s->nb - 1 - bi : bi;
        if (bh != cur) {
            pack_k(s, bh, t->Kp);
            cur = bh;
        }
        do_block(t, bh, blk);
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    shared_t sh;
    sh.S = S;
    sh.D = D;
    sh.causal = causal ? 1 : 0;
    sh.Q = Q;
    sh.K = K;
    sh.V = V;
    sh.O = O;
    sh.nch = (S + KC - 1) / KC;
    sh.Sst = sh.nch * KC + 16;
    sh.Dpad = (D + 63) & ~63;
    sh.nb = (S + BM - 1) / BM;
    long nitems = (long)B * H * sh.nb;
    if (nitems > 0x7fffffffL) return 1;
    sh.nitems = (int)nitems;
    sh.scale = 1.0f / sqrtf((float)D);
    sh.counter = 0;

    int T = NTHREADS;
    if (T <= 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        T = np > 0 ? (int)np : 1;
    }
    if (T > MAXT) T = MAXT;
    if (T > sh.nitems) T = sh.nitems;
    if (T < 1) T = 1;

    size_t nKp = (size_t)sh.nch * KC * D;
    size_t nSb = (size_t)BM * sh.Sst;
    size_t nOa = (size_t)BM * sh.Dpad;
    size_t nL = 16 + BM;
    size_t per = nKp + nSb + nOa + nL;
    per = (per + 15) & ~(size_t)15;
    size_t bytes = per * sizeof(float) * (size_t)T;
    float *mem = (float *)aligned_alloc(64, bytes);
    if (!mem) return 2;

    tctx_t ctx[MAXT];
    pthread_t th[MAXT];
    for (int t = 0; t < T; t++) {
        float *base = mem + per * (size_t)t;
        ctx[t].sh = &sh;
        ctx[t].Kp = base;
        ctx[t].Sb = base + nKp;
        ctx[t].Oa = base + nKp + nSb;
        ctx[t].linv = base + nKp + nSb + nOa;
    }
    int started = 1;
    for (int t = 1; t < T; t++) {
        if (pthread_create(&th[t], NULL, worker, &ctx[t]) != 0) break;
        started++;
    }
    worker(&ctx[0]);
    for (int t = 1; t < started; t++) pthread_join(th[t], NULL);
    free(mem);
    return 0;
}

#define SPAK_STR2(x) #x
#define SPAK_STR(x) SPAK_STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/blocked-avx512", "fp32",
                                      "BM=" SPAK_STR(BM) " JC=" SPAK_STR(JC)};
const spak_kernel_info *spak_info(void) { return &info; }
