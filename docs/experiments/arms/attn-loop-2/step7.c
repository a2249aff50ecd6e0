/* fp32 attention, "full-row" blocked variant: for a block of BQ query rows,
 * pass 1 computes all its scores (AVX-512 6x64 register tiles on packed,
 * pre-scaled K^T, chunk-outer so each 16 KB K^T chunk is reused from L1),
 * with the causal/tail mask and the running row max fused into the tile;
 * pass 2, per 64-key chunk and row tile, exponentiates the P block in L1 and
 * accumulates P V into an L1-resident O block (exact softmax, no rescaling).
 * Threads: NT pthreads on an atomic counter over (bh, q-block) tasks; K^T/V
 * packing is lazy per 64-key chunk, claimed with atomic flags. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <immintrin.h>
#include "abi.h"

#ifndef BQ
#define BQ 48
#endif
#ifndef NT
#define NT 0 /* 0: all online cpus */
#endif
#define CK 64 /* keys per packed chunk */
#define RT 6  /* rows per register tile */
#define AI __attribute__((always_inline)) static inline
#define MASKV (-1.0e30f)

AI __m512 exp2v(__m512 x)
{
    /* x <= 0; masked scores are MASKV = -1e30: roundscale keeps it, f = 0, scalef -> +0 exactly */
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381606e-04f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* s[r][0..64) = sum_d q[r][d] * kt[d][0..64), masked to -inf for keys j >= lim[r]
 * (lim relative to this chunk), and rmax[r] = max(rmax[r], row max) */
AI void qk_tile(int R, const float *q, int D, const float *kt, float *s, int lds, const int *lim, float *rmax)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        const float *kr = kt + (long)d * CK;
        __m512 k0 = _mm512_load_ps(kr), k1 = _mm512_load_ps(kr + 16), k2 = _mm512_load_ps(kr + 32),
               k3 = _mm512_load_ps(kr + 48);
        __asm__("" : "+v"(k0), "+v"(k1), "+v"(k2), "+v"(k3)); /* keep K^T in registers */
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(q[(long)r * D + d]);
            acc[r][0] = _mm512_fmadd_ps(b, k0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(b, k1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(b, k2, acc[r][2]);
            acc[r][3] = _mm512_fmadd_ps(b, k3, acc[r][3]);
        }
    }
    const __m512 ninf = _mm512_set1_ps(MASKV);
    for (int r = 0; r < R; r++) {
        int l = lim[r];
        if (l < CK)
            for (int c = 0; c < 4; c++) {
                int lc = l - 16 * c;
                __mmask16 m = lc >= 16 ? (__mmask16)0xFFFF : lc <= 0 ? (__mmask16)0 : (__mmask16)((1u << lc) - 1u);
                acc[r][c] = _mm512_mask_mov_ps(ninf, m, acc[r][c]);
            }
        __m512 mx = _mm512_max_ps(_mm512_max_ps(acc[r][0], acc[r][1]), _mm512_max_ps(acc[r][2], acc[r][3]));
        _mm512_store_ps(rmax + 16 * r, _mm512_max_ps(mx, _mm512_load_ps(rmax + 16 * r)));
        for (int c = 0; c < 4; c++) _mm512_store_ps(s + (long)r * lds + 16 * c, acc[r][c]);
    }
}

/* o[r][0..16*NV) += sum_{j<kn} p[r][j] v[j][..] */
AI void pv_tile(int R, int NV, const float *p, int ldp, const float *v, long ldv, int kn, float *o, int ldo,
                __mmask16 tm)
{
    __m512 acc[RT][4];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < NV; c++) acc[r][c] = _mm512_load_ps(o + r * ldo + 16 * c);
    for (int j = 0; j < kn; j++) {
        __m512 vv[4];
        if (NV == 1)
            vv[0] = _mm512_maskz_loadu_ps(tm, v + (long)j * ldv); /* D tail: no V padding needed */
        else
            for (int c = 0; c < NV; c++) vv[c] = _mm512_loadu_ps(v + (long)j * ldv + 16 * c);
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(p[(long)r * ldp + j]);
            for (int c = 0; c < NV; c++) acc[r][c] = _mm512_fmadd_ps(b, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < NV; c++) _mm512_store_ps(o + r * ldo + 16 * c, acc[r][c]);
}

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int nqb, ntasks, nkc, Dp, W;
    float *Kt; /* shared packed K^T (scaled) [bh][chunk][D][CK] */
    int *next, *flags; /* flags[bh*nkc+c]: 0 unpacked, 1 packing, 2 ready */
    int err;
} job_t;

static void pack_chunk_to(const job_t *jb, long bh, int kc, float *dst)
{
    const int S = jb->S, D = jb->D;
    const float sc = (float)(1.4426950408889634 / sqrt((double)D));
    const float *k = jb->K + bh * (long)S * D;
    for (int jj = 0; jj < CK; jj++) {
        int j = kc * CK + jj;
        if (j < S)
            for (int d = 0; d < D; d++) dst[(long)d * CK + jj] = k[(long)j * D + d] * sc;
        else
            for (int d = 0; d < D; d++) dst[(long)d * CK + jj] = 0.0f;
    }
}

/* K^T chunk kc of head bh: the shared copy if ready or packed by us now; if
 * another thread is packing it, pack a private copy instead of waiting (a
 * descheduled packer would otherwise stall this thread on a loaded machine). */
static inline const float *get_chunk(job_t *jb, long bh, int kc, float *scratch)
{
    int *f = jb->flags + bh * jb->nkc + kc;
    float *shared = jb->Kt + (bh * (long)jb->nkc + kc) * CK * jb->D;
    int st = __atomic_load_n(f, __ATOMIC_ACQUIRE);
    if (st == 2) return shared;
    int zero = 0;
    if (st == 0 && __atomic_compare_exchange_n(f, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        pack_chunk_to(jb, bh, kc, shared);
        __atomic_store_n(f, 2, __ATOMIC_RELEASE);
        return shared;
    }
    if (__atomic_load_n(f, __ATOMIC_ACQUIRE) == 2) return shared;
    pack_chunk_to(jb, bh, kc, scratch);
    return scratch;
}

/* out-of-line full tiles: a fresh register allocation for the hot loops */
static __attribute__((noinline)) void qk_full(const float *q, int D, const float *kt, float *s, int lds,
                                              const int *lim, float *rmax)
{
    qk_tile(RT, q, D, kt, s, lds, lim, rmax);
}
static __attribute__((noinline)) void pv_full(const float *p, int ldp, const float *v, long ldv, int kn, float *o,
                                              int ldo)
{
    pv_tile(RT, 4, p, ldp, v, ldv, kn, o, ldo, 0xFFFF);
}

#define SWITCH_R(R, CALL)          \
    switch (R) {                   \
    case 6: CALL(6); break;        \
    case 5: CALL(5); break;        \
    case 4: CALL(4); break;        \
    case 3: CALL(3); break;        \
    case 2: CALL(2); break;        \
    default: CALL(1); break;       \
    }

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int S = jb->S, D = jb->D, causal = jb->causal, Dp = jb->Dp, W = jb->W;
    float *Sb = aligned_alloc(64, sizeof(float) * (size_t)BQ * W);
    float *Ob = aligned_alloc(64, sizeof(float) * (size_t)BQ * Dp);
    float *Rm = aligned_alloc(64, sizeof(float) * BQ * 16); /* per-row running max vectors */
    float *Rs = aligned_alloc(64, sizeof(float) * BQ * 16); /* per-row sum vectors */
    float *scratch = aligned_alloc(64, sizeof(float) * (size_t)CK * D);
    float mrow[BQ];
    int lim[RT];
    if (!Sb || !Ob || !Rm || !Rs || !scratch) {
        free(Rm); free(Rs); free(scratch);
        jb->err = 1;
        free(Sb); free(Ob);
        return NULL;
    }
    for (;;) {
        int t = __atomic_fetch_add(jb->next, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
        long bh = t / jb->nqb;
        int qi = t % jb->nqb;
        int qb = causal ? jb->nqb - 1 - qi : qi;
        const float *q = jb->Q + bh * (long)S * D;
        float *o = jb->O + bh * (long)S * D;
        const float *vb = jb->V + bh * (long)S * D;
        const long ldv = D;
        const __mmask16 tailm = (D & 15) ? (__mmask16)((1u << (D & 15)) - 1u) : (__mmask16)0xFFFF;
        const int i0 = qb * BQ;
        const int nq = S - i0 < BQ ? S - i0 : BQ;
        const int kend = causal ? i0 + nq : S; /* keys [0, kend) */
        const int nch = (kend + CK - 1) / CK;
        /* pass 1: masked scores and running row max, chunk-outer */
        for (int r = 0; r < nq; r++) {
            _mm512_store_ps(Rm + 16 * r, _mm512_set1_ps(-INFINITY));
            _mm512_store_ps(Rs + 16 * r, _mm512_setzero_ps());
        }
        for (int kc = 0; kc < nch; kc++) {
            const float *ktc = get_chunk(jb, bh, kc, scratch);
            const int j0 = kc * CK;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                if (causal && j0 > i0 + r0 + R - 1) continue; /* all masked for this tile */
                for (int r = 0; r < R; r++) lim[r] = (causal ? i0 + r0 + r + 1 : S) - j0;
                const float *qr = q + (long)(i0 + r0) * D;
                float *s = Sb + (long)r0 * W + j0;
                float *rm = Rm + 16 * r0;
                if (R == RT)
                    qk_full(qr, D, ktc, s, W, lim, rm);
                else {
#define QK(RR) qk_tile(RR, qr, D, ktc, s, W, lim, rm)
                    SWITCH_R(R, QK)
#undef QK
                }
            }
        }
        for (int r = 0; r < nq; r++) mrow[r] = _mm512_reduce_max_ps(_mm512_load_ps(Rm + 16 * r));
        /* pass 2: per chunk and row tile, P = exp2(s - m) in L1, then O += P V */
        memset(Ob, 0, sizeof(float) * (size_t)BQ * Dp);
        for (int kc = 0; kc < nch; kc++) {
            const int j0 = kc * CK;
            const int kn = kend - j0 < CK ? kend - j0 : CK;
            const float *vj = vb + (long)j0 * ldv;
            for (int r0 = 0; r0 < nq; r0 += RT) {
                int R = nq - r0 < RT ? nq - r0 : RT;
                int kt = kn;
                if (causal) {
                    int lim0 = i0 + r0 + R - j0;
                    if (lim0 < kt) kt = lim0;
                    if (kt <= 0) continue;
                }
                float *p = Sb + (long)r0 * W + j0;
                const int kt16 = (kt + 15) & ~15;
                for (int r = 0; r < R; r++) {
                    float *pr = p + (long)r * W;
                    __m512 mv = _mm512_set1_ps(mrow[r0 + r]), sum = _mm512_setzero_ps();
                    for (int j = 0; j < kt16; j += 16) {
                        __m512 e = exp2v(_mm512_sub_ps(_mm512_load_ps(pr + j), mv));
                        _mm512_store_ps(pr + j, e);
                        sum = _mm512_add_ps(sum, e);
                    }
                    _mm512_store_ps(Rs + 16 * (r0 + r), _mm512_add_ps(sum, _mm512_load_ps(Rs + 16 * (r0 + r))));
                }
                float *ob = Ob + (long)r0 * Dp;
                int c0 = 0;
                for (; c0 + 64 <= D; c0 += 64) { /* full vectors only inside the row */
                    if (R == RT)
                        pv_full(p, W, vj + c0, ldv, kt, ob + c0, Dp);
                    else {
#define PV4(RR) pv_tile(RR, 4, p, W, vj + c0, ldv, kt, ob + c0, Dp, 0xFFFF)
                        SWITCH_R(R, PV4)
#undef PV4
                    }
                }
                for (; c0 < Dp; c0 += 16) {
                    __mmask16 vm = c0 + 16 <= D ? (__mmask16)0xFFFF : tailm;
#define PV1(RR) pv_tile(RR, 1, p, W, vj + c0, ldv, kt, ob + c0, Dp, vm)
                    SWITCH_R(R, PV1)
#undef PV1
                }
            }
        }
        for (int r = 0; r < nq; r++) {
            float inv = 1.0f / _mm512_reduce_add_ps(_mm512_load_ps(Rs + 16 * r));
            float *dst = o + (long)(i0 + r) * D;
            const float *src = Ob + (long)r * Dp;
            for (int d = 0; d < D; d++) dst[d] = src[d] * inv;
        }
    }
    free(Sb); free(Ob); free(Rm); free(Rs); free(scratch);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int next = 0;
    int nqb = (S + BQ - 1) / BQ;
    int nkc = (S + CK - 1) / CK;
    int Dp = (D + 15) & ~15;
    int W = nkc * CK;
    long nbh = (long)B * H;
    long ntl = nbh * nqb;
    if (ntl > 0x7fffffffL) return 3;
    float *Kt = aligned_alloc(64, sizeof(float) * (size_t)nbh * nkc * CK * D);
    int *flags = calloc((size_t)nbh * nkc, sizeof(int));
    if (!Kt || !flags) {
        free(Kt); free(flags);
        return 2;
    }
    int ncpu = NT > 0 ? NT : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1) ncpu = 1;
    if (ncpu > 64) ncpu = 64;
    if (ncpu > ntl) ncpu = (int)ntl;
    job_t jobs[64];
    pthread_t th[64];
    int started[64];
    for (int t = 0; t < ncpu; t++)
        jobs[t] = (job_t){B, H, S, D, causal, Q, K, V, O, nqb, (int)ntl, nkc, Dp, W, Kt, &next, flags, 0};
    for (int t = 1; t < ncpu; t++) started[t] = pthread_create(&th[t], NULL, worker, &jobs[t]) == 0;
    worker(&jobs[0]);
    int err = jobs[0].err;
    for (int t = 1; t < ncpu; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        err |= jobs[t].err;
    }
    free(Kt); free(flags);
    if (err && next < (int)ntl) return 2; /* some tasks were left undone */
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/fullrow-fused-nowait-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
