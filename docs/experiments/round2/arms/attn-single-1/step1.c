/*
 * step1.c - blocked, register-tiled, multithreaded fp32 attention (AVX-512).
 *
 * Per call:
 *   phase 0: pack K of every head into 32-key panels  Kp[panel][d][32]  (all threads)
 *   phase 1: tasks (head, query block of BQ rows), handed out by an atomic counter,
 *            heaviest causal blocks first. Per task:
 *     1. P = scale * Qblk K^T  with an 8x32 FMA micro-kernel, key-blocked by BK so the
 *        K block stays in L1 across the row tiles; causal: keys beyond a tile's last row skipped
 *     2. exact row softmax (max, vector exp, sum), masked keys set to 0, kept unnormalised
 *     3. Oacc = P V with an 8x32 FMA micro-kernel (V block reused across row tiles),
 *        then O = Oacc / l.
 * Tunables: BQ (query rows per task, multiple of 8), BK (keys per L1 block, multiple of 32).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BQ
#define BQ 64
#endif
#ifndef BK
#define BK 128
#endif
#define MR 8
#define NR 32
#define MAXT 64

#if (BQ % MR) != 0 || BQ < MR
#error "BQ must be a positive multiple of 8"
#endif
#if (BK % NR) != 0 || BK < NR
#error "BK must be a positive multiple of 32"
#endif

static inline __mmask16 tailmask(int k)
{
    if (k >= 16) return (__mmask16)0xFFFF;
    if (k <= 0) return (__mmask16)0;
    return (__mmask16)((1u << k) - 1u);
}

/* exp(x) for the softmax (x <= 0 in use); ~1-2 ulp (Cephes polynomial), results below
 * e^-86 flushed to 0 so no denormals reach the P V products. */
static inline __m512 exp512(__m512 x)
{
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f);
    const __m512 c2 = _mm512_set1_ps(-2.12194440e-4f);
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-86.0f), _CMP_GE_OQ);
    __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(fx, c1, x);
    r = _mm512_fnmadd_ps(fx, c2, r);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
    __m512 r2 = _mm512_mul_ps(r, r);
    y = _mm512_fmadd_ps(y, r2, r);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    y = _mm512_scalef_ps(y, fx);
    return _mm512_maskz_mov_ps(ok, y);
}

/* P[0..8)[0..32) = scale * q[0..8) . kp panel ; q rows have stride D, kp is [D][32]. */
static inline void qk_8x32(const float *restrict q, int D, const float *restrict kp, float *restrict p,
                           long ldp, float scale)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
    __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    const float *q0 = q, *q1 = q + D, *q2 = q + 2 * D, *q3 = q + 3 * D;
    const float *q4 = q + 4 * D, *q5 = q + 5 * D, *q6 = q + 6 * D, *q7 = q + 7 * D;
    for (int d = 0; d < D; d++) {
        const __m512 b0 = _mm512_load_ps(kp + (long)d * NR);
        const __m512 b1 = _mm512_load_ps(kp + (long)d * NR + 16);
        __m512 a;
        a = _mm512_set1_ps(q0[d]); c00 = _mm512_fmadd_ps(a, b0, c00); c01 = _mm512_fmadd_ps(a, b1, c01);
        a = _mm512_set1_ps(q1[d]); c10 = _mm512_fmadd_ps(a, b0, c10); c11 = _mm512_fmadd_ps(a, b1, c11);
        a = _mm512_set1_ps(q2[d]); c20 = _mm512_fmadd_ps(a, b0, c20); c21 = _mm512_fmadd_ps(a, b1, c21);
        a = _mm512_set1_ps(q3[d]); c30 = _mm512_fmadd_ps(a, b0, c30); c31 = _mm512_fmadd_ps(a, b1, c31);
        a = _mm512_set1_ps(q4[d]); c40 = _mm512_fmadd_ps(a, b0, c40); c41 = _mm512_fmadd_ps(a, b1, c41);
        a = _mm512_set1_ps(q5[d]); c50 = _mm512_fmadd_ps(a, b0, c50); c51 = _mm512_fmadd_ps(a, b1, c51);
        a = _mm512_set1_ps(q6[d]); c60 = _mm512_fmadd_ps(a, b0, c60); c61 = _mm512_fmadd_ps(a, b1, c61);
        a = _mm512_set1_ps(q7[d]); c70 = _mm512_fmadd_ps(a, b0, c70); c71 = _mm512_fmadd_ps(a, b1, c71);
    }
    const __m512 vs = _mm512_set1_ps(scale);
    _mm512_store_ps(p + 0 * ldp, _mm512_mul_ps(c00, vs)); _mm512_store_ps(p + 0 * ldp + 16, _mm512_mul_ps(c01, vs));
    _mm512_store_ps(p + 1 * ldp, _mm512_mul_ps(c10, vs)); _mm512_store_ps(p + 1 * ldp + 16, _mm512_mul_ps(c11, vs));
    _mm512_store_ps(p + 2 * ldp, _mm512_mul_ps(c20, vs)); _mm512_store_ps(p + 2 * ldp + 16, _mm512_mul_ps(c21, vs));
    _mm512_store_ps(p + 3 * ldp, _mm512_mul_ps(c30, vs)); _mm512_store_ps(p + 3 * ldp + 16, _mm512_mul_ps(c31, vs));
    _mm512_store_ps(p + 4 * ldp, _mm512_mul_ps(c40, vs)); _mm512_store_ps(p + 4 * ldp + 16, _mm512_mul_ps(c41, vs));
    _mm512_store_ps(p + 5 * ldp, _mm512_mul_ps(c50, vs)); _mm512_store_ps(p + 5 * ldp + 16, _mm512_mul_ps(c51, vs));
    _mm512_store_ps(p + 6 * ldp, _mm512_mul_ps(c60, vs)); _mm512_store_ps(p + 6 * ldp + 16, _mm512_mul_ps(c61, vs));
    _mm512_store_ps(p + 7 * ldp, _mm512_mul_ps(c70, vs)); _mm512_store_ps(p + 7 * ldp + 16, _mm512_mul_ps(c71, vs));
}

/* ob[0..8)[0..32) += sum_{j in [j0,j1)} p[r][j] * v[j][dc..dc+32)  (lanes masked by m0, m1). */
static inline void pv_8x32(const float *restrict p, long ldp, int j0, int j1, const float *restrict v, int D,
                           __mmask16 m0, __mmask16 m1, float *restrict ob, long ldo)
{
    __m512 c00 = _mm512_load_ps(ob + 0 * ldo), c01 = _mm512_load_ps(ob + 0 * ldo + 16);
    __m512 c10 = _mm512_load_ps(ob + 1 * ldo), c11 = _mm512_load_ps(ob + 1 * ldo + 16);
    __m512 c20 = _mm512_load_ps(ob + 2 * ldo), c21 = _mm512_load_ps(ob + 2 * ldo + 16);
    __m512 c30 = _mm512_load_ps(ob + 3 * ldo), c31 = _mm512_load_ps(ob + 3 * ldo + 16);
    __m512 c40 = _mm512_load_ps(ob + 4 * ldo), c41 = _mm512_load_ps(ob + 4 * ldo + 16);
    __m512 c50 = _mm512_load_ps(ob + 5 * ldo), c51 = _mm512_load_ps(ob + 5 * ldo + 16);
    __m512 c60 = _mm512_load_ps(ob + 6 * ldo), c61 = _mm512_load_ps(ob + 6 * ldo + 16);
    __m512 c70 = _mm512_load_ps(ob + 7 * ldo), c71 = _mm512_load_ps(ob + 7 * ldo + 16);
    const long l = ldp, l3 = 3 * ldp;
    const float *pa = p + j0, *pb = p + 4 * ldp + j0;
    const float *vr = v + (long)j0 * D;
    for (int j = j0; j < j1; j++, pa++, pb++, vr += D) {
        const __m512 b0 = _mm512_maskz_loadu_ps(m0, vr);
        const __m512 b1 = _mm512_maskz_loadu_ps(m1, vr + 16);
        __m512 a;
        a = _mm512_set1_ps(pa[0]); c00 = _mm512_fmadd_ps(a, b0, c00); c01 = _mm512_fmadd_ps(a, b1, c01);
        a = _mm512_set1_ps(pa[l]); c10 = _mm512_fmadd_ps(a, b0, c10); c11 = _mm512_fmadd_ps(a, b1, c11);
        a = _mm512_set1_ps(pa[2 * l]); c20 = _mm512_fmadd_ps(a, b0, c20); c21 = _mm512_fmadd_ps(a, b1, c21);
        a = _mm512_set1_ps(pa[l3]); c30 = _mm512_fmadd_ps(a, b0, c30); c31 = _mm512_fmadd_ps(a, b1, c31);
        a = _mm512_set1_ps(pb[0]); c40 = _mm512_fmadd_ps(a, b0, c40); c41 = _mm512_fmadd_ps(a, b1, c41);
        a = _mm512_set1_ps(pb[l]); c50 = _mm512_fmadd_ps(a, b0, c50); c51 = _mm512_fmadd_ps(a, b1, c51);
        a = _mm512_set1_ps(pb[2 * l]); c60 = _mm512_fmadd_ps(a, b0, c60); c61 = _mm512_fmadd_ps(a, b1, c61);
        a = _mm512_set1_ps(pb[l3]); c70 = _mm512_fmadd_ps(a, b0, c70); c71 = _mm512_fmadd_ps(a, b1, c71);
    }
    _mm512_store_ps(ob + 0 * ldo, c00); _mm512_store_ps(ob + 0 * ldo + 16, c01);
    _mm512_store_ps(ob + 1 * ldo, c10); _mm512_store_ps(ob + 1 * ldo + 16, c11);
    _mm512_store_ps(ob + 2 * ldo, c20); _mm512_store_ps(ob + 2 * ldo + 16, c21);
    _mm512_store_ps(ob + 3 * ldo, c30); _mm512_store_ps(ob + 3 * ldo + 16, c31);
    _mm512_store_ps(ob + 4 * ldo, c40); _mm512_store_ps(ob + 4 * ldo + 16, c41);
    _mm512_store_ps(ob + 5 * ldo, c50); _mm512_store_ps(ob + 5 * ldo + 16, c51);
    _mm512_store_ps(ob + 6 * ldo, c60); _mm512_store_ps(ob + 6 * ldo + 16, c61);
    _mm512_store_ps(ob + 7 * ldo, c70); _mm512_store_ps(ob + 7 * ldo + 16, c71);
}

typedef struct {
    int S, D, causal, nqb, npan, phase;
    long bhn, spad, ldp, ldo, npack, ntasks;
    float scale;
    const float *Q, *K, *V;
    float *O, *Kp;
    long next; /* atomic work counter of the current phase */
    float *pbuf[MAXT], *qbuf[MAXT], *obuf[MAXT], *lbuf[MAXT];
} ctx_t;

typedef struct {
    ctx_t *c;
    int tid;
} warg_t;

static void pack_panel(const ctx_t *c, long item)
{
    const int S = c->S, D = c->D;
    const long bh = item / c->npan;
    const int pn = (int)(item % c->npan);
    const int j0 = pn * NR;
    const float *k = c->K + bh * (long)S * D;
    float *dst = c->Kp + (bh * c->spad + j0) * (long)D; /* panel pn of head bh: [D][32] */
    int nc = S - j0;
    if (nc > NR) nc = NR;
    for (int cc = 0; cc < nc; cc++) {
        const float *kr = k + (long)(j0 + cc) * D;
        for (int d = 0; d < D; d++) dst[(long)d * NR + cc] = kr[d];
    }
    for (int cc = nc; cc < NR; cc++)
        for (int d = 0; d < D; d++) dst[(long)d * NR + cc] = 0.0f;
}

static void do_task(const ctx_t *c, int tid, long t)
{
    const int S = c->S, D = c->D, causal = c->causal;
    const long bh = t % c->bhn;
    const int qb = c->nqb - 1 - (int)(t / c->bhn);
    const int i0 = qb * BQ;
    int mq = S - i0;
    if (mq > BQ) mq = BQ;
    const int mqp = (mq + MR - 1) / MR * MR;
    const long hoff = bh * (long)S * D;
    const float *q = c->Q + hoff + (long)i0 * D;
    const float *v = c->V + hoff;
    float *o = c->O + hoff + (long)i0 * D;
    const float *kp = c->Kp + bh * c->spad * (long)D;
    const int n = causal ? (i0 + mq < S ? i0 + mq : S) : S;
    const long ldp = c->ldp, ldo = c->ldo;
    float *P = c->pbuf[tid], *Qb = c->qbuf[tid], *Ob = c->obuf[tid], *linv = c->lbuf[tid];

    /* query block, padded to a multiple of 8 rows with zeros */
    memcpy(Qb, q, sizeof(float) * (size_t)mq * (size_t)D);
    if (mqp > mq) memset(Qb + (long)mq * D, 0, sizeof(float) * (size_t)(mqp - mq) * (size_t)D);

    /* 1. scores */
    for (int kb0 = 0; kb0 < n; kb0 += BK) {
        const int kb1 = kb0 + BK < n ? kb0 + BK : n;
        for (int r0 = 0; r0 < mqp; r0 += MR) {
            int je = kb1;
            if (causal && i0 + r0 + MR < je) je = i0 + r0 + MR;
            for (int j0 = kb0; j0 < je; j0 += NR)
                qk_8x32(Qb + (long)r0 * D, D, kp + (long)(j0 / NR) * D * NR, P + r0 * ldp + j0, ldp, c->scale);
        }
    }

    /* 2. softmax, unnormalised; zeros where P V will read masked keys */
    for (int r = 0; r < mqp; r++) {
        float *p = P + r * ldp;
        int tend = n;
        if (causal) {
            const int lim = i0 + (r / MR) * MR + MR;
            if (lim < tend) tend = lim;
        }
        if (r >= mq) {
            for (int j = 0; j < tend; j += 16) _mm512_store_ps(p + j, _mm512_setzero_ps());
            continue;
        }
        const int ni = causal ? i0 + r + 1 : S;
        __m512 vm = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= ni; j += 16) vm = _mm512_max_ps(vm, _mm512_load_ps(p + j));
        if (j < ni) {
            const __mmask16 mk = tailmask(ni - j);
            vm = _mm512_mask_max_ps(vm, mk, vm, _mm512_maskz_load_ps(mk, p + j));
        }
        const __m512 vmax = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
        __m512 vsum = _mm512_setzero_ps();
        j = 0;
        for (; j + 16 <= ni; j += 16) {
            const __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(p + j), vmax));
            _mm512_store_ps(p + j, e);
            vsum = _mm512_add_ps(vsum, e);
        }
        if (j < ni) {
            const __mmask16 mk = tailmask(ni - j);
            __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_load_ps(mk, p + j), vmax));
            e = _mm512_maskz_mov_ps(mk, e);
            _mm512_store_ps(p + j, e);
            vsum = _mm512_add_ps(vsum, e);
            j += 16;
        }
        for (; j < tend; j += 16) _mm512_store_ps(p + j, _mm512_setzero_ps());
        linv[r] = 1.0f / _mm512_reduce_add_ps(vsum);
    }

    /* 3. O = P V */
    for (int r = 0; r < mqp; r++) memset(Ob + r * ldo, 0, sizeof(float) * (size_t)ldo);
    for (int kb0 = 0; kb0 < n; kb0 += BK) {
        const int kb1 = kb0 + BK < n ? kb0 + BK : n;
        for (int r0 = 0; r0 < mqp; r0 += MR) {
            int je = kb1;
            if (causal && i0 + r0 + MR < je) je = i0 + r0 + MR;
            if (je <= kb0) continue;
            for (int dc = 0; dc < D; dc += 32)
                pv_8x32(P + r0 * ldp, ldp, kb0, je, v + dc, D, tailmask(D - dc), tailmask(D - dc - 16),
                        Ob + r0 * ldo + dc, ldo);
        }
    }
    for (int r = 0; r < mq; r++) {
        const __m512 s = _mm512_set1_ps(linv[r]);
        const float *src = Ob + r * ldo;
        float *dst = o + (long)r * D;
        for (int d = 0; d < D; d += 16) {
            const __mmask16 mk = tailmask(D - d);
            _mm512_mask_storeu_ps(dst + d, mk, _mm512_mul_ps(_mm512_load_ps(src + d), s));
        }
    }
}

static void *worker(void *arg)
{
    warg_t *w = (warg_t *)arg;
    ctx_t *c = w->c;
    if (c->phase == 0) {
        long it;
        while ((it = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED)) < c->npack) pack_panel(c, it);
    } else {
        long t;
        while ((t = __atomic_fetch_add(&c->next, 1, __ATOMIC_RELAXED)) < c->ntasks) do_task(c, w->tid, t);
    }
    return NULL;
}

static void run_phase(ctx_t *c, int phase, int nt)
{
    pthread_t th[MAXT];
    warg_t args[MAXT];
    int started[MAXT];
    c->phase = phase;
    c->next = 0;
    for (int i = 0; i < nt; i++) {
        args[i].c = c;
        args[i].tid = i;
        started[i] = 0;
    }
    for (int i = 1; i < nt; i++) started[i] = pthread_create(&th[i], NULL, worker, &args[i]) == 0;
    worker(&args[0]);
    for (int i = 1; i < nt; i++)
        if (started[i]) pthread_join(th[i], NULL);
}

static int n_cpus(void)
{
    int n = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
    if (n < 1) {
        long s = sysconf(_SC_NPROCESSORS_ONLN);
        n = s > 0 ? (int)s : 1;
    }
    return n;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t *c = (ctx_t *)calloc(1, sizeof(ctx_t));
    if (!c) return 2;
    c->S = S;
    c->D = D;
    c->causal = causal ? 1 : 0;
    c->Q = Q;
    c->K = K;
    c->V = V;
    c->O = O;
    c->bhn = (long)B * H;
    c->spad = ((long)S + NR - 1) / NR * NR;
    c->npan = (int)(c->spad / NR);
    c->ldp = c->spad + 16;
    c->ldo = ((long)D + 31) / 32 * 32;
    c->nqb = (S + BQ - 1) / BQ;
    c->npack = c->bhn * c->npan;
    c->ntasks = c->bhn * c->nqb;
    c->scale = 1.0f / sqrtf((float)D);

    int nt = n_cpus();
    if (nt > MAXT) nt = MAXT;
    if ((long)nt > c->ntasks) nt = (int)c->ntasks;
    if (nt < 1) nt = 1;

    int rc = 0;
    void *kpm = NULL;
    if (posix_memalign(&kpm, 64, sizeof(float) * (size_t)c->bhn * (size_t)c->spad * (size_t)D) != 0) {
        free(c);
        return 2;
    }
    c->Kp = (float *)kpm;
    const size_t psz = (size_t)BQ * (size_t)c->ldp, qsz = ((size_t)BQ * (size_t)D + 15) / 16 * 16,
                 osz = (size_t)BQ * (size_t)c->ldo, lsz = BQ;
    int nalloc = 0;
    for (int i = 0; i < nt; i++) {
        void *m = NULL;
        if (posix_memalign(&m, 64, sizeof(float) * (psz + qsz + osz + lsz)) != 0) {
            rc = 2;
            break;
        }
        float *f = (float *)m;
        c->pbuf[i] = f;
        c->qbuf[i] = f + psz;
        c->obuf[i] = f + psz + qsz;
        c->lbuf[i] = f + psz + qsz + osz;
        nalloc++;
    }
    if (rc == 0) {
        run_phase(c, 0, nt);
        run_phase(c, 1, nt);
    }
    for (int i = 0; i < nalloc; i++) free(c->pbuf[i]);
    free(kpm);
    free(c);
    return rc;
}

#define SPAK_STR2(x) #x
#define SPAK_STR(x) SPAK_STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-tiled-avx512", "fp32",
                                      "BQ=" SPAK_STR(BQ) " BK=" SPAK_STR(BK)};
const spak_kernel_info *spak_info(void) { return &info; }
