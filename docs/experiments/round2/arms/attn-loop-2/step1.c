/*
 * step1: flash-style attention, AVX-512, pthreads.
 *  - K is packed once per call into panels [S/KB][D][KB] (zero padded).
 *  - per query block of BQ = 16*QV rows: Q^T block (scaled by log2e/sqrt(D)),
 *    scores held transposed St[key][BQ] so each query is a vector lane:
 *    QK^T = QV vectors x KB keys register block (broadcast of packed K),
 *    online softmax vectorised across queries (exp2 polynomial),
 *    PV = RB rows x 4 d-vectors register block, V rows read directly.
 *  - items (head, query block) handed out by an atomic counter, largest first.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef QKCFG
#define QKCFG 1
#endif
#if QKCFG == 1
#define QV 2
#define KB 12
#elif QKCFG == 2
#define QV 3
#define KB 8
#else
#define QV 2
#define KB 8
#endif
#ifndef BKP
#define BKP 8
#endif
#ifndef RB
#define RB 4
#endif
#ifndef NTHREADS
#define NTHREADS 0
#endif
#define BQ (16 * QV)
#define DV 4
#define CHR (BKP * KB)
#define MAXT 64


typedef struct {
    long BH, nitems;
    int S, D, causal, Dp, npan, nqb;
    float scale2;
    const float *Q, *K, *V;
    float *O, *Kp;
    atomic_long next_pack, packed, next_item;
} ctx_t;

typedef struct {
    ctx_t *c;
    float *Qt, *St, *Ob;
} targ_t;

static inline __m512 exp2_ps(__m512 x)
{
    __mmask16 ok = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-100.0f), _CMP_GT_OQ);
    x = _mm512_max_ps(x, _mm512_set1_ps(-100.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.540353039338e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076285e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.55041086648216e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_maskz_scalef_ps(ok, p, n);
}

static void pack_head(const ctx_t *c, long bh)
{
    int S = c->S, D = c->D;
    const float *k = c->K + bh * (long)S * D;
    float *kp = c->Kp + bh * (long)c->npan * KB * D;
    for (int p = 0; p < c->npan; p++) {
        float *dst = kp + (long)p * KB * D;
        for (int kk = 0; kk < KB; kk++) {
            int j = p * KB + kk;
            if (j < S) {
                const float *src = k + (long)j * D;
                for (int d = 0; d < D; d++) dst[d * KB + kk] = src[d];
            } else {
                for (int d = 0; d < D; d++) dst[d * KB + kk] = 0.0f;
            }
        }
    }
}

/* St[kk][BQ] = Qt^T . Kpanel  for KB keys */
static inline void qk_panel(const float *restrict Qt, const float *restrict kp, int D, float *restrict st)
{
    __m512 acc[QV][KB];
#pragma GCC unroll 64
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) acc[vv][kk] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q[QV];
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) q[vv] = _mm512_load_ps(Qt + d * BQ + 16 * vv);
#pragma GCC unroll 64
        for (int kk = 0; kk < KB; kk++) {
            __m512 b = _mm512_set1_ps(kp[kk]);
#pragma GCC unroll 8
            for (int vv = 0; vv < QV; vv++) acc[vv][kk] = _mm512_fmadd_ps(q[vv], b, acc[vv][kk]);
        }
        kp += KB;
    }
#pragma GCC unroll 64
    for (int kk = 0; kk < KB; kk++)
#pragma GCC unroll 8
        for (int vv = 0; vv < QV; vv++) _mm512_store_ps(st + kk * BQ + 16 * vv, acc[vv][kk]);
}

/* Ob[r0..r0+RB)[g*64 .. g*64+64) += P[r][j] V[j][..] */
static inline __attribute__((always_inline)) void pv_block(const float *restrict st, const float *restrict v,
                                                          int D, int jv, float *restrict ob, int Dp,
                                                          const __mmask16 *mk, int masked, const int nr)
{
    __m512 acc[RB][DV];
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++) acc[r][dv] = _mm512_load_ps(ob + (long)r * Dp + 16 * dv);
    for (int j = 0; j < jv; j++) {
        __m512 x[DV];
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++)
            x[dv] = masked ? _mm512_maskz_loadu_ps(mk[dv], v + 16 * dv) : _mm512_loadu_ps(v + 16 * dv);
#pragma GCC unroll 16
        for (int r = 0; r < nr; r++) {
            __m512 b = _mm512_set1_ps(st[r]);
#pragma GCC unroll 4
            for (int dv = 0; dv < DV; dv++) acc[r][dv] = _mm512_fmadd_ps(b, x[dv], acc[r][dv]);
        }
        v += D;
        st += BQ;
    }
#pragma GCC unroll 16
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 4
        for (int dv = 0; dv < DV; dv++) _mm512_store_ps(ob + (long)r * Dp + 16 * dv, acc[r][dv]);
}

static void do_block(const ctx_t *c, long bh, int qb, float *restrict Qt, float *restrict St,
                     float *restrict Ob)
{
    const int S = c->S, D = c->D, Dp = c->Dp, causal = c->causal;
    const float *q = c->Q + bh * (long)S * D, *v = c->V + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D;
    const float *kp = c->Kp + bh * (long)c->npan * KB * D;
    const int i0 = qb * BQ, nq = (S - i0) < BQ ? (S - i0) : BQ;
    const float sc = c->scale2;

    for (int l = 0; l < BQ; l++) {
        if (l < nq) {
            const float *qr = q + (long)(i0 + l) * D;
            for (int d = 0; d < D; d++) Qt[d * BQ + l] = qr[d] * sc;
        } else {
            for (int d = 0; d < D; d++) Qt[d * BQ + l] = 0.0f;
        }
    }
    memset(Ob, 0, sizeof(float) * BQ * Dp);

    __m512 m[QV], ls[QV];
    for (int vv = 0; vv < QV; vv++) {
        m[vv] = _mm512_set1_ps(-INFINITY);
        ls[vv] = _mm512_setzero_ps();
    }
    float abuf[BQ] __attribute__((aligned(64)));

    const int n = causal ? ((i0 + BQ) < S ? (i0 + BQ) : S) : S;
    const int np_total = (n + KB - 1) / KB;
    const int masked = (D % 64) != 0;
    const int jmask_from = causal ? i0 + 1 : S;
    const __m512 ninf = _mm512_set1_ps(-INFINITY);

    for (int p0 = 0; p0 < np_total; p0 += BKP) {
        const int np = (np_total - p0) < BKP ? (np_total - p0) : BKP;
        const int jc = p0 * KB, rows = np * KB;
        for (int p = 0; p < np; p++) qk_panel(Qt, kp + (long)(p0 + p) * KB * D, D, St + p * KB * BQ);

        if (jc + rows > jmask_from) {
            int jstart = jmask_from - jc;
            if (jstart < 0) jstart = 0;
            for (int j = jstart; j < rows; j++) {
                int jg = jc + j;
                float *row = St + j * BQ;
                for (int vv = 0; vv < QV; vv++) {
                    int t = (jg >= S) ? 16 : (jg - i0 - 16 * vv);
                    if (t <= 0) continue;
                    __mmask16 mk = t >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << t) - 1u);
                    __m512 x = _mm512_load_ps(row + 16 * vv);
                    _mm512_store_ps(row + 16 * vv, _mm512_mask_mov_ps(x, mk, ninf));
                }
            }
        }

        int rescale = 0;
        for (int vv = 0; vv < QV; vv++) {
            __m512 cm0 = ninf, cm1 = ninf;
            int j = 0;
            for (; j + 1 < rows; j += 2) {
                cm0 = _mm512_max_ps(cm0, _mm512_load_ps(St + j * BQ + 16 * vv));
                cm1 = _mm512_max_ps(cm1, _mm512_load_ps(St + (j + 1) * BQ + 16 * vv));
            }
            for (; j < rows; j++) cm0 = _mm512_max_ps(cm0, _mm512_load_ps(St + j * BQ + 16 * vv));
            __m512 mn = _mm512_max_ps(m[vv], _mm512_max_ps(cm0, cm1));
            __m512 alpha = exp2_ps(_mm512_sub_ps(m[vv], mn));
            m[vv] = mn;
            __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
            j = 0;
            for (; j + 1 < rows; j += 2) {
                float *a = St + j * BQ + 16 * vv, *b = a + BQ;
                __m512 pa = exp2_ps(_mm512_sub_ps(_mm512_load_ps(a), mn));
                __m512 pb = exp2_ps(_mm512_sub_ps(_mm512_load_ps(b), mn));
                _mm512_store_ps(a, pa);
                _mm512_store_ps(b, pb);
                s0 = _mm512_add_ps(s0, pa);
                s1 = _mm512_add_ps(s1, pb);
            }
            for (; j < rows; j++) {
                float *a = St + j * BQ + 16 * vv;
                __m512 pa = exp2_ps(_mm512_sub_ps(_mm512_load_ps(a), mn));
                _mm512_store_ps(a, pa);
                s0 = _mm512_add_ps(s0, pa);
            }
            ls[vv] = _mm512_fmadd_ps(ls[vv], alpha, _mm512_add_ps(s0, s1));
            _mm512_store_ps(abuf + 16 * vv, alpha);
            if (_mm512_cmp_ps_mask(alpha, _mm512_set1_ps(1.0f), _CMP_NEQ_UQ)) rescale = 1;
        }
        if (p0 > 0 && rescale) {
            for (int r = 0; r < BQ; r++) {
                __m512 a = _mm512_set1_ps(abuf[r]);
                float *ob = Ob + (long)r * Dp;
                for (int d = 0; d < Dp; d += 16) _mm512_store_ps(ob + d, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
            }
        }

        int jv = n - jc;
        if (jv > rows) jv = rows;
        const float *vc = v + (long)jc * D;
        for (int g = 0; g < Dp; g += 64) {
            __mmask16 mk[DV];
            for (int dv = 0; dv < DV; dv++) {
                int left = D - (g + 16 * dv);
                mk[dv] = left >= 16 ? (__mmask16)0xFFFF : left > 0 ? (__mmask16)((1u << left) - 1u) : 0;
            }
            int r0 = 0;
            if (masked) {
                for (; r0 + RB <= BQ; r0 += RB)
                    pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 1, RB);
#if (BQ % RB) != 0
                pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 1, BQ % RB);
#endif
            } else {
                for (; r0 + RB <= BQ; r0 += RB)
                    pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 0, RB);
#if (BQ % RB) != 0
                pv_block(St + r0, vc + g, D, jv, Ob + (long)r0 * Dp + g, Dp, mk, 0, BQ % RB);
#endif
            }
        }
    }

    float inv[BQ] __attribute__((aligned(64)));
    for (int vv = 0; vv < QV; vv++) _mm512_store_ps(inv + 16 * vv, _mm512_div_ps(_mm512_set1_ps(1.0f), ls[vv]));
    for (int i = 0; i < nq; i++) {
        __m512 a = _mm512_set1_ps(inv[i]);
        const float *ob = Ob + (long)i * Dp;
        float *orow = o + (long)(i0 + i) * D;
        int d = 0;
        for (; d + 16 <= D; d += 16) _mm512_storeu_ps(orow + d, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        if (d < D) {
            __mmask16 mk = (__mmask16)((1u << (D - d)) - 1u);
            _mm512_mask_storeu_ps(orow + d, mk, _mm512_mul_ps(a, _mm512_load_ps(ob + d)));
        }
    }
}

static void *worker(void *arg)
{
    targ_t *ta = arg;
    ctx_t *c = ta->c;
    long h;
    while ((h = atomic_fetch_add(&c->next_pack, 1)) < c->BH) {
        pack_head(c, h);
        atomic_fetch_add(&c->packed, 1);
    }
    while (atomic_load(&c->packed) < c->BH) _mm_pause();
    long t;
    while ((t = atomic_fetch_add(&c->next_item, 1)) < c->nitems) {
        long bh = t / c->nqb;
        int qb = c->nqb - 1 - (int)(t % c->nqb);
        do_block(c, bh, qb, ta->Qt, ta->St, ta->Ob);
    }
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    c.BH = (long)B * H;
    c.S = S;
    c.D = D;
    c.causal = causal ? 1 : 0;
    c.Dp = (D + 63) & ~63;
    c.npan = (S + KB - 1) / KB;
    c.nqb = (S + BQ - 1) / BQ;
    c.nitems = c.BH * c.nqb;
    c.scale2 = (float)(1.4426950408889634 / sqrt((double)D));
    c.Q = Q;
    c.K = K;
    c.V = V;
    c.O = O;
    atomic_init(&c.next_pack, 0);
    atomic_init(&c.packed, 0);
    atomic_init(&c.next_item, 0);

    size_t kpsz = sizeof(float) * (size_t)c.BH * c.npan * KB * D;
    kpsz = (kpsz + 63) & ~(size_t)63;
    c.Kp = aligned_alloc(64, kpsz);
    if (!c.Kp) return 2;

    long nt = NTHREADS > 0 ? NTHREADS : sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if (nt > c.nitems) nt = c.nitems;

    size_t qtsz = sizeof(float) * (size_t)D * BQ, stsz = sizeof(float) * (size_t)CHR * BQ,
           obsz = sizeof(float) * (size_t)BQ * c.Dp;
    qtsz = (qtsz + 63) & ~(size_t)63;
    size_t per = qtsz + stsz + obsz;
    float *buf = aligned_alloc(64, per * nt);
    if (!buf) {
        free(c.Kp);
        return 2;
    }
    targ_t ta[MAXT];
    pthread_t th[MAXT];
    int started[MAXT];
    for (long i = 0; i < nt; i++) {
        char *b = (char *)buf + per * i;
        ta[i].c = &c;
        ta[i].Qt = (float *)b;
        ta[i].St = (float *)(b + qtsz);
        ta[i].Ob = (float *)(b + qtsz + stsz);
        started[i] = 0;
    }
    for (long i = 1; i < nt; i++) started[i] = pthread_create(&th[i], NULL, worker, &ta[i]) == 0;
    worker(&ta[0]);
    for (long i = 1; i < nt; i++)
        if (started[i]) pthread_join(th[i], NULL);
    free(buf);
    free(c.Kp);
    return 0;
}

#define STR2(x) #x
#define STR(x) STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash-avx512", "fp32",
                                      "QKCFG=" STR(QKCFG) " KB=" STR(KB) " BKP=" STR(BKP) " RB=" STR(RB)};
const spak_kernel_info *spak_info(void) { return &info; }
