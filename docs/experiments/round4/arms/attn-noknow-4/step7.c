/*
 * Flash-style fp32 attention, AVX-512, pthreads.
 * Task = (batch*head, block of BQ=48 queries). Q block is transposed into
 * Qt[d][48] (pre-scaled by log2(e)/sqrt(D)), scores are computed transposed
 * St[key][query] = K_j . Qt[:, i] (vectorised over queries), online softmax
 * over key blocks of BK keys (vectorised over queries, exp2 polynomial), and
 * O[i][:] += P[i][j] V[j][:] with a register-blocked micro-kernel.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "abi.h"

#ifndef BK
#define BK 64
#endif
#ifndef USE_AMX
#define USE_AMX 1
#endif
#ifndef ORDER
#define ORDER 1 /* 0: heads interleaved across consecutive tasks; 1: head-major (K,V of a head stay hot) */
#endif
#define BQ 48
#define NQV 3
#define MAXT 64

#define AI __attribute__((always_inline)) static inline

AI __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.5403530393381606e-04f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* R keys (rows of K starting at key j) x 48 queries. */
AI void qk_tile(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, const int R, const int V0, int diag,
                int i0, int j)
{
    __m512 acc[8][NQV];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int v = V0; v < NQV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int d = 0; d < D; d++) {
        __m512 q0 = _mm512_load_ps(Qt + d * BQ);
        __m512 q1 = _mm512_load_ps(Qt + d * BQ + 16);
        __m512 q2 = _mm512_load_ps(Qt + d * BQ + 32);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 b = _mm512_set1_ps(K[(long)r * D + d]);
            if (V0 <= 0) acc[r][0] = _mm512_fmadd_ps(b, q0, acc[r][0]);
            if (V0 <= 1) acc[r][1] = _mm512_fmadd_ps(b, q1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(b, q2, acc[r][2]);
        }
    }
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 3
        for (int v = 0; v < NQV; v++) {
            if (v < V0) {
                _mm512_store_ps(Sb + r * BQ + 16 * v, ninf);
                continue;
            }
            __m512 s = acc[r][v];
            if (diag) {
                __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(i0 + 16 * v));
                __mmask16 keep = _mm512_cmp_epi32_mask(qi, _mm512_set1_epi32(j + r), _MM_CMPINT_NLT);
                s = _mm512_mask_mov_ps(ninf, keep, s);
            }
            _mm512_store_ps(Sb + r * BQ + 16 * v, s);
            mx[v] = _mm512_max_ps(mx[v], s);
        }
}

/* O[0..48)[dc..dc+16*NV) (+)= P^T V over nk keys; rows in groups of R. */
AI void pv_tile(const float *V, int D, int nk0, const float *Sb, float *Ob, int Dp, const float *alpha, int first,
                const int NV, const int R, const int masked, __mmask16 lastmask, int klim)
{
    for (int i = 0; i < BQ; i += R) {
        /* causal: keys at block offset >= klim + i + R are masked for all R rows of this group */
        int nk = klim + i + R;
        if (nk > nk0) nk = nk0;
        __m512 acc[24][4];
        if (first) {
#pragma GCC unroll 24
            for (int r = 0; r < R; r++)
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
        } else {
#pragma GCC unroll 24
            for (int r = 0; r < R; r++) {
                __m512 a = _mm512_set1_ps(alpha[i + r]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++)
                    acc[r][v] = _mm512_mul_ps(_mm512_load_ps(Ob + (long)(i + r) * Dp + 16 * v), a);
            }
        }
        const float *vp = V;
        const float *sp = Sb + i;
        for (int jj = 0; jj < nk; jj++, vp += D, sp += BQ) {
            __m512 vv[4];
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++)
                vv[v] = (masked && v == NV - 1) ? _mm512_maskz_loadu_ps(lastmask, vp + 16 * v)
                                                : _mm512_loadu_ps(vp + 16 * v);
#pragma GCC unroll 24
            for (int r = 0; r < R; r++) {
                __m512 p = _mm512_set1_ps(sp[r]);
#pragma GCC unroll 4
                for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
            }
        }
#pragma GCC unroll 24
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) _mm512_store_ps(Ob + (long)(i + r) * Dp + 16 * v, acc[r][v]);
    }
}

static __attribute__((noinline)) void pv_4(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 4, 6, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_3(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 3, 8, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_2(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 2, 12, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_1(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 1, 24, 0, 0xFFFF, klim);
}
static __attribute__((noinline)) void pv_4m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 4, 6, 1, m, klim);
}
static __attribute__((noinline)) void pv_3m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 3, 8, 1, m, klim);
}
static __attribute__((noinline)) void pv_2m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 2, 12, 1, m, klim);
}
static __attribute__((noinline)) void pv_1m(const float *V, int D, int nk, const float *Sb, float *Ob, int Dp, const float *al, int f,
                  __mmask16 m, int klim)
{
    pv_tile(V, D, nk, Sb, Ob, Dp, al, f, 1, 24, 1, m, klim);
}

static __attribute__((noinline)) void qk_8(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 0, diag, i0, j);
}
static __attribute__((noinline)) void qk_8v1(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 1, diag, i0, j);
}
static __attribute__((noinline)) void qk_8v2(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 8, 2, diag, i0, j);
}
static __attribute__((noinline)) void qk_1(const float *K, int D, const float *Qt, float *Sb, __m512 *mx, int diag, int i0, int j)
{
    qk_tile(K, D, Qt, Sb, mx, 1, 0, diag, i0, j);
}

typedef struct {
    int B, H, S, D, causal, nqb, ntasks, BHn;
    const float *Q, *K, *V;
    float *O;
    int counter;
    int fail;
} job_t;

typedef struct {
    float *Qt, *Sb, *Ob, *alpha;
} bufs_t;

static void run_task(const job_t *jb, const bufs_t *bf, long bh, int qb)
{
    const int S = jb->S, D = jb->D, causal = jb->causal;
    const int Dp = (D + 15) & ~15;
    const int nvec = Dp / 16;
    const float *q = jb->Q + bh * (long)S * D, *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    float *Qt = bf->Qt, *Sb = bf->Sb, *Ob = bf->Ob, *alpha = bf->alpha;
    const int i0 = qb * BQ;
    const int nq = S - i0 < BQ ? S - i0 : BQ;
    const float c = 1.4426950408889634f / sqrtf((float)D);

    for (int d = 0; d < D; d++) {
        for (int i = 0; i < nq; i++) Qt[d * BQ + i] = q[(long)(i0 + i) * D + d] * c;
        for (int i = nq; i < BQ; i++) Qt[d * BQ + i] = 0.0f;
    }
    __m512 m[NQV], l[NQV];
    for (int t = 0; t < NQV; t++) {
        m[t] = _mm512_set1_ps(-INFINITY);
        l[t] = _mm512_setzero_ps();
    }
    int kend = S;
    if (causal && i0 + BQ < S) kend = i0 + BQ;
    const __mmask16 lastmask = (D & 15) ? (__mmask16)((1u << (D & 15)) - 1u) : (__mmask16)0xFFFF;
    int first = 1;
    for (int j0 = 0; j0 < kend; j0 += BK) {
        const int nk = kend - j0 < BK ? kend - j0 : BK;
        __m512 mx[NQV];
        for (int t = 0; t < NQV; t++) mx[t] = _mm512_set1_ps(-INFINITY);
        int jj = 0;
        for (; jj + 8 <= nk; jj += 8) {
            int j = j0 + jj;
            int vs = (causal && j > i0) ? (j - i0) / 16 : 0;
            if (vs == 0)
                qk_8(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, causal && j + 7 > i0, i0, j);
            else if (vs == 1)
                qk_8v1(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, 1, i0, j);
            else
                qk_8v2(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, 1, i0, j);
        }
        for (; jj < nk; jj++) {
            int j = j0 + jj;
            qk_1(k + (long)j * D, D, Qt, Sb + jj * BQ, mx, causal && j > i0, i0, j);
        }
        /* online softmax, vectorised over the 48 queries */
        __m512 sum[NQV];
        for (int t = 0; t < NQV; t++) {
            __m512 mn = _mm512_max_ps(m[t], mx[t]);
            __m512 a = exp2_ps(_mm512_sub_ps(m[t], mn));
            _mm512_store_ps(alpha + 16 * t, a);
            l[t] = _mm512_mul_ps(l[t], a);
            m[t] = mn;
            sum[t] = _mm512_setzero_ps();
        }
        for (int r = 0; r < nk; r++) {
            float *sr = Sb + r * BQ;
            for (int t = 0; t < NQV; t++) {
                __m512 p = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sr + 16 * t), m[t]));
                _mm512_store_ps(sr + 16 * t, p);
                sum[t] = _mm512_add_ps(sum[t], p);
            }
        }
        for (int t = 0; t < NQV; t++) l[t] = _mm512_add_ps(l[t], sum[t]);
        /* O += P V */
        const float *vb = v + (long)j0 * D;
        const int klim = causal ? i0 - j0 : (1 << 30);
        for (int cv = 0; cv < nvec; cv += 4) {
            int nv = nvec - cv < 4 ? nvec - cv : 4;
            int last = (cv + nv == nvec) && (D & 15);
            const float *vc = vb + 16 * cv;
            float *oc = Ob + 16 * cv;
            if (!last) {
                switch (nv) {
                case 4: pv_4(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                case 3: pv_3(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                case 2: pv_2(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                default: pv_1(vc, D, nk, Sb, oc, Dp, alpha, first, klim); break;
                }
            } else {
                switch (nv) {
                case 4: pv_4m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                case 3: pv_3m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                case 2: pv_2m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                default: pv_1m(vc, D, nk, Sb, oc, Dp, alpha, first, lastmask, klim); break;
                }
            }
        }
        first = 0;
    }
    float lf[BQ] __attribute__((aligned(64)));
    for (int t = 0; t < NQV; t++) _mm512_store_ps(lf + 16 * t, l[t]);
    for (int i = 0; i < nq; i++) {
        const float inv = 1.0f / lf[i];
        const float *src = Ob + (long)i * Dp;
        float *dst = o + (long)(i0 + i) * D;
        for (int d = 0; d < D; d++) dst[d] = src[d] * inv;
    }
}

static void *worker(void *arg)
{
    job_t *jb = (job_t *)arg;
    const int Dp = (jb->D + 15) & ~15;
    bufs_t bf;
    size_t szQ = sizeof(float) * (size_t)jb->D * BQ, szS = sizeof(float) * (size_t)BK * BQ,
           szO = sizeof(float) * (size_t)BQ * Dp, szA = sizeof(float) * BQ;
    size_t tot = ((szQ + 63) & ~(size_t)63) + ((szS + 63) & ~(size_t)63) + ((szO + 63) & ~(size_t)63) +
                 ((szA + 63) & ~(size_t)63);
    char *mem = aligned_alloc(64, tot);
    if (!mem) {
        __atomic_store_n(&jb->fail, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    char *p = mem;
    bf.Qt = (float *)p;
    p += (szQ + 63) & ~(size_t)63;
    bf.Sb = (float *)p;
    p += (szS + 63) & ~(size_t)63;
    bf.Ob = (float *)p;
    p += (szO + 63) & ~(size_t)63;
    bf.alpha = (float *)p;
    for (;;) {
        int t = __atomic_fetch_add(&jb->counter, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
#if ORDER == 0
        long bh = t % jb->BHn;
        int qb = jb->nqb - 1 - t / jb->BHn;
#else
        long bh = t / jb->nqb;
        int qb = jb->nqb - 1 - t % jb->nqb;
#endif
        run_task(jb, &bf, bh, qb);
    }
    free(mem);
    return NULL;
}

static int attn_fp32(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t jb;
    jb.B = B;
    jb.H = H;
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.BHn = B * H;
    jb.nqb = (S + BQ - 1) / BQ;
    jb.ntasks = jb.BHn * jb.nqb;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.counter = 0;
    jb.fail = 0;
    long nc = 0;
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof(cs), &cs) == 0) nc = CPU_COUNT(&cs);
    if (nc < 1) nc = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = nc < 1 ? 1 : (nc > MAXT ? MAXT : (int)nc);
    if (nt > jb.ntasks) nt = jb.ntasks;
    pthread_t th[MAXT];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, worker, &jb) != 0) break;
        started++;
    }
    worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return jb.fail ? 2 : 0;
}


/* ===================== AMX path: bf16x3 split (6 products), fp32-accurate ===================== */
#if defined(__AMX_TILE__) && defined(__AMX_BF16__)
#define ABQ 32 /* queries per task: two 16-column tiles */

typedef struct {
    uint8_t palette, start_row, rsv[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) tilecfg_t;

/* exact split x = h + m + l, each truncated to 8 significant bits (bf16 in the high half) */
AI void split3(__m512 x, __m512i *h, __m512i *m, __m512i *l)
{
    const __m512i M = _mm512_set1_epi32((int)0xFFFF0000u);
    __m512i hi = _mm512_and_si512(_mm512_castps_si512(x), M);
    __m512 r1 = _mm512_sub_ps(x, _mm512_castsi512_ps(hi));
    __m512i mi = _mm512_and_si512(_mm512_castps_si512(r1), M);
    __m512 r2 = _mm512_sub_ps(r1, _mm512_castsi512_ps(mi));
    *h = hi;
    *m = mi;
    *l = _mm512_and_si512(_mm512_castps_si512(r2), M);
}
/* 32 consecutive values (a: 0..15, b: 16..31) -> 32 bf16 in order */
AI __m512i pack_row(__m512i a, __m512i b, __m512i idx) { return _mm512_permutex2var_epi16(a, idx, b); }
/* VNNI pair: low half row k, high half row k+1 */
AI __m512i pack_pair(__m512i a, __m512i b)
{
    /* word 2n <- high word of a's dword n (index 2n+1), word 2n+1 <- high word of b's dword n (32+2n+1) */
    const __m512i pidx = _mm512_setr_epi32(0x00210001, 0x00230003, 0x00250005, 0x00270007, 0x00290009, 0x002b000b,
                                           0x002d000d, 0x002f000f, 0x00310011, 0x00330013, 0x00350015, 0x00370017,
                                           0x00390019, 0x003b001b, 0x003d001d, 0x003f001f);
    return _mm512_permutex2var_epi16(a, pidx, b);
}

typedef struct {
    int B, H, S, D, causal, nqb, ntasks, BHn, Sp, Dk, Dv, Vs;
    const float *Q, *K, *V;
    float *O;
    int counter;
    int fail;
} ajob_t;

typedef struct {
    uint16_t *Kp, *Vtp;
    uint32_t *Qv, *Pv;
    float *Qt, *Sb, *Ot;
    size_t KPS, VPS, QVS, PVS;
} abuf_t;

static void amx_pack_head(const ajob_t *jb, const abuf_t *bf, long bh)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp, Dk = jb->Dk, Dv = jb->Dv;
    const float *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    __m512i idx = _mm512_setr_epi32(0x00030001, 0x00070005, 0x000b0009, 0x000f000d, 0x00130011, 0x00170015,
                                    0x001b0019, 0x001f001d, 0x00230021, 0x00270025, 0x002b0029, 0x002f002d,
                                    0x00330031, 0x00370035, 0x003b0039, 0x003f003d);
    /* K: [key][Dk] bf16, 3 parts */
    for (int key = 0; key < Sp; key++) {
        for (int d = 0; d < Dk; d += 32) {
            __m512i o0, o1, o2;
            if (key < S) {
                int r0 = D - d, r1 = D - d - 16;
                __mmask16 m0 = r0 >= 16 ? 0xFFFF : (r0 <= 0 ? 0 : (__mmask16)((1u << r0) - 1u));
                __mmask16 m1 = r1 >= 16 ? 0xFFFF : (r1 <= 0 ? 0 : (__mmask16)((1u << r1) - 1u));
                __m512 x0 = _mm512_maskz_loadu_ps(m0, k + (long)key * D + d);
                __m512 x1 = _mm512_maskz_loadu_ps(m1, k + (long)key * D + d + 16);
                __m512i h0, mm0, l0, h1, mm1, l1;
                split3(x0, &h0, &mm0, &l0);
                split3(x1, &h1, &mm1, &l1);
                o0 = pack_row(h0, h1, idx);
                o1 = pack_row(mm0, mm1, idx);
                o2 = pack_row(l0, l1, idx);
            } else {
                o0 = o1 = o2 = _mm512_setzero_si512();
            }
            _mm512_storeu_si512(bf->Kp + (size_t)key * Dk + d, o0);
            _mm512_storeu_si512(bf->Kp + bf->KPS + (size_t)key * Dk + d, o1);
            _mm512_storeu_si512(bf->Kp + 2 * bf->KPS + (size_t)key * Dk + d, o2);
        }
    }
    /* V^T: [dv][Vs] bf16, 3 parts, via gathers (a 32-key slab stays in L1 while all dv are gathered) */
    const int Vs = jb->Vs;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int kc = 0; kc < Sp; kc += 32) {
        int r0 = S - kc, r1 = S - kc - 16;
        __mmask16 m0 = r0 >= 16 ? 0xFFFF : (r0 <= 0 ? 0 : (__mmask16)((1u << r0) - 1u));
        __mmask16 m1 = r1 >= 16 ? 0xFFFF : (r1 <= 0 ? 0 : (__mmask16)((1u << r1) - 1u));
        __m512i i0v = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(kc)), _mm512_set1_epi32(D));
        __m512i i1v = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(kc + 16)), _mm512_set1_epi32(D));
        for (int dv = 0; dv < Dv; dv++) {
            __m512i o0, o1, o2;
            if (dv < D) {
                __m512 x0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, i0v, v + dv, 4);
                __m512 x1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, i1v, v + dv, 4);
                __m512i h0, mm0, l0, h1, mm1, l1;
                split3(x0, &h0, &mm0, &l0);
                split3(x1, &h1, &mm1, &l1);
                o0 = pack_row(h0, h1, idx);
                o1 = pack_row(mm0, mm1, idx);
                o2 = pack_row(l0, l1, idx);
            } else {
                o0 = o1 = o2 = _mm512_setzero_si512();
            }
            _mm512_storeu_si512(bf->Vtp + (size_t)dv * Vs + kc, o0);
            _mm512_storeu_si512(bf->Vtp + bf->VPS + (size_t)dv * Vs + kc, o1);
            _mm512_storeu_si512(bf->Vtp + 2 * bf->VPS + (size_t)dv * Vs + kc, o2);
        }
    }
}

#ifndef PIPE
#define PIPE 1
#endif
#define CBAR() __asm__ volatile("" ::: "memory")
/* the 6 products (hh, hm, hl, mh, mm, lh) into C tiles 0..3 (2 A tiles x 2 B tiles), ordered so that each
 * reload of an A or B tile comes right after the last product reading that tile and overlaps the next two
 * products (tile registers are not renamed). */
AI void amx6_pipe(const uint16_t *a0, const uint16_t *a1, const uint16_t *a2, size_t a16, long astr,
                  const uint32_t *b0, const uint32_t *b1, const uint32_t *b2, long bstr)
{
    _tile_loadd(4, a0, astr);
    _tile_loadd(5, a0 + a16, astr);
    _tile_loadd(6, b0, bstr);
    _tile_loadd(7, b0 + 16, bstr);
    /* h.h */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    _tile_loadd(6, b1, bstr);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(7, b1 + 16, bstr);
    /* h.m */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    _tile_loadd(6, b2, bstr);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(7, b2 + 16, bstr);
    /* h.l */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(4, a1, astr);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(5, a1 + a16, astr);
    _tile_loadd(6, b0, bstr);
    _tile_loadd(7, b0 + 16, bstr);
    /* m.h */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    _tile_loadd(6, b1, bstr);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(7, b1 + 16, bstr);
    /* m.m */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_loadd(4, a2, astr);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
    _tile_loadd(5, a2 + a16, astr);
    _tile_loadd(6, b0, bstr);
    _tile_loadd(7, b0 + 16, bstr);
    /* l.h */
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
}

static void amx_task(const ajob_t *jb, const abuf_t *bf, long bh, int qb)
{
    const int S = jb->S, D = jb->D, Dk = jb->Dk, Dv = jb->Dv, Vs = jb->Vs, causal = jb->causal;
    const float *q = jb->Q + bh * (long)S * D;
    float *o = jb->O + bh * (long)S * D;
    float *Qt = bf->Qt, *Sb = bf->Sb, *Ot = bf->Ot;
    uint32_t *Qv = bf->Qv, *Pv = bf->Pv;
    const int i0 = qb * ABQ;
    const int nq = S - i0 < ABQ ? S - i0 : ABQ;
    const float c = 1.4426950408889634f / sqrtf((float)D);

    if (nq < ABQ || D < Dk) memset(Qt, 0, sizeof(float) * (size_t)Dk * ABQ);
    for (int i = 0; i < nq; i++) {
        const float *qr = q + (long)(i0 + i) * D;
        for (int d = 0; d < D; d++) Qt[d * ABQ + i] = qr[d] * c;
    }
    for (int r = 0; r < Dk / 2; r++)
        for (int t = 0; t < 2; t++) {
            __m512i ah, am, al, bh2, bm, bl;
            split3(_mm512_load_ps(Qt + (2 * r) * ABQ + 16 * t), &ah, &am, &al);
            split3(_mm512_load_ps(Qt + (2 * r + 1) * ABQ + 16 * t), &bh2, &bm, &bl);
            _mm512_store_si512(Qv + (size_t)r * ABQ + 16 * t, pack_pair(ah, bh2));
            _mm512_store_si512(Qv + bf->QVS + (size_t)r * ABQ + 16 * t, pack_pair(am, bm));
            _mm512_store_si512(Qv + 2 * bf->QVS + (size_t)r * ABQ + 16 * t, pack_pair(al, bl));
        }

    int kend = S;
    if (causal && i0 + ABQ < S) kend = i0 + ABQ;
    const int nkp = (kend + 31) / 32;
    CBAR();

    /* S^T[key][query] = K Q^T */
    for (int cpair = 0; cpair < nkp; cpair++) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int ks = 0; ks < Dk / 32; ks++) {
#if PIPE
            {
                const uint16_t *ka = bf->Kp + (size_t)(cpair * 32) * Dk + ks * 32;
                const uint32_t *qbp = Qv + (size_t)(ks * 16) * ABQ;
                amx6_pipe(ka, ka + bf->KPS, ka + 2 * bf->KPS, (size_t)16 * Dk, (long)Dk * 2, qbp, qbp + bf->QVS,
                          qbp + 2 * bf->QVS, ABQ * 4);
            }
#else
            for (int p = 0; p < 3; p++) {
                const uint16_t *ka = bf->Kp + p * bf->KPS + (size_t)(cpair * 32) * Dk + ks * 32;
                _tile_loadd(4, ka, Dk * 2);
                _tile_loadd(5, ka + (size_t)16 * Dk, Dk * 2);
                for (int qq = 0; qq < 3 - p; qq++) {
                    const uint32_t *qbp = Qv + qq * bf->QVS + (size_t)(ks * 16) * ABQ;
                    _tile_loadd(6, qbp, ABQ * 4);
                    _tile_loadd(7, qbp + 16, ABQ * 4);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
#endif
        }
        float *sb = Sb + (size_t)(cpair * 32) * ABQ;
        _tile_stored(0, sb, ABQ * 4);
        _tile_stored(1, sb + 16, ABQ * 4);
        _tile_stored(2, sb + 16 * ABQ, ABQ * 4);
        _tile_stored(3, sb + 16 * ABQ + 16, ABQ * 4);
    }

    CBAR();
    /* softmax over keys (vectorised over the 32 queries), P packed as VNNI bf16x3 */
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    float lf[ABQ] __attribute__((aligned(64)));
    for (int t = 0; t < 2; t++) {
        __m512 mx = ninf;
        const __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(i0 + 16 * t));
        for (int j = 0; j < kend; j++) {
            __m512 s = _mm512_load_ps(Sb + (size_t)j * ABQ + 16 * t);
            if (causal && j > i0 + 16 * t) {
                __mmask16 keep = _mm512_cmp_epi32_mask(qi, _mm512_set1_epi32(j), _MM_CMPINT_NLT);
                s = _mm512_mask_mov_ps(ninf, keep, s);
                _mm512_store_ps(Sb + (size_t)j * ABQ + 16 * t, s);
            }
            mx = _mm512_max_ps(mx, s);
        }
        __m512 sum = _mm512_setzero_ps();
        for (int r = 0; r < nkp * 16; r++) {
            const int j = 2 * r;
            __m512 p0 = _mm512_setzero_ps(), p1 = _mm512_setzero_ps();
            if (j < kend) p0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(Sb + (size_t)j * ABQ + 16 * t), mx));
            if (j + 1 < kend) p1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(Sb + (size_t)(j + 1) * ABQ + 16 * t), mx));
            sum = _mm512_add_ps(sum, _mm512_add_ps(p0, p1));
            __m512i ah, am, al, bh2, bm, bl;
            split3(p0, &ah, &am, &al);
            split3(p1, &bh2, &bm, &bl);
            _mm512_store_si512(Pv + (size_t)r * ABQ + 16 * t, pack_pair(ah, bh2));
            _mm512_store_si512(Pv + bf->PVS + (size_t)r * ABQ + 16 * t, pack_pair(am, bm));
            _mm512_store_si512(Pv + 2 * bf->PVS + (size_t)r * ABQ + 16 * t, pack_pair(al, bl));
        }
        _mm512_store_ps(lf + 16 * t, sum);
    }

    CBAR();
    /* O^T[dv][query] = V^T P^T */
    for (int e = 0; e < Dv / 32; e++) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int ks = 0; ks < nkp; ks++) {
#if PIPE
            {
                const uint16_t *va = bf->Vtp + (size_t)(e * 32) * Vs + ks * 32;
                const uint32_t *pb = Pv + (size_t)(ks * 16) * ABQ;
                amx6_pipe(va, va + bf->VPS, va + 2 * bf->VPS, (size_t)16 * Vs, (long)Vs * 2, pb, pb + bf->PVS,
                          pb + 2 * bf->PVS, ABQ * 4);
            }
#else
            for (int p = 0; p < 3; p++) {
                const uint16_t *va = bf->Vtp + p * bf->VPS + (size_t)(e * 32) * Vs + ks * 32;
                _tile_loadd(4, va, Vs * 2);
                _tile_loadd(5, va + (size_t)16 * Vs, Vs * 2);
                for (int qq = 0; qq < 3 - p; qq++) {
                    const uint32_t *pb = Pv + qq * bf->PVS + (size_t)(ks * 16) * ABQ;
                    _tile_loadd(6, pb, ABQ * 4);
                    _tile_loadd(7, pb + 16, ABQ * 4);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
#endif
        }
        float *ot = Ot + (size_t)(e * 32) * ABQ;
        _tile_stored(0, ot, ABQ * 4);
        _tile_stored(1, ot + 16, ABQ * 4);
        _tile_stored(2, ot + 16 * ABQ, ABQ * 4);
        _tile_stored(3, ot + 16 * ABQ + 16, ABQ * 4);
    }
    CBAR();
    {
        const __m512i gidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                _mm512_set1_epi32(ABQ));
        for (int i = 0; i < nq; i++) {
            const __m512 inv = _mm512_set1_ps(1.0f / lf[i]);
            float *dst = o + (long)(i0 + i) * D;
            for (int d = 0; d < D; d += 16) {
                int rem = D - d;
                __mmask16 m = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, gidx, Ot + (size_t)d * ABQ + i, 4);
                _mm512_mask_storeu_ps(dst + d, m, _mm512_mul_ps(g, inv));
            }
        }
    }
}

static void *amx_worker(void *arg)
{
    ajob_t *jb = (ajob_t *)arg;
    const int Sp = jb->Sp, Dk = jb->Dk, Dv = jb->Dv;
    abuf_t bf;
    bf.KPS = (size_t)Sp * Dk;
    bf.VPS = (size_t)Dv * jb->Vs + 32;
    bf.QVS = (size_t)(Dk / 2) * ABQ;
    bf.PVS = (size_t)(Sp / 2) * ABQ;
    size_t szK = 3 * bf.KPS * 2, szV = 3 * bf.VPS * 2, szQv = 3 * bf.QVS * 4, szPv = 3 * bf.PVS * 4,
           szQt = (size_t)Dk * ABQ * 4, szSb = (size_t)Sp * ABQ * 4, szOt = (size_t)Dv * ABQ * 4;
#define RUP(x) (((x) + 63) & ~(size_t)63)
    size_t tot = RUP(szK) + RUP(szV) + RUP(szQv) + RUP(szPv) + RUP(szQt) + RUP(szSb) + RUP(szOt);
    char *mem = aligned_alloc(64, tot);
    if (!mem) {
        __atomic_store_n(&jb->fail, 1, __ATOMIC_RELAXED);
        return NULL;
    }
    char *p = mem;
    bf.Kp = (uint16_t *)p;
    p += RUP(szK);
    bf.Vtp = (uint16_t *)p;
    p += RUP(szV);
    bf.Qv = (uint32_t *)p;
    p += RUP(szQv);
    bf.Pv = (uint32_t *)p;
    p += RUP(szPv);
    bf.Qt = (float *)p;
    p += RUP(szQt);
    bf.Sb = (float *)p;
    p += RUP(szSb);
    bf.Ot = (float *)p;
#undef RUP
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);
    long cur = -1;
    for (;;) {
        int t = __atomic_fetch_add(&jb->counter, 1, __ATOMIC_RELAXED);
        if (t >= jb->ntasks) break;
        long bh = t / jb->nqb;
        int qb = jb->nqb - 1 - t % jb->nqb;
        if (bh != cur) {
            amx_pack_head(jb, &bf, bh);
            cur = bh;
            CBAR();
        }
        amx_task(jb, &bf, bh, qb);
    }
    _tile_release();
    free(mem);
    return NULL;
}


static int attn_amx(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V, float *O)
{
    ajob_t jb;
    jb.B = B;
    jb.H = H;
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.BHn = B * H;
    jb.nqb = (S + ABQ - 1) / ABQ;
    jb.ntasks = jb.BHn * jb.nqb;
    jb.Sp = (S + 31) & ~31;
    jb.Dk = (D + 31) & ~31;
    jb.Dv = (D + 31) & ~31;
    jb.Vs = jb.Sp + 32; /* padded V^T row stride: avoids 2 KB-strided tile rows piling into few L1 sets */
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.counter = 0;
    jb.fail = 0;
    long nc = 0;
    cpu_set_t cs;
    if (sched_getaffinity(0, sizeof(cs), &cs) == 0) nc = CPU_COUNT(&cs);
    if (nc < 1) nc = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = nc < 1 ? 1 : (nc > MAXT ? MAXT : (int)nc);
    if (nt > jb.ntasks) nt = jb.ntasks;
    pthread_t th[MAXT];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, amx_worker, &jb) != 0) break;
        started++;
    }
    amx_worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return jb.fail ? 2 : 0;
}
#endif

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && USE_AMX
    /* ask the kernel for the AMX tile-data state (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) */
    if (syscall(SYS_arch_prctl, 0x1023, 18) == 0) return attn_amx(B, H, S, D, causal, Q, K, V, O);
#endif
    return attn_fp32(B, H, S, D, causal, Q, K, V, O);
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16x3-or-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
