/*
 * Two-pass-per-query-block attention, AVX-512, multithreaded.
 * Work item = (batch*head, query block of BQ = MR*NRB rows), handed out by an
 * atomic counter (heaviest causal blocks of each head first).
 * Per item: S_blk = Q_blk K^T (register-blocked MR x 64 tiles, K pre-transposed
 * into 64-key tiles), exact row softmax (vectorized exp2), O_blk = P V
 * (register-blocked MR x 64 tiles over a zero-padded copy of V), scale 1/l.
 * Causal: key tiles entirely above the diagonal are skipped.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef MR
#define MR 6
#endif
#ifndef NRB
#define NRB 8
#endif
#define BQ (MR * NRB)
#define TW 64 /* key tile width = 4 zmm */

#if MR == 6
#define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#elif MR == 5
#define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4)
#elif MR == 4
#define FOR_ROWS(X) X(0) X(1) X(2) X(3)
#elif MR == 3
#define FOR_ROWS(X) X(0) X(1) X(2)
#elif MR == 2
#define FOR_ROWS(X) X(0) X(1)
#else
#error "MR must be 2..6"
#endif

/* ---- vectorized 2^x for x <= 0 (masked lanes may be anything) ---- */
static inline __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n); /* [-0.5, 0.5] */
    __m512 p = _mm512_set1_ps(1.5252733804059841e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* ---- P[MR][64] = Qrows[MR][D] . KTtile[D][64] ---- */
#define QK_DECL(r)                                                                                 \
    __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps(),                           \
           c##r##2 = _mm512_setzero_ps(), c##r##3 = _mm512_setzero_ps();                           \
    const float *q##r = q + (long)(r) * D;
#define QK_STEP(r)                                                                                 \
    {                                                                                              \
        __m512 b = _mm512_set1_ps(q##r[d]);                                                        \
        c##r##0 = _mm512_fmadd_ps(b, k0, c##r##0);                                                 \
        c##r##1 = _mm512_fmadd_ps(b, k1, c##r##1);                                                 \
        c##r##2 = _mm512_fmadd_ps(b, k2, c##r##2);                                                 \
        c##r##3 = _mm512_fmadd_ps(b, k3, c##r##3);                                                 \
    }
#define QK_STORE(r)                                                                                \
    {                                                                                              \
        float *pr = p + (long)(r) * ldp;                                                           \
        _mm512_store_ps(pr, c##r##0);                                                              \
        _mm512_store_ps(pr + 16, c##r##1);                                                         \
        _mm512_store_ps(pr + 32, c##r##2);                                                         \
        _mm512_store_ps(pr + 48, c##r##3);                                                         \
    }

static inline void qk_tile(const float *restrict q, int D, const float *restrict kt, float *restrict p,
                           long ldp)
{
    FOR_ROWS(QK_DECL)
    for (int d = 0; d < D; d++) {
        const float *k = kt + (long)d * TW;
        __m512 k0 = _mm512_load_ps(k), k1 = _mm512_load_ps(k + 16), k2 = _mm512_load_ps(k + 32),
               k3 = _mm512_load_ps(k + 48);
        FOR_ROWS(QK_STEP)
    }
    FOR_ROWS(QK_STORE)
}

/* ---- O[MR][64] += P[MR][nk] . Vtile[nk][64] ---- */
#define PV_DECL(r)                                                                                 \
    __m512 c##r##0 = _mm512_load_ps(o + (r) * 64), c##r##1 = _mm512_load_ps(o + (r) * 64 + 16),    \
           c##r##2 = _mm512_load_ps(o + (r) * 64 + 32), c##r##3 = _mm512_load_ps(o + (r) * 64 + 48); \
    const float *p##r = p + (long)(r) * ldp;
#define PV_STEP(r)                                                                                 \
    {                                                                                              \
        __m512 b = _mm512_set1_ps(p##r[j]);                                                        \
        c##r##0 = _mm512_fmadd_ps(b, v0, c##r##0);                                                 \
        c##r##1 = _mm512_fmadd_ps(b, v1, c##r##1);                                                 \
        c##r##2 = _mm512_fmadd_ps(b, v2, c##r##2);                                                 \
        c##r##3 = _mm512_fmadd_ps(b, v3, c##r##3);                                                 \
    }
#define PV_STORE(r)                                                                                \
    {                                                                                              \
        _mm512_store_ps(o + (r) * 64, c##r##0);                                                    \
        _mm512_store_ps(o + (r) * 64 + 16, c##r##1);                                               \
        _mm512_store_ps(o + (r) * 64 + 32, c##r##2);                                               \
        _mm512_store_ps(o + (r) * 64 + 48, c##r##3);                                               \
    }

static inline void pv_tile(const float *restrict p, long ldp, const float *restrict v, float *restrict o,
                           int nk)
{
    FOR_ROWS(PV_DECL)
    for (int j = 0; j < nk; j++) {
        const float *vj = v + (long)j * 64;
        __m512 v0 = _mm512_load_ps(vj), v1 = _mm512_load_ps(vj + 16), v2 = _mm512_load_ps(vj + 32),
               v3 = _mm512_load_ps(vj + 48);
        FOR_ROWS(PV_STEP)
    }
    FOR_ROWS(PV_STORE)
}

/* ---- one row of softmax: p[0..n) scores -> exp2((s-max)*c), p[n..kend) = 0 ---- */
static inline __mmask16 tail_mask(int rem)
{
    return rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
}

static float softmax_row(float *restrict p, int n, int kend, float cexp)
{
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16) {
        __m512 x = _mm512_mask_load_ps(vmax, tail_mask(n - j), p + j);
        vmax = _mm512_max_ps(vmax, x);
    }
    __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vc = _mm512_set1_ps(cexp);
    __m512 vs = _mm512_setzero_ps();
    for (int j = 0; j < kend; j += 16) {
        int rem = n - j;
        if (rem <= 0) {
            _mm512_store_ps(p + j, _mm512_setzero_ps());
            continue;
        }
        __mmask16 m = tail_mask(rem);
        __m512 x = _mm512_maskz_load_ps(m, p + j);
        x = _mm512_mul_ps(_mm512_sub_ps(x, vm), vc);
        __m512 e = _mm512_maskz_mov_ps(m, exp2_ps(x));
        _mm512_store_ps(p + j, e);
        vs = _mm512_add_ps(vs, e);
    }
    return 1.0f / _mm512_reduce_add_ps(vs);
}

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int Sp, nch, nqb;
    long ldp, nitems;
    float cexp;
    atomic_long next, done;
} job_t;

static size_t rup16(size_t x) { return (x + 15) & ~(size_t)15; }

static void build_head(const job_t *jb, long bh, float *KT, float *Vp)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp;
    const float *k = jb->K + (size_t)bh * S * D, *v = jb->V + (size_t)bh * S * D;
    for (int kt = 0; kt < Sp / TW; kt++) {
        float *dst = KT + (size_t)kt * D * TW;
        for (int jj = 0; jj < TW; jj++) {
            long j = (long)kt * TW + jj;
            if (j < S) {
                const float *kr = k + (size_t)j * D;
                for (int d = 0; d < D; d++) dst[(size_t)d * TW + jj] = kr[d];
            } else {
                for (int d = 0; d < D; d++) dst[(size_t)d * TW + jj] = 0.0f;
            }
        }
    }
    for (int c = 0; c < jb->nch; c++) {
        int w = D - c * 64;
        if (w > 64) w = 64;
        for (int j = 0; j < Sp; j++) {
            float *dst = Vp + ((size_t)c * Sp + j) * 64;
            if (j < S) {
                memcpy(dst, v + (size_t)j * D + (size_t)c * 64, sizeof(float) * (size_t)w);
                if (w < 64) memset(dst + w, 0, sizeof(float) * (size_t)(64 - w));
            } else {
                memset(dst, 0, sizeof(float) * 64);
            }
        }
    }
}

static void do_block(const job_t *jb, long bh, int qb, const float *KT, const float *Vp, float *Qs,
                     float *P, float *Ob, float *invl)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp, causal = jb->causal, nch = jb->nch;
    const long ldp = jb->ldp;
    const int i0 = qb * BQ;
    int nreal = S - i0;
    if (nreal > BQ) nreal = BQ;
    const int nrb = (nreal + MR - 1) / MR, nrows = nrb * MR;
    const int ilast = i0 + nreal - 1;
    const int kend = causal ? ((ilast + 1 + TW - 1) / TW) * TW : Sp;
    const int ntile = kend / TW;
    const float *q = jb->Q + (size_t)bh * S * D;

    for (int r = 0; r < nrows; r++) {
        if (r < nreal)
            memcpy(Qs + (size_t)r * D, q + (size_t)(i0 + r) * D, sizeof(float) * (size_t)D);
        else
            memset(Qs + (size_t)r * D, 0, sizeof(float) * (size_t)D);
    }
    /* scores */
    for (int kt = 0; kt < ntile; kt++) {
        const int j0 = kt * TW;
        const float *ktile = KT + (size_t)kt * D * TW;
        for (int rb = 0; rb < nrb; rb++) {
            const int ihi = i0 + rb * MR + MR - 1;
            if (causal && ihi < j0) continue;
            qk_tile(Qs + (size_t)rb * MR * D, D, ktile, P + (size_t)rb * MR * ldp + j0, ldp);
        }
    }
    /* softmax */
    for (int r = 0; r < nrows; r++) {
        const int i = i0 + r;
        int n = S;
        if (causal && i + 1 < S) n = i + 1;
        invl[r] = softmax_row(P + (size_t)r * ldp, n, kend, jb->cexp);
    }
    /* P V */
    memset(Ob, 0, sizeof(float) * (size_t)nch * BQ * 64);
    for (int c = 0; c < nch; c++) {
        const float *vc = Vp + (size_t)c * Sp * 64;
        float *oc = Ob + (size_t)c * BQ * 64;
        for (int kt = 0; kt < ntile; kt++) {
            const int j0 = kt * TW;
            for (int rb = 0; rb < nrb; rb++) {
                const int ihi = i0 + rb * MR + MR - 1;
                int nk = TW;
                if (causal) {
                    if (ihi < j0) continue;
                    if (ihi + 1 - j0 < nk) nk = ihi + 1 - j0;
                }
                pv_tile(P + (size_t)rb * MR * ldp + j0, ldp, vc + (size_t)j0 * 64,
                        oc + (size_t)rb * MR * 64, nk);
            }
        }
    }
    /* write out */
    for (int r = 0; r < nreal; r++) {
        const float inv = invl[r];
        float *orow = jb->O + ((size_t)bh * S + (size_t)(i0 + r)) * D;
        for (int c = 0; c < nch; c++) {
            const float *src = Ob + ((size_t)c * BQ + r) * 64;
            int w = D - c * 64;
            if (w > 64) w = 64;
            for (int d = 0; d < w; d++) orow[c * 64 + d] = src[d] * inv;
        }
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const size_t Sp = (size_t)jb->Sp, D = (size_t)jb->D, nch = (size_t)jb->nch;
    const size_t nKT = rup16(Sp * D), nVp = nch * Sp * 64, nQs = rup16((size_t)BQ * D),
                 nP = (size_t)BQ * (size_t)jb->ldp, nOb = nch * BQ * 64, nL = rup16(BQ);
    size_t bytes = sizeof(float) * (nKT + nVp + nQs + nP + nOb + nL);
    bytes = (bytes + 63) & ~(size_t)63;
    float *mem = (float *)aligned_alloc(64, bytes);
    if (!mem) return NULL;
    float *KT = mem, *Vp = KT + nKT, *Qs = Vp + nVp, *P = Qs + nQs, *Ob = P + nP, *invl = Ob + nOb;
    long cur = -1;
    for (;;) {
        long t = atomic_fetch_add(&jb->next, 1);
        if (t >= jb->nitems) break;
        long bh = t / jb->nqb;
        int qb = jb->nqb - 1 - (int)(t % jb->nqb);
        if (bh != cur) {
            build_head(jb, bh, KT, Vp);
            cur = bh;
        }
        do_block(jb, bh, qb, KT, Vp, Qs, P, Ob, invl);
        atomic_fetch_add(&jb->done, 1);
    }
    free(mem);
    return NULL;
}

#define MAXT 64

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t jb;
    jb.B = B;
    jb.H = H;
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.Sp = ((S + TW - 1) / TW) * TW;
    jb.nch = (D + 63) / 64;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.ldp = (long)jb.Sp + 16;
    jb.nitems = (long)B * H * jb.nqb;
    jb.cexp = (float)(1.4426950408889634 / sqrt((double)D));
    atomic_init(&jb.next, 0);
    atomic_init(&jb.done, 0);

    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > MAXT) nt = MAXT;
    if (nt > jb.nitems) nt = jb.nitems;
    pthread_t th[MAXT];
    int created = 0;
    for (long i = 1; i < nt; i++)
        if (pthread_create(&th[created], NULL, worker, &jb) == 0) created++;
    worker(&jb);
    for (int i = 0; i < created; i++) pthread_join(th[i], NULL);
    return atomic_load(&jb.done) == jb.nitems ? 0 : 3;
}

#define STR2(x) #x
#define STR(x) STR2(x)
static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/flash2pass-avx512", "fp32",
                                      "MR=" STR(MR) " NRB=" STR(NRB)};
const spak_kernel_info *spak_info(void) { return &info; }
