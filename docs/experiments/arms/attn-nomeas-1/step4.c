/*
 * step4: step 1 (blocked AVX-512) with only the QK^T GEMM moved to AMX
 * (TDPBF16PS on an fp32-accurate bf16 split of Q and K, NPROD cross products);
 * softmax and P.V stay on the step-1 AVX-512 path. Falls back to the AVX-512
 * QK^T when the OS refuses AMX tile data.
 * step1: blocked, AVX-512, 2-thread attention forward.
 *   - K packed per head into 32-key panels [chunk][d][32] (zero padded).
 *   - per (head, block of BQ query rows): scores for the whole key range the
 *     block needs (8x32 register micro-kernel), exact row softmax with a
 *     vectorised exp2 (Q pre-scaled by log2(e)/sqrt(D)), then O = P V with a
 *     6 x 64 register micro-kernel over key chunks of KC rows (V chunk in L1),
 *     normalisation by 1/l folded into the final store.
 *   - dynamic task scheduling over (head, block) with an atomic counter;
 *     causal blocks processed most expensive first.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>
#include "abi.h"

#ifndef BQ
#define BQ 64 /* query rows per block: multiple of 32 */
#endif
#ifndef NPROD
#define NPROD 3
#endif
#if NPROD == 6
#define NPARTS 3
#elif NPROD == 3
#define NPARTS 2
#else
#error "NPROD must be 3 or 6"
#endif
#define BQX (BQ + 8) /* rows of the P buffer: PV pads rows to a multiple of 6 */
#ifndef KC
#define KC 64 /* keys per PV chunk */
#endif
#ifndef NT
#define NT 0 /* threads, 0 = all online cpus */
#endif

#define MRQ 8  /* QK micro-kernel rows */
#define NRQ 32 /* QK micro-kernel columns (keys) */
#define MRP 6  /* PV micro-kernel rows */

#if (BQ % 32) != 0
#error "BQ must be a multiple of 32"
#endif
static const int PA[6] = {0, 0, 1, 0, 1, 2};
static const int PB[6] = {0, 1, 0, 2, 1, 0};

static inline __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-149.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381606e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

static inline __m256i f2bf(__m512 x) { return (__m256i)_mm512_cvtneps_pbh(x); }
static inline __m512 bf2f(__m256i b) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16)); }
static inline void split(__m512 x, __m256i h[NPARTS])
{
    h[0] = f2bf(x);
    __m512 r = _mm512_sub_ps(x, bf2f(h[0]));
    h[1] = f2bf(r);
#if NPARTS == 3
    r = _mm512_sub_ps(r, bf2f(h[1]));
    h[2] = f2bf(r);
#endif
}

typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette_id, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    float *KP;     /* AVX path: packed K, per head: nch * D * 32 */
    uint32_t *AKP; /* AMX path: K VNNI tiles [part][16-key tile][32-d step][16][16] */
    int amx, Dp;
    long khead;
    long nch;      /* key chunks of 32 */
    long Sp;       /* nch * 32 */
    long ps;       /* P row stride */
    int nblk;      /* query blocks per head */
    long ntask;
    float cs;      /* log2(e) / sqrt(D) */
    atomic_long next_pack, done_pack, next_task;
} ctx_t;

static void pack_k(ctx_t *c, long bh)
{
    const int S = c->S, D = c->D;
    const float *k = c->K + bh * (long)S * D;
    float *kp = c->KP + bh * c->nch * D * NRQ;
    for (long ch = 0; ch < c->nch; ch++) {
        float *dst = kp + ch * D * NRQ;
        for (int jj = 0; jj < NRQ; jj++) {
            long j = ch * NRQ + jj;
            if (j < S) {
                const float *src = k + j * D;
                for (int d = 0; d < D; d++) dst[d * NRQ + jj] = src[d];
            } else {
                for (int d = 0; d < D; d++) dst[d * NRQ + jj] = 0.0f;
            }
        }
    }
}

/* scores of MRQ rows (qb, row stride D) against one 32-key panel */
static inline void qk_tile(const float *qb, int D, const float *kp, float *p, long ps)
{
    __m512 acc[MRQ][2];
#pragma GCC unroll 8
    for (int r = 0; r < MRQ; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 k0 = _mm512_load_ps(kp + d * NRQ), k1 = _mm512_load_ps(kp + d * NRQ + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MRQ; r++) {
            __m512 b = _mm512_set1_ps(qb[r * D + d]);
            acc[r][0] = _mm512_fmadd_ps(b, k0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(b, k1, acc[r][1]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MRQ; r++) {
        _mm512_storeu_ps(p + r * ps, acc[r][0]);
        _mm512_storeu_ps(p + r * ps + 16, acc[r][1]);
    }
}

/* O-tile of MRP rows x (NV*16 masked) cols, keys jb..je */
static inline __attribute__((always_inline)) void pv_tile(const int NV, const __mmask16 *mk, const float *pr, long ps,
                                                          const float *v, int D, int jb, int je, float *ob, int first,
                                                          int last, float *o, const float *inv, int nvalid)
{
    __m512 acc[MRP][4];
#pragma GCC unroll 6
    for (int r = 0; r < MRP; r++)
#pragma GCC unroll 4
        for (int t = 0; t < NV; t++)
            acc[r][t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mk[t], ob + r * D + 16 * t);
    for (int j = jb; j < je; j++) {
        const float *vr = v + (long)j * D;
        __m512 vv[4];
#pragma GCC unroll 4
        for (int t = 0; t < NV; t++) vv[t] = _mm512_maskz_loadu_ps(mk[t], vr + 16 * t);
#pragma GCC unroll 6
        for (int r = 0; r < MRP; r++) {
            __m512 b = _mm512_set1_ps(pr[r * ps + j]);
#pragma GCC unroll 4
            for (int t = 0; t < NV; t++) acc[r][t] = _mm512_fmadd_ps(b, vv[t], acc[r][t]);
        }
    }
    if (last) {
        for (int r = 0; r < MRP; r++) {
            if (r >= nvalid) break;
            __m512 s = _mm512_set1_ps(inv[r]);
#pragma GCC unroll 4
            for (int t = 0; t < NV; t++) _mm512_mask_storeu_ps(o + r * D + 16 * t, mk[t], _mm512_mul_ps(acc[r][t], s));
        }
    } else {
#pragma GCC unroll 6
        for (int r = 0; r < MRP; r++)
#pragma GCC unroll 4
            for (int t = 0; t < NV; t++) _mm512_mask_storeu_ps(ob + r * D + 16 * t, mk[t], acc[r][t]);
    }
}

static void a_pack_k(ctx_t *c, long bh)
{
    const int S = c->S, D = c->D, Dp = c->Dp;
    const int ndst = Dp / 32;
    const long nkt = c->Sp / 16;
    const float *k = c->K + bh * (long)S * D;
    uint32_t *kp = c->AKP + bh * c->khead;
    uint32_t tmp[NPARTS][256] __attribute__((aligned(64)));
    for (long kt = 0; kt < nkt; kt++)
        for (int ds = 0; ds < ndst; ds++) {
            const __mmask16 m0 = tail_mask(D - ds * 32), m1 = tail_mask(D - ds * 32 - 16);
            for (int n = 0; n < 16; n++) {
                const long j = kt * 16 + n;
                __m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
                if (j < S) {
                    x0 = _mm512_maskz_loadu_ps(m0, k + j * D + ds * 32);
                    x1 = _mm512_maskz_loadu_ps(m1, k + j * D + ds * 32 + 16);
                }
                __m256i h0[NPARTS], h1[NPARTS];
                split(x0, h0);
                split(x1, h1);
                for (int p = 0; p < NPARTS; p++)
                    _mm512_store_si512((void *)(tmp[p] + n * 16),
                                       _mm512_inserti64x4(_mm512_castsi256_si512(h0[p]), h1[p], 1));
            }
            for (int p = 0; p < NPARTS; p++) {
                uint32_t *dst = kp + (((long)p * nkt + kt) * ndst + ds) * 256;
                for (int r = 0; r < 16; r++)
                    for (int n = 0; n < 16; n++) dst[r * 16 + n] = tmp[p][n * 16 + r];
            }
        }
}

/* scores of rows [0, rq) (rq multiple of 32) of the block: pb = (Q*cs) K^T via AMX */
static void a_qk(ctx_t *c, long bh, int i0, int rows, int kend, uint16_t *qb, float *pb)
{
    const int S = c->S, D = c->D, Dp = c->Dp, causal = c->causal;
    const int ndst = Dp / 32;
    const long nkt = c->Sp / 16, ps = c->ps;
    const int rq = (rows + 31) / 32 * 32;
    const long qpart = (long)BQ * Dp;
    const float *q = c->Q + bh * (long)S * D + (long)i0 * D;
    const uint32_t *kp = c->AKP + bh * c->khead;
    const __m512 csv = _mm512_set1_ps(c->cs);
    for (int r = 0; r < rq; r++)
        for (int ds = 0; ds < ndst; ds++) {
            __m512 x0 = _mm512_setzero_ps(), x1 = _mm512_setzero_ps();
            if (r < rows) {
                x0 = _mm512_mul_ps(csv, _mm512_maskz_loadu_ps(tail_mask(D - ds * 32), q + (long)r * D + ds * 32));
                x1 = _mm512_mul_ps(csv,
                                   _mm512_maskz_loadu_ps(tail_mask(D - ds * 32 - 16), q + (long)r * D + ds * 32 + 16));
            }
            __m256i h0[NPARTS], h1[NPARTS];
            split(x0, h0);
            split(x1, h1);
            for (int p = 0; p < NPARTS; p++) {
                uint16_t *dst = qb + p * qpart + (long)r * Dp + ds * 32;
                _mm256_store_si256((__m256i *)dst, h0[p]);
                _mm256_store_si256((__m256i *)(dst + 16), h1[p]);
            }
        }
    for (int rt = 0; rt < rq; rt += 32)
        for (int kc = 0; kc * 32 < kend; kc++) {
            if (causal && kc * 32 > i0 + rt + 31) break;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int pp = 0; pp < NPROD; pp++) {
                const uint16_t *qa = qb + PA[pp] * qpart + (long)rt * Dp;
                const uint32_t *kb = kp + ((long)PB[pp] * nkt + 2 * kc) * ndst * 256;
                for (int ds = 0; ds < ndst; ds++) {
                    _tile_loadd(4, qa + ds * 32, Dp * 2);
                    _tile_loadd(5, qa + 16 * Dp + ds * 32, Dp * 2);
                    _tile_loadd(6, kb + ds * 256, 64);
                    _tile_loadd(7, kb + (ndst + ds) * 256, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
            float *pt = pb + rt * ps + kc * 32;
            _tile_stored(0, pt, ps * 4);
            _tile_stored(1, pt + 16, ps * 4);
            _tile_stored(2, pt + 16 * ps, ps * 4);
            _tile_stored(3, pt + 16 * ps + 16, ps * 4);
        }
}

static void do_block(ctx_t *c, long bh, int blk, float *qb, uint16_t *qb16, float *pb, float *ob, float *inv)
{
    const int S = c->S, D = c->D, causal = c->causal;
    const long ps = c->ps;
    const int i0 = blk * BQ;
    const int rows = S - i0 < BQ ? S - i0 : BQ;
    const int kend = causal ? (i0 + rows < S ? i0 + rows : S) : S;
    const float *q = c->Q + bh * (long)S * D + (long)i0 * D;
    const float *v = c->V + bh * (long)S * D;
    float *o = c->O + bh * (long)S * D + (long)i0 * D;
    const float *kp = c->KP + bh * c->nch * D * NRQ;

    const int rq = (rows + MRQ - 1) / MRQ * MRQ;
    (void)kp;
    const int rp = (rows + MRP - 1) / MRP * MRP;

    if (c->amx) {
        a_qk(c, bh, i0, rows, kend, qb16, pb);
    } else {
    /* pack scaled Q rows, zero pad to rq */
    for (int r = 0; r < rq; r++) {
        if (r < rows) {
            const float *src = q + (long)r * D;
            for (int d = 0; d < D; d++) qb[r * D + d] = src[d] * c->cs;
        } else {
            for (int d = 0; d < D; d++) qb[r * D + d] = 0.0f;
        }
    }

    /* scores */
    const int nck = (kend + NRQ - 1) / NRQ;
    for (int ch = 0; ch < nck; ch++) {
        const float *panel = kp + (long)ch * D * NRQ;
        for (int rt = 0; rt < rq; rt += MRQ) {
            if (causal && ch * NRQ > i0 + rt + MRQ - 1) continue; /* whole panel above the diagonal */
            qk_tile(qb + rt * D, D, panel, pb + rt * ps + ch * NRQ, ps);
        }
    }

    }

    /* softmax (unnormalised), zero the masked tail up to kend */
    for (int r = 0; r < rp; r++) {
        float *p = pb + r * ps;
        if (r >= rows) {
            memset(p, 0, sizeof(float) * (size_t)kend);
            continue;
        }
        const int n = causal ? i0 + r + 1 : S;
        __m512 mv = _mm512_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 16 <= n; j += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(p + j));
        if (j < n) mv = _mm512_mask_max_ps(mv, tail_mask(n - j), mv, _mm512_maskz_loadu_ps(tail_mask(n - j), p + j));
        const float m = _mm512_reduce_max_ps(mv);
        const __m512 mm = _mm512_set1_ps(m);
        __m512 sv = _mm512_setzero_ps();
        for (j = 0; j + 16 <= n; j += 16) {
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(p + j), mm));
            _mm512_storeu_ps(p + j, e);
            sv = _mm512_add_ps(sv, e);
        }
        if (j < n) {
            __mmask16 tm = tail_mask(n - j);
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, p + j), mm));
            e = _mm512_maskz_mov_ps(tm, e);
            _mm512_storeu_ps(p + j, e); /* zeros beyond n; p row has room (ps >= Sp + 16) */
            sv = _mm512_add_ps(sv, e);
            j += 16;
        }
        for (; j < kend; j++) p[j] = 0.0f;
        inv[r] = 1.0f / _mm512_reduce_add_ps(sv);
    }

    /* O = P V */
    for (int dc = 0; dc < D; dc += 64) {
        const int rem = D - dc;
        const int nv = rem >= 64 ? 4 : (rem + 15) / 16;
        __mmask16 mk[4];
        for (int t = 0; t < 4; t++) mk[t] = tail_mask(rem - 16 * t > 0 ? rem - 16 * t : 0);
        for (int jc = 0; jc < kend; jc += KC) {
            for (int rt = 0; rt < rp; rt += MRP) {
                int tk = kend;
                if (causal) {
                    int lim = i0 + rt + MRP;
                    if (lim < tk) tk = lim;
                }
                if (jc >= tk) continue;
                const int je = jc + KC < tk ? jc + KC : tk;
                const int first = jc == 0, last = jc + KC >= tk;
                const int nvalid = rows - rt;
                const float *pr = pb + rt * ps;
                float *obt = ob + rt * D + dc;
                float *ot = o + (long)rt * D + dc;
                const float *vt = v + dc;
                switch (nv) {
                case 4: pv_tile(4, mk, pr, ps, vt, D, jc, je, obt, first, last, ot, inv + rt, nvalid); break;
                case 3: pv_tile(3, mk, pr, ps, vt, D, jc, je, obt, first, last, ot, inv + rt, nvalid); break;
                case 2: pv_tile(2, mk, pr, ps, vt, D, jc, je, obt, first, last, ot, inv + rt, nvalid); break;
                default: pv_tile(1, mk, pr, ps, vt, D, jc, je, obt, first, last, ot, inv + rt, nvalid); break;
                }
            }
        }
    }
}

static void *worker(void *arg)
{
    ctx_t *c = (ctx_t *)arg;
    const long BH = (long)c->B * c->H;
    long t;
    while ((t = atomic_fetch_add(&c->next_pack, 1)) < BH) {
        if (c->amx) a_pack_k(c, t);
        else pack_k(c, t);
        atomic_fetch_add(&c->done_pack, 1);
    }
    /* wait until every head's K is packed (works for any number of threads) */
    for (int spin = 0; atomic_load(&c->done_pack) < BH; spin++) {
        if (spin < 2000) _mm_pause();
        else sched_yield();
    }

    const int D = c->D;
    float *qb = aligned_alloc(64, sizeof(float) * (size_t)BQ * D + 64);
    float *pb = aligned_alloc(64, sizeof(float) * (size_t)BQX * c->ps);
    float *ob = aligned_alloc(64, sizeof(float) * (size_t)BQX * D + 64);
    uint16_t *qb16 = c->amx ? aligned_alloc(64, sizeof(uint16_t) * (size_t)NPARTS * BQ * c->Dp + 64) : NULL;
    float inv[BQX];
    if (c->amx && qb16) {
        amx_cfg cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.palette_id = 1;
        for (int i = 0; i < 8; i++) cfg.colsb[i] = 64, cfg.rows[i] = 16;
        _tile_loadconfig(&cfg);
    }
    if (!qb || !pb || !ob || (c->amx && !qb16)) {
        free(qb), free(pb), free(ob), free(qb16);
        /* cannot happen in practice; other threads take the remaining tasks */
        return (void *)1;
    }
    while ((t = atomic_fetch_add(&c->next_task, 1)) < c->ntask) {
        long bh;
        int blk;
        if (c->causal) {
            bh = t % BH;
            blk = c->nblk - 1 - (int)(t / BH);
        } else {
            bh = t / c->nblk;
            blk = (int)(t % c->nblk);
        }
        do_block(c, bh, blk, qb, qb16, pb, ob, inv);
    }
    if (c->amx) _tile_release();
    free(qb), free(pb), free(ob), free(qb16);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    ctx_t c;
    c.B = B, c.H = H, c.S = S, c.D = D, c.causal = causal;
    c.Q = Q, c.K = K, c.V = V, c.O = O;
    c.nch = (S + NRQ - 1) / NRQ;
    c.Sp = c.nch * NRQ;
    c.ps = c.Sp + 16;
    c.nblk = (S + BQ - 1) / BQ;
    c.ntask = (long)B * H * c.nblk;
    c.cs = (float)(1.4426950408889634 / sqrt((double)D));
    atomic_init(&c.next_pack, 0);
    atomic_init(&c.next_task, 0);
    atomic_init(&c.done_pack, 0);
    c.Dp = (D + 31) / 32 * 32;
    c.amx = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
    c.KP = NULL;
    c.AKP = NULL;
    if (c.amx) {
        c.khead = (long)NPARTS * c.Sp * c.Dp / 2;
        c.AKP = aligned_alloc(64, sizeof(uint32_t) * (size_t)((long)B * H * c.khead));
        if (!c.AKP) return 2;
    } else {
        size_t kpsz = sizeof(float) * (size_t)B * H * (size_t)c.nch * D * NRQ;
        c.KP = aligned_alloc(64, (kpsz + 63) / 64 * 64);
        if (!c.KP) return 2;
    }

    int nthr = NT;
    if (nthr <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nthr = n > 0 ? (int)n : 1;
    }
    if (nthr > 64) nthr = 64;
    if ((long)nthr > c.ntask) nthr = (int)c.ntask;
    if (nthr < 1) nthr = 1;

    pthread_t th[64];
    int started = 0;
    for (int i = 0; i < nthr - 1; i++) {
        if (pthread_create(&th[i], NULL, worker, &c) != 0) break;
        started++;
    }
    void *r0 = worker(&c);
    int bad = r0 != NULL;
    for (int i = 0; i < started; i++) {
        void *r;
        pthread_join(th[i], &r);
        bad |= r != NULL;
    }
    free(c.KP), free(c.AKP);
    return bad ? 3 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/step4-amx-qk-avx-pv", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
