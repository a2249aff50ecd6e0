/*
 * step1.c - blocked attention, AVX-512, pthreads.
 * Per (bh, query block of BQ rows):
 *   K of the head packed (gather) into panels [S/64][D][64] (per thread, lazily per head)
 *   scores P = (Q*scale*log2e) K^T with a 6x64 register microkernel (causal: only needed panels)
 *   exact row softmax in base 2 (vector exp2), unnormalised, zeros past the causal edge
 *   O = P V with a 6x64 register microkernel, j tiled by KT, then scaled by 1/l
 * Work items (bh, qblock) handed out dynamically to all cores.
 */
#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "abi.h"

#ifndef BQ
#define BQ 96
#endif
#ifndef KT
#define KT 64
#endif
#define MR 6
#define NP 64

#if (BQ % MR) != 0
#error "BQ must be a multiple of 6"
#endif

static inline __m512 exp2_ps(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-127.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381609e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 tail_mask(int rem)
{
    if (rem >= 16) return (__mmask16)0xFFFF;
    if (rem <= 0) return 0;
    return (__mmask16)((1u << rem) - 1u);
}

/* C[6][64] = Q[6][D] * Kp[D][64]; q rows stride D; out rows stride ldo */
__attribute__((noinline)) static void qk_kernel(const float *restrict q, int D, const float *restrict kp, float *restrict out,
                             long ldo)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    __m512 c40 = c00, c41 = c00, c42 = c00, c43 = c00;
    __m512 c50 = c00, c51 = c00, c52 = c00, c53 = c00;
    const float *q0 = q, *q1 = q + D, *q2 = q + 2 * D, *q3 = q + 3 * D, *q4 = q + 4 * D, *q5 = q + 5 * D;
    for (int d = 0; d < D; d++) {
        const float *b = kp + (long)d * NP;
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), b2 = _mm512_load_ps(b + 32),
               b3 = _mm512_load_ps(b + 48);
        __m512 a;
#define ROWQ(r)                                  \
    a = _mm512_set1_ps(q##r[d]);                 \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);   \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);   \
    c##r##2 = _mm512_fmadd_ps(a, b2, c##r##2);   \
    c##r##3 = _mm512_fmadd_ps(a, b3, c##r##3);
        ROWQ(0) ROWQ(1) ROWQ(2) ROWQ(3) ROWQ(4) ROWQ(5)
#undef ROWQ
    }
#define STQ(r)                                            \
    _mm512_store_ps(out + (long)r * ldo + 0, c##r##0);    \
    _mm512_store_ps(out + (long)r * ldo + 16, c##r##1);   \
    _mm512_store_ps(out + (long)r * ldo + 32, c##r##2);   \
    _mm512_store_ps(out + (long)r * ldo + 48, c##r##3);
    STQ(0) STQ(1) STQ(2) STQ(3) STQ(4) STQ(5)
#undef STQ
}

/* ob[6][64] += P[6][jl] * V[jl][64 cols, masked]; p rows stride ldp; v rows stride D */
__attribute__((noinline)) static void pv_kernel(const float *restrict p, long ldp, const float *restrict v, int D, int jl,
                             float *restrict ob, long ldob, __mmask16 m0, __mmask16 m1, __mmask16 m2,
                             __mmask16 m3)
{
#define LDO(r)                                                \
    __m512 c##r##0 = _mm512_load_ps(ob + (long)r * ldob + 0);  \
    __m512 c##r##1 = _mm512_load_ps(ob + (long)r * ldob + 16); \
    __m512 c##r##2 = _mm512_load_ps(ob + (long)r * ldob + 32); \
    __m512 c##r##3 = _mm512_load_ps(ob + (long)r * ldob + 48);
    LDO(0) LDO(1) LDO(2) LDO(3) LDO(4) LDO(5)
#undef LDO
    const float *p0 = p, *p1 = p + ldp, *p2 = p + 2 * ldp, *p3 = p + 3 * ldp, *p4 = p + 4 * ldp,
                *p5 = p + 5 * ldp;
    for (int j = 0; j < jl; j++) {
        const float *vr = v + (long)j * D;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, vr), b1 = _mm512_maskz_loadu_ps(m1, vr + 16),
               b2 = _mm512_maskz_loadu_ps(m2, vr + 32), b3 = _mm512_maskz_loadu_ps(m3, vr + 48);
        __m512 a;
#define ROWP(r)                                  \
    a = _mm512_set1_ps(p##r[j]);                 \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);   \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);   \
    c##r##2 = _mm512_fmadd_ps(a, b2, c##r##2);   \
    c##r##3 = _mm512_fmadd_ps(a, b3, c##r##3);
        ROWP(0) ROWP(1) ROWP(2) ROWP(3) ROWP(4) ROWP(5)
#undef ROWP
    }
#define STO(r)                                             \
    _mm512_store_ps(ob + (long)r * ldob + 0, c##r##0);     \
    _mm512_store_ps(ob + (long)r * ldob + 16, c##r##1);    \
    _mm512_store_ps(ob + (long)r * ldob + 32, c##r##2);    \
    _mm512_store_ps(ob + (long)r * ldob + 48, c##r##3);
    STO(0) STO(1) STO(2) STO(3) STO(4) STO(5)
#undef STO
}

typedef struct {
    int BH, S, D, causal, nqb, nitems;
    const float *Q, *K, *V;
    float *O;
    int next; /* atomic work counter */
} job_t;

static void pack_k(const float *k, int S, int D, float *kp)
{
    int npan = (S + NP - 1) / NP;
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(D));
    for (int p = 0; p < npan; p++) {
        for (int c = 0; c < NP; c += 16) {
            int j0 = p * NP + c;
            __mmask16 m = tail_mask(S - j0);
            float *dst = kp + (long)p * D * NP + c;
            if (!m) {
                for (int d = 0; d < D; d++) _mm512_store_ps(dst + (long)d * NP, _mm512_setzero_ps());
                continue;
            }
            const float *src = k + (long)j0 * D;
            for (int d = 0; d < D; d++) {
                __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, src + d, 4);
                _mm512_store_ps(dst + (long)d * NP, g);
            }
        }
    }
}

static void *worker(void *arg)
{
    job_t *job = (job_t *)arg;
    const int S = job->S, D = job->D, causal = job->causal;
    const int npan_max = (S + NP - 1) / NP;
    const long Sp = (long)npan_max * NP;
    const int Dp = (D + 63) / 64 * 64;
    /* arena: Kp [Sp*D], P [BQ*Sp], Qb [BQ*D], Ob [BQ*Dp], linv [BQ] */
    size_t nkp = (size_t)Sp * D, np_ = (size_t)BQ * Sp, nq = ((size_t)BQ * D + 15) / 16 * 16,
           nob = (size_t)BQ * Dp, nl = BQ + 16;
    size_t bytes = sizeof(float) * (nkp + np_ + nq + nob + nl) + 4096;
    void *arena = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (arena == MAP_FAILED) return (void *)1;
    float *Kp = (float *)arena;
    float *P = Kp + nkp;
    float *Qb = P + np_;
    float *Ob = Qb + nq;
    float *linv = Ob + nob;
    const float qs = (1.0f / sqrtf((float)D)) * 1.4426950408889634f;
    int cur_bh = -1;

    for (;;) {
        int it = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (it >= job->nitems) break;
        int bh = it / job->nqb;
        int qb = job->nqb - 1 - it % job->nqb;
        const float *q = job->Q + (long)bh * S * D, *k = job->K + (long)bh * S * D, *v = job->V + (long)bh * S * D;
        float *o = job->O + (long)bh * S * D;
        if (bh != cur_bh) {
            pack_k(k, S, D, Kp);
            cur_bh = bh;
        }
        const int i0 = qb * BQ;
        const int rows = S - i0 < BQ ? S - i0 : BQ;
        const int ngrp = (rows + MR - 1) / MR;
        const int nk = causal ? i0 + rows : S;
        const int npan = (nk + NP - 1) / NP;
        const long ldp = (long)npan * NP;

        /* pack Q block, scaled into the log2 domain; zero-pad rows to a full group */
        for (int r = 0; r < ngrp * MR; r++) {
            float *dst = Qb + (long)r * D;
            if (r < rows) {
                const float *src = q + (long)(i0 + r) * D;
                for (int d = 0; d < D; d++) dst[d] = src[d] * qs;
            } else {
                for (int d = 0; d < D; d++) dst[d] = 0.0f;
            }
        }
        /* scores */
        for (int p = 0; p < npan; p++) {
            const float *kp = Kp + (long)p * D * NP;
            for (int g = 0; g < ngrp; g++) {
                if (causal && p * NP > i0 + g * MR + MR - 1) continue;
                qk_kernel(Qb + (long)g * MR * D, D, kp, P + (long)g * MR * ldp + p * NP, ldp);
            }
        }
        /* softmax (unnormalised, base 2) */
        for (int r = 0; r < ngrp * MR; r++) {
            float *pr = P + (long)r * ldp;
            if (r >= rows) {
                for (long j = 0; j < ldp; j += 16) _mm512_store_ps(pr + j, _mm512_setzero_ps());
                linv[r] = 0.0f;
                continue;
            }
            int nv = causal ? i0 + r + 1 : S;
            __m512 mx = _mm512_set1_ps(-INFINITY);
            for (int j = 0; j < nv; j += 16) {
                __mmask16 m = tail_mask(nv - j);
                mx = _mm512_max_ps(mx, _mm512_mask_load_ps(_mm512_set1_ps(-INFINITY), m, pr + j));
            }
            __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
            __m512 sum = _mm512_setzero_ps();
            for (int j = 0; j < ldp; j += 16) {
                __mmask16 m = tail_mask(nv - j);
                __m512 e;
                if (m) {
                    e = exp2_ps(_mm512_sub_ps(_mm512_load_ps(pr + j), vm));
                    e = _mm512_maskz_mov_ps(m, e);
                    sum = _mm512_add_ps(sum, e);
                } else {
                    e = _mm512_setzero_ps();
                }
                _mm512_store_ps(pr + j, e);
            }
            linv[r] = 1.0f / _mm512_reduce_add_ps(sum);
        }
        /* O = P V */
        memset(Ob, 0, sizeof(float) * (size_t)ngrp * MR * Dp);
        for (int jt = 0; jt < nk; jt += KT) {
            int jl = nk - jt < KT ? nk - jt : KT;
            const float *vt = v + (long)jt * D;
            for (int g = 0; g < ngrp; g++) {
                int jlg = jl;
                if (causal) {
                    int lim = i0 + g * MR + MR - jt;
                    if (lim <= 0) continue;
                    if (lim < jlg) jlg = lim;
                }
                const float *pg = P + (long)g * MR * ldp + jt;
                float *og = Ob + (long)g * MR * Dp;
                for (int c0 = 0; c0 < D; c0 += 64) {
                    __mmask16 a0 = tail_mask(D - c0), a1 = tail_mask(D - c0 - 16), a2 = tail_mask(D - c0 - 32),
                              a3 = tail_mask(D - c0 - 48);
                    pv_kernel(pg, ldp, vt + c0, D, jlg, og + c0, Dp, a0, a1, a2, a3);
                }
            }
        }
        /* write out */
        for (int r = 0; r < rows; r++) {
            const float *src = Ob + (long)r * Dp;
            float *dst = o + (long)(i0 + r) * D;
            const float s = linv[r];
            for (int d = 0; d < D; d++) dst[d] = src[d] * s;
        }
    }
    munmap(arena, bytes);
    return NULL;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
    job_t job;
    job.BH = B * H;
    job.S = S;
    job.D = D;
    job.causal = causal ? 1 : 0;
    job.nqb = (S + BQ - 1) / BQ;
    job.nitems = job.BH * job.nqb;
    job.Q = Q;
    job.K = K;
    job.V = V;
    job.O = O;
    job.next = 0;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = nc < 1 ? 1 : (nc > 64 ? 64 : (int)nc);
    if (nt > job.nitems) nt = job.nitems;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++) {
        if (pthread_create(&th[started], NULL, worker, &job) == 0) started++;
    }
    worker(&job);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    return job.next < job.nitems ? 3 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/blocked-avx512", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
