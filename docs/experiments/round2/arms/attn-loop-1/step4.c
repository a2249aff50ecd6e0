/*
 * step4: AMX (bf16 x 3-way exact split, 6 cross products => fp32-level accuracy)
 * for both products, AVX-512 softmax; AVX-512 fp32 fallback when AMX is not
 * available (arch_prctl permission refused).
 *
 * Split: x = h + m + l exactly, each a bf16 (truncation split: h = x with low 16
 * bits cleared, r = x - h exact, m = r truncated, l = r - m exact with <= 8 bits).
 * x*y ~= hh + hm + mh + hl + lh + mm (dropped terms ~2^-24 relative).
 *
 * Per call: phase A (threads over heads) converts K to the VNNI B layout of
 * Q K^T and V to the VNNI B layout of P V, 3 parts each. Phase B (threads over
 * 32-query blocks, atomic counter): Q block split (A layout), S = Q K^T by
 * 2x2 tiles of 16x16 (4 accumulator tiles, 2 A + 2 B tiles), row softmax
 * (exp2, causal and padding mask), P split to bf16 parts, O = P V by 2x2 tiles,
 * scaled by 1/l at the store.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "abi.h"

#define BQ 48
#define AI __attribute__((always_inline)) static inline

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    long nblk, nitems;
    long counter;
    float sc;
    int fail;
} job_t;

AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.5403530393381609e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* NK keys (rows of k, stride D) against 48 queries of qt (D x 48). */
AI void qk_tile(const float *k, int D, const float *qt, float *p, int NK, int maskit, int j0, int i0,
                __m512 *m)
{
    __m512 a[8][3];
#pragma GCC unroll 8
    for (int r = 0; r < NK; r++)
#pragma GCC unroll 3
        for (int v = 0; v < 3; v++) a[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q0 = _mm512_load_ps(qt + d * BQ);
        __m512 q1 = _mm512_load_ps(qt + d * BQ + 16);
        __m512 q2 = _mm512_load_ps(qt + d * BQ + 32);
#pragma GCC unroll 8
        for (int r = 0; r < NK; r++) {
            __m512 b = _mm512_set1_ps(k[(long)r * D + d]);
            a[r][0] = _mm512_fmadd_ps(b, q0, a[r][0]);
            a[r][1] = _mm512_fmadd_ps(b, q1, a[r][1]);
            a[r][2] = _mm512_fmadd_ps(b, q2, a[r][2]);
        }
    }
    if (maskit) {
        const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
        for (int r = 0; r < NK; r++) {
            __m512i jv = _mm512_set1_epi32(j0 + r);
#pragma GCC unroll 3
            for (int v = 0; v < 3; v++) {
                __m512i iv = _mm512_add_epi32(lane, _mm512_set1_epi32(i0 + v * 16));
                __mmask16 mk = _mm512_cmplt_epi32_mask(iv, jv);
                a[r][v] = _mm512_mask_mov_ps(a[r][v], mk, ninf);
            }
        }
    }
    __m512 m0 = m[0], m1 = m[1], m2 = m[2];
#pragma GCC unroll 8
    for (int r = 0; r < NK; r++) {
        _mm512_store_ps(p + r * BQ, a[r][0]);
        _mm512_store_ps(p + r * BQ + 16, a[r][1]);
        _mm512_store_ps(p + r * BQ + 32, a[r][2]);
        m0 = _mm512_max_ps(m0, a[r][0]);
        m1 = _mm512_max_ps(m1, a[r][1]);
        m2 = _mm512_max_ps(m2, a[r][2]);
    }
    m[0] = m0;
    m[1] = m1;
    m[2] = m2;
}

/* 6 query rows (p columns r0..r0+5 of Pt, stride BQ) x NV vectors of V columns. */
AI void pv_tile(const float *p, const float *v, int D, int nk, int NV, __mmask16 lastmask, const float *linv,
                float *o, int nrows)
{
    __m512 a[6][4];
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++)
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) a[r][c] = _mm512_setzero_ps();
    __mmask16 mk[4];
#pragma GCC unroll 4
    for (int c = 0; c < NV; c++) mk[c] = (c == NV - 1) ? lastmask : (__mmask16)0xFFFF;
    for (int j = 0; j < nk; j++) {
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < NV; c++) vv[c] = _mm512_maskz_loadu_ps(mk[c], v + (long)j * D + c * 16);
        const float *pj = p + (long)j * BQ;
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++) {
            __m512 b = _mm512_set1_ps(pj[r]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++) a[r][c] = _mm512_fmadd_ps(b, vv[c], a[r][c]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) {
        if (r < nrows) {
            __m512 s = _mm512_set1_ps(linv[r]);
#pragma GCC unroll 4
            for (int c = 0; c < NV; c++)
                _mm512_mask_storeu_ps(o + (long)r * D + c * 16, mk[c], _mm512_mul_ps(a[r][c], s));
        }
    }
}

static void do_block(const job_t *J, long bh, long blk, float *qt, float *P)
{
    const int S = J->S, D = J->D, causal = J->causal;
    const float *q = J->Q + bh * (long)S * D, *k = J->K + bh * (long)S * D, *v = J->V + bh * (long)S * D;
    float *o = J->O + bh * (long)S * D;
    const int i0 = (int)(blk * BQ);
    const int nrows = S - i0 < BQ ? S - i0 : BQ;
    const int n = causal ? i0 + nrows : S;
    const float sc = J->sc;

    /* transpose + scale Q block */
    for (int i = 0; i < BQ; i++) {
        if (i < nrows) {
            const float *qi = q + (long)(i0 + i) * D;
            for (int d = 0; d < D; d++) qt[d * BQ + i] = qi[d] * sc;
        } else {
            for (int d = 0; d < D; d++) qt[d * BQ + i] = 0.0f;
        }
    }

    __m512 m[3];
    m[0] = m[1] = m[2] = _mm512_set1_ps(-INFINITY);
    int j0 = 0;
    for (; j0 + 8 <= n; j0 += 8) {
        int maskit = causal && (j0 + 7 > i0);
        qk_tile(k + (long)j0 * D, D, qt, P + (long)j0 * BQ, 8, maskit, j0, i0, m);
    }
    for (; j0 < n; j0++) qk_tile(k + (long)j0 * D, D, qt, P + (long)j0 * BQ, 1, causal && (j0 > i0), j0, i0, m);

    /* softmax numerators and row sums */
    __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
    for (int j = 0; j < n; j++) {
        float *pj = P + (long)j * BQ;
        __m512 e0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj), m[0]));
        __m512 e1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj + 16), m[1]));
        __m512 e2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pj + 32), m[2]));
        _mm512_store_ps(pj, e0);
        _mm512_store_ps(pj + 16, e1);
        _mm512_store_ps(pj + 32, e2);
        l0 = _mm512_add_ps(l0, e0);
        l1 = _mm512_add_ps(l1, e1);
        l2 = _mm512_add_ps(l2, e2);
    }
    float linv[BQ] __attribute__((aligned(64)));
    const __m512 one = _mm512_set1_ps(1.0f);
    _mm512_store_ps(linv, _mm512_div_ps(one, l0));
    _mm512_store_ps(linv + 16, _mm512_div_ps(one, l1));
    _mm512_store_ps(linv + 32, _mm512_div_ps(one, l2));

    /* O = Pt^T V */
    for (int r0 = 0; r0 < nrows; r0 += 6) {
        int nk = causal ? (i0 + r0 + 6 < n ? i0 + r0 + 6 : n) : n;
        int nr = nrows - r0;
        float *orow = o + (long)(i0 + r0) * D;
        for (int c0 = 0; c0 < D; c0 += 64) {
            int rem = D - c0;
            int nv = rem >= 64 ? 4 : (rem + 15) / 16;
            int tail = rem >= 64 ? 16 : rem - (nv - 1) * 16;
            __mmask16 lm = (__mmask16)((1u << tail) - 1u);
            if (tail == 16) lm = 0xFFFF;
            const float *pp = P + r0;
            switch (nv) {
            case 4: pv_tile(pp, v + c0, D, nk, 4, lm, linv + r0, orow + c0, nr); break;
            case 3: pv_tile(pp, v + c0, D, nk, 3, lm, linv + r0, orow + c0, nr); break;
            case 2: pv_tile(pp, v + c0, D, nk, 2, lm, linv + r0, orow + c0, nr); break;
            default: pv_tile(pp, v + c0, D, nk, 1, lm, linv + r0, orow + c0, nr); break;
            }
        }
    }
}

typedef struct {
    void *job;
    char *buf;
} targ_t;

static size_t avx_buf_bytes(int S, int D) { return sizeof(float) * ((size_t)D * BQ + (size_t)S * BQ) + 128; }

static void *worker(void *arg)
{
    targ_t *ta = (targ_t *)arg;
    job_t *J = (job_t *)ta->job;
    float *qt = (float *)ta->buf;
    float *P = qt + (size_t)J->D * BQ;
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8000u); /* FTZ: exp2 underflow of masked scores must not take assists */
    for (;;) {
        long it = __atomic_fetch_add(&J->counter, 1, __ATOMIC_RELAXED);
        if (it >= J->nitems) break;
        long bh = it / J->nblk;
        long blk = J->nblk - 1 - it % J->nblk;
        do_block(J, bh, blk, qt, P);
    }
    _mm_setcsr(csr);
    return NULL;
}

static void run_threads(void *(*fn)(void *), void *job, int nt, char *buf, size_t per);
static int nthreads_for(long items);

static int avx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                         float *O, char *buf, size_t per)
{
    job_t J;
    J.B = B;
    J.H = H;
    J.S = S;
    J.D = D;
    J.causal = causal;
    J.Q = Q;
    J.K = K;
    J.V = V;
    J.O = O;
    J.nblk = (S + BQ - 1) / BQ;
    J.nitems = (long)B * H * J.nblk;
    J.counter = 0;
    J.fail = 0;
    J.sc = (float)(1.4426950408889634 / sqrt((double)D));
    run_threads(worker, &J, nthreads_for(J.nitems), buf, per);
    return J.counter < J.nitems ? 2 : 0;
}



/* ------------------------------------------------------------------ AMX path */

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) tilecfg_t;

typedef struct {
    int B, H, S, D, causal;
    const float *Q, *K, *V;
    float *O;
    int SP, DP;          /* S padded to 32, D padded to 32 */
    long nheads, nblk, cph, nitems; /* cph: work items per head (1: whole head) */
    long cnt;
    float sc;
} ajob_t;

AI __m512i split_mask(void) { return _mm512_set1_epi32((int)0xFFFF0000u); }

/* x = h + m + l (exactly), returned as fp32 vectors whose low 16 bits are zero */
AI void split3(__m512 x, __m512i *h, __m512i *m, __m512i *l)
{
    const __m512i mk = split_mask();
    __m512i xh = _mm512_and_si512(_mm512_castps_si512(x), mk);
    __m512 r = _mm512_sub_ps(x, _mm512_castsi512_ps(xh));
    __m512i xm = _mm512_and_si512(_mm512_castps_si512(r), mk);
    __m512 rl = _mm512_sub_ps(r, _mm512_castsi512_ps(xm));
    *h = xh;
    *m = xm;
    *l = _mm512_and_si512(_mm512_castps_si512(rl), mk); /* exact already; mask is a no-op */
}

/* 16 fp32 (low bits zero) -> 16 bf16 words in order */
AI __m256i pack16(__m512i v) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16)); }

/* pairs: dword = bf16(a) | bf16(b) << 16 */
AI __m512i pairs(__m512i a, __m512i b) { return _mm512_or_si512(_mm512_srli_epi32(a, 16), _mm512_and_si512(b, split_mask())); }

static void amx_convert_head(const ajob_t *J, long bh, uint16_t *kb, uint16_t *vb)
{
    const int S = J->S, D = J->D, SP = J->SP, DP = J->DP;
    const size_t part = (size_t)SP * DP;
    const float *k = J->K + bh * (long)S * D, *v = J->V + bh * (long)S * D;
    const int ndc = DP / 32, ndb = DP / 16;
    const __m512i sidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(16));
    /* K: tile (jb, dc) = 16 rows dp x 16 keys x 2 (d = 2dp + e); element (j,d) at
       (jb*ndc + dc)*512 + dp*32 + jj*2 + e */
    for (int j = 0; j < SP; j++) {
        const int jb = j >> 4, jj = j & 15;
        for (int dc = 0; dc < ndc; dc++) {
            int d0 = dc * 32;
            __mmask16 m0 = 0, m1 = 0;
            if (j < S) {
                int r0 = D - d0, r1 = D - d0 - 16;
                m0 = r0 >= 16 ? 0xFFFF : (r0 > 0 ? (__mmask16)((1u << r0) - 1u) : 0);
                m1 = r1 >= 16 ? 0xFFFF : (r1 > 0 ? (__mmask16)((1u << r1) - 1u) : 0);
            }
            __m512 x0 = _mm512_maskz_loadu_ps(m0, k + (long)j * D + d0);
            __m512 x1 = _mm512_maskz_loadu_ps(m1, k + (long)j * D + d0 + 16);
            __m512i h0, mm0, l0, h1, mm1, l1;
            split3(x0, &h0, &mm0, &l0);
            split3(x1, &h1, &mm1, &l1);
            __m512i w[3];
            w[0] = _mm512_inserti64x4(_mm512_castsi256_si512(pack16(h0)), pack16(h1), 1);
            w[1] = _mm512_inserti64x4(_mm512_castsi256_si512(pack16(mm0)), pack16(mm1), 1);
            w[2] = _mm512_inserti64x4(_mm512_castsi256_si512(pack16(l0)), pack16(l1), 1);
            for (int p = 0; p < 3; p++) {
                uint16_t *tile = kb + p * part + (size_t)(jb * ndc + dc) * 512;
                _mm512_i32scatter_epi32((void *)((uint32_t *)tile + jj), sidx, w[p], 4);
            }
        }
    }
    /* V: tile (ks, db) = 16 rows jp x 16 d x 2 (j = 32ks + 2jp + e); element (j,d) at
       (ks*ndb + db)*512 + jp*32 + dd*2 + e */
    for (int j = 0; j < SP; j += 2) {
        const int ks = j >> 5, jp = (j & 31) >> 1;
        for (int db = 0; db < ndb; db++) {
            int d0 = db * 16, r = D - d0;
            __mmask16 mk = r >= 16 ? 0xFFFF : (r > 0 ? (__mmask16)((1u << r) - 1u) : 0);
            __mmask16 ma = j < S ? mk : 0, mb = j + 1 < S ? mk : 0;
            __m512 a = _mm512_maskz_loadu_ps(ma, v + (long)j * D + d0);
            __m512 b = _mm512_maskz_loadu_ps(mb, v + (long)(j + 1) * D + d0);
            __m512i ah, am, al, bh_, bm, bl;
            split3(a, &ah, &am, &al);
            split3(b, &bh_, &bm, &bl);
            uint16_t *tile = vb + (size_t)(ks * ndb + db) * 512 + jp * 32;
            _mm512_storeu_si512((void *)tile, pairs(ah, bh_));
            _mm512_storeu_si512((void *)(tile + part), pairs(am, bm));
            _mm512_storeu_si512((void *)(tile + 2 * part), pairs(al, bl));
        }
    }
}


/* the 6 cross products (A part, B part), ordered to reuse loaded tiles */
static const int PA[6] = {0, 0, 0, 1, 1, 2};
static const int PB[6] = {0, 1, 2, 1, 0, 0};

static const tilecfg_t amx_cfg = {1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

typedef struct {
    uint16_t *KB, *VB; /* 3 x SP x DP each: the current head's K and V in VNNI tiles */
    uint16_t *Qp; /* 3 x 32 x DP */
    float *Sb;    /* 32 x (SP+16) */
    uint16_t *Pp; /* 3 x 32 x (SP+32) */
    float *ob;    /* 32 x 32 */
} abuf_t;

#define AQ 64 /* queries per AMX work block: two halves of 32 share each K / V chunk while it is in L1 */
#define KC 4  /* PV: 32-key steps per chunk between accumulator spills */

static void amx_block(const ajob_t *J, long bh, long blk, abuf_t *bf)
{
    const int S = J->S, D = J->D, SP = J->SP, DP = J->DP, causal = J->causal;
    const size_t part = (size_t)SP * DP;
    const float *q = J->Q + bh * (long)S * D;
    float *o = J->O + bh * (long)S * D;
    const uint16_t *kb = bf->KB, *vb = bf->VB;
    const int i0 = (int)(blk * AQ);
    const int nrows = S - i0 < AQ ? S - i0 : AQ;
    const int nh = (nrows + 31) / 32; /* halves with real rows */
    const int n = causal ? i0 + nrows : S;
    const int nk32 = (n + 31) & ~31;
    const int nks = nk32 / 32;
    const int ndc = DP / 32, ndb = DP / 16;
    const int SBS = SP + 16, PPS = SP + 32; /* padded row strides (avoid 4K set conflicts) */
    const size_t qpart = (size_t)AQ * DP, ppart = (size_t)AQ * PPS;
    uint16_t *Qp = bf->Qp, *Pp = bf->Pp;
    float *Sb = bf->Sb, *ob = bf->ob;
    const __m512 scv = _mm512_set1_ps(J->sc);

    /* Q block: scale, split, A layout [part][i][d] */
    for (int i = 0; i < nh * 32; i++) {
        for (int d0 = 0; d0 < DP; d0 += 16) {
            int r = D - d0;
            __mmask16 mk = (i < nrows && r > 0) ? (r >= 16 ? 0xFFFF : (__mmask16)((1u << r) - 1u)) : 0;
            __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, q + (long)(i0 + i) * D + d0), scv);
            __m512i h, m, l;
            split3(x, &h, &m, &l);
            _mm256_storeu_si256((__m256i *)(Qp + (size_t)i * DP + d0), pack16(h));
            _mm256_storeu_si256((__m256i *)(Qp + qpart + (size_t)i * DP + d0), pack16(m));
            _mm256_storeu_si256((__m256i *)(Qp + 2 * qpart + (size_t)i * DP + d0), pack16(l));
        }
    }
    __asm__ volatile("" ::: "memory");

    /* S = Q K^T: per 32 keys, per half: C tiles 0..3 = (rt0,kb0) (rt0,kb1) (rt1,kb0) (rt1,kb1) */
    for (int jb = 0; jb < nk32; jb += 32) {
        for (int hh = 0; hh < nh; hh++) {
            const uint16_t *qh = Qp + (size_t)hh * 32 * DP;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int dc = 0; dc < ndc; dc++) {
                for (int t = 0; t < 6; t++) {
                    const uint16_t *a = qh + PA[t] * qpart + dc * 32;
                    const uint16_t *b = kb + PB[t] * part + (size_t)((jb >> 4) * ndc + dc) * 512;
                    _tile_loadd(4, a, DP * 2);
                    _tile_loadd(5, a + (size_t)16 * DP, DP * 2);
                    _tile_loadd(6, b, 64);
                    _tile_loadd(7, b + (size_t)ndc * 512, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
            float *sh = Sb + (size_t)hh * 32 * SBS;
            _tile_stored(0, sh + jb, SBS * 4);
            _tile_stored(1, sh + jb + 16, SBS * 4);
            _tile_stored(2, sh + (size_t)16 * SBS + jb, SBS * 4);
            _tile_stored(3, sh + (size_t)16 * SBS + jb + 16, SBS * 4);
        }
    }

    /* softmax rows: P = exp2(s - max), masked keys -> 0; split into bf16 parts */
    float linv[AQ];
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < nh * 32; i++) {
        float *s = Sb + (size_t)i * SBS;
        int lim = S;
        if (causal && i0 + i + 1 < lim) lim = i0 + i + 1;
        const __m512i limv = _mm512_set1_epi32(lim);
        __m512 mx = ninf;
        for (int j = 0; j < nk32; j += 16) {
            __mmask16 valid = _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane, _mm512_set1_epi32(j)), limv);
            __m512 x = _mm512_mask_mov_ps(ninf, valid, _mm512_loadu_ps(s + j));
            _mm512_storeu_ps(s + j, x);
            mx = _mm512_max_ps(mx, x);
        }
        const __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sum = _mm512_setzero_ps();
        uint16_t *p0 = Pp + (size_t)i * PPS;
        for (int j = 0; j < nk32; j += 16) {
            __m512 e = exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv));
            sum = _mm512_add_ps(sum, e);
            __m512i h, m, l;
            split3(e, &h, &m, &l);
            _mm256_storeu_si256((__m256i *)(p0 + j), pack16(h));
            _mm256_storeu_si256((__m256i *)(p0 + ppart + j), pack16(m));
            _mm256_storeu_si256((__m256i *)(p0 + 2 * ppart + j), pack16(l));
        }
        linv[i] = 1.0f / _mm512_reduce_add_ps(sum);
    }
    __asm__ volatile("" ::: "memory");

    /* O = P V: per 32 output columns; keys in chunks of KC steps so that the V chunk is
       reused from L1 by the second half; accumulators spilled to ob between chunks */
    for (int dg = 0; dg < ndb; dg += 2) {
        for (int kc = 0; kc < nks; kc += KC) {
            for (int hh = 0; hh < nh; hh++) {
                int kend = nks;
                if (causal) {
                    int need = (i0 + hh * 32 + 32 + 31) / 32; /* key steps this half can see */
                    if (need < kend) kend = need;
                }
                if (kc >= kend) continue;
                int ke = kc + KC < kend ? kc + KC : kend;
                float *oh = ob + (size_t)hh * 32 * 32;
                if (kc == 0) {
                    _tile_zero(0);
                    _tile_zero(1);
                    _tile_zero(2);
                    _tile_zero(3);
                } else {
                    _tile_loadd(0, oh, 128);
                    _tile_loadd(1, oh + 16, 128);
                    _tile_loadd(2, oh + 16 * 32, 128);
                    _tile_loadd(3, oh + 16 * 32 + 16, 128);
                }
                const uint16_t *ph = Pp + (size_t)hh * 32 * PPS;
                for (int ks = kc; ks < ke; ks++) {
                    for (int t = 0; t < 6; t++) {
                        const uint16_t *a = ph + PA[t] * ppart + ks * 32;
                        const uint16_t *b = vb + PB[t] * part + (size_t)(ks * ndb + dg) * 512;
                        _tile_loadd(4, a, PPS * 2);
                        _tile_loadd(5, a + (size_t)16 * PPS, PPS * 2);
                        _tile_loadd(6, b, 64);
                        _tile_loadd(7, b + 512, 64);
                        _tile_dpbf16ps(0, 4, 6);
                        _tile_dpbf16ps(1, 4, 7);
                        _tile_dpbf16ps(2, 5, 6);
                        _tile_dpbf16ps(3, 5, 7);
                    }
                }
                _tile_stored(0, oh, 128);
                _tile_stored(1, oh + 16, 128);
                _tile_stored(2, oh + 16 * 32, 128);
                _tile_stored(3, oh + 16 * 32 + 16, 128);
            }
        }
        for (int c = 0; c < 2; c++) {
            int d0 = dg * 16 + c * 16, r = D - d0;
            if (r <= 0) continue;
            __mmask16 mk = r >= 16 ? 0xFFFF : (__mmask16)((1u << r) - 1u);
            for (int i = 0; i < nrows; i++)
                _mm512_mask_storeu_ps(o + (long)(i0 + i) * D + d0, mk,
                                      _mm512_mul_ps(_mm512_loadu_ps(ob + i * 32 + c * 16), _mm512_set1_ps(linv[i])));
        }
    }
}

static size_t amx_buf_bytes(int S, int D)
{
    size_t SP = ((size_t)S + 31) & ~(size_t)31, DP = ((size_t)D + 31) & ~(size_t)31;
    size_t b = 0;
    b += 2 * 3 * SP * DP * sizeof(uint16_t); /* KB, VB */
    b += 3 * AQ * DP * sizeof(uint16_t);     /* Qp */
    b += AQ * (SP + 16) * sizeof(float);     /* Sb */
    b += 3 * AQ * (SP + 32) * sizeof(uint16_t); /* Pp */
    b += AQ * 32 * sizeof(float);            /* ob */
    return b + 6 * 64;
}

static char *align64(char *p) { return (char *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

static void *amx_worker(void *arg)
{
    targ_t *ta = (targ_t *)arg;
    ajob_t *J = (ajob_t *)ta->job;
    const size_t SP = J->SP, DP = J->DP;
    abuf_t bf;
    char *p = align64(ta->buf);
    bf.KB = (uint16_t *)p;
    p = align64(p + 3 * SP * DP * sizeof(uint16_t));
    bf.VB = (uint16_t *)p;
    p = align64(p + 3 * SP * DP * sizeof(uint16_t));
    bf.Qp = (uint16_t *)p;
    p = align64(p + 3 * AQ * DP * sizeof(uint16_t));
    bf.Sb = (float *)p;
    p = align64(p + AQ * (SP + 16) * sizeof(float));
    bf.Pp = (uint16_t *)p;
    p = align64(p + 3 * AQ * (SP + 32) * sizeof(uint16_t));
    bf.ob = (float *)p;
    __asm__ volatile("" ::: "memory");
    _tile_loadconfig(&amx_cfg);
    const unsigned csr = _mm_getcsr();
    _mm_setcsr(csr | 0x8000u); /* FTZ: exp2 underflow of masked scores must not take assists */
    long cur = -1;
    for (;;) {
        long it = __atomic_fetch_add(&J->cnt, 1, __ATOMIC_RELAXED);
        if (it >= J->nitems) break;
        long bh = it / J->cph;
        if (bh != cur) {
            amx_convert_head(J, bh, bf.KB, bf.VB);
            cur = bh;
        }
        __asm__ volatile("" ::: "memory");
        if (J->cph == 1) {
            for (long blk = 0; blk < J->nblk; blk++) amx_block(J, bh, blk, &bf);
        } else {
            amx_block(J, bh, J->nblk - 1 - it % J->cph, &bf);
        }
    }
    _tile_release();
    _mm_setcsr(csr);
    return NULL;
}

static int nthreads_for(long items)
{
    long nt = sysconf(_SC_NPROCESSORS_ONLN);
    if (nt < 1) nt = 1;
    if (nt > 64) nt = 64;
    if (nt > items) nt = items;
    return (int)nt;
}

/* buf: nt consecutive per-thread areas of per bytes each */
static void run_threads(void *(*fn)(void *), void *job, int nt, char *buf, size_t per)
{
    pthread_t th[64];
    targ_t ta[64];
    int started[64] = {0};
    for (int t = 0; t < nt; t++) {
        ta[t].job = job;
        ta[t].buf = buf + (size_t)t * per;
    }
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, fn, &ta[t]) == 0;
    fn(&ta[0]);
    for (int t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
}

static int amx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                         float *O, char *buf, size_t per, int nt)
{
    ajob_t J;
    J.B = B;
    J.H = H;
    J.S = S;
    J.D = D;
    J.causal = causal;
    J.Q = Q;
    J.K = K;
    J.V = V;
    J.O = O;
    J.SP = (S + 31) & ~31;
    J.DP = (D + 31) & ~31;
    J.nheads = (long)B * H;
    J.nblk = (S + AQ - 1) / AQ;
    J.cph = J.nheads >= nt ? 1 : J.nblk;
    J.nitems = J.nheads * J.cph;
    J.sc = (float)(1.4426950408889634 / sqrt((double)D));
    J.cnt = 0;
    run_threads(amx_worker, &J, nt, buf, per);
    return J.cnt >= J.nitems ? 0 : -1;
}

#ifndef USE_AMX
#define USE_AMX 1
#endif
#define STACK_LIMIT ((size_t)4 << 20) /* scratch up to 4 MiB lives on the caller's stack (stays mapped) */

/* bytes left below the current stack pointer in this thread's stack (0 if unknown) */
static size_t stack_room(void)
{
    pthread_attr_t a;
    void *lo = NULL;
    size_t sz = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0) return 0;
    int ok = pthread_attr_getstack(&a, &lo, &sz) == 0;
    pthread_attr_destroy(&a);
    if (!ok || !lo) return 0;
    char here;
    uintptr_t sp = (uintptr_t)&here, base = (uintptr_t)lo;
    if (sp <= base || sp - base > sz) return 0;
    return (size_t)(sp - base);
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    int use_amx = USE_AMX && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    long items = use_amx ? (long)B * H * ((S + AQ - 1) / AQ) : (long)B * H * ((S + BQ - 1) / BQ);
    int nt = nthreads_for(items);
    size_t per = use_amx ? amx_buf_bytes(S, D) : avx_buf_bytes(S, D);
    per = (per + 63) & ~(size_t)63;
    size_t total = per * (size_t)nt + 64;
    char *heap = NULL, *buf;
    if (total <= STACK_LIMIT && stack_room() > total + ((size_t)512 << 10)) {
        buf = __builtin_alloca(total);
    } else {
        heap = malloc(total);
        if (!heap) return 2;
        buf = heap;
    }
    buf = align64(buf);
    int rc;
    if (use_amx)
        rc = amx_attention(B, H, S, D, causal, Q, K, V, O, buf, per, nt);
    else
        rc = avx_attention(B, H, S, D, causal, Q, K, V, O, buf, per);
    free(heap);
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16x6", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
