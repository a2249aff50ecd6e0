
/* ======================= AMX path (fp32 accuracy via 3-way bf16 split) =======================
 * x = h + m + l (each a bf16 obtained by truncation), |x - h - m - l| < 2^-21 |x|.
 * x*y ~= hh + hm + mh + hl + lh + mm  (6 bf16 tile products, fp32 accumulation).
 * Transposed formulation so the softmax code above is reused unchanged:
 *   St[k][q] = sum_d K[k][d] Qs[q][d]      A = K rows (bf16),    B = Q pairs (VNNI)
 *   ObT[d][q] += sum_k Vt[d][k] P[k][q]    A = V^T rows (bf16),  B = P pairs (VNNI)
 */
#include <stdint.h>
#include <sys/syscall.h>
#include <cpuid.h>

#define TRUNC_MASK 0xFFFF0000u

typedef struct {
    uint8_t palette_id, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static int amx_ok(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((d >> 24) & 1) || !((d >> 22) & 1)) return 0; /* AMX-TILE, AMX-BF16 */
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) != 0) return 0;
    return 1;
}

/* split 16 floats into 3 truncated parts (as float bit patterns, low 16 bits zero) */
AI void split3(__m512 x, __m512i *h, __m512i *m, __m512i *l)
{
    const __m512i mk = _mm512_set1_epi32((int)TRUNC_MASK);
    __m512i xh = _mm512_and_si512(_mm512_castps_si512(x), mk);
    __m512 r = _mm512_sub_ps(x, _mm512_castsi512_ps(xh));
    __m512i xm = _mm512_and_si512(_mm512_castps_si512(r), mk);
    __m512 r2 = _mm512_sub_ps(r, _mm512_castsi512_ps(xm));
    __m512i xl = _mm512_and_si512(_mm512_castps_si512(r2), mk);
    *h = xh;
    *m = xm;
    *l = xl;
}

/* pair dwords: low 16 bits = bf16(a), high 16 bits = bf16(b) */
AI __m512i pairw(__m512i a, __m512i b) { return _mm512_or_si512(_mm512_srli_epi32(a, 16), b); }

AI __m256i tobf16(__m512i a) { return _mm512_cvtepi32_epi16(_mm512_srli_epi32(a, 16)); }

#define DPS6(s, partB, bptr)                                                                                      \
    do {                                                                                                          \
        _tile_loadd(6, (bptr) + 16 * (s), 192);                                                                   \
        _tile_dpbf16ps(s, 3, 6);                                                                                  \
        _tile_dpbf16ps(s, 4, 6);                                                                                  \
        _tile_dpbf16ps(s, 5, 6);                                                                                  \
        _tile_loadd(7, (bptr) + (partB) + 16 * (s), 192);                                                         \
        _tile_dpbf16ps(s, 3, 7);                                                                                  \
        _tile_dpbf16ps(s, 4, 7);                                                                                  \
        _tile_loadd(6, (bptr) + 2 * (partB) + 16 * (s), 192);                                                     \
        _tile_dpbf16ps(s, 3, 6);                                                                                  \
    } while (0)

static void *worker_amx(void *arg)
{
    job_t *J = (job_t *)arg;
    const int S = J->S, D = J->D, causal = J->causal;
    const int Dp32 = (D + 31) & ~31, Dp16 = (D + 15) & ~15, Spad = (S + 31) & ~31;
    const int npair = Dp32 / 2;
    const size_t partK = (size_t)Spad * Dp32, partV = (size_t)Dp16 * Spad;
    const size_t partQ = (size_t)npair * BQ, partP = (size_t)(BK / 2) * BQ;
    uint16_t *Kp = aligned_alloc(64, ((3 * partK * 2 + 63) / 64) * 64);
    uint16_t *Vt = aligned_alloc(64, ((3 * partV * 2 + 63) / 64) * 64);
    uint32_t *Qp = aligned_alloc(64, ((3 * partQ * 4 + 63) / 64) * 64);
    uint32_t *Pp = aligned_alloc(64, 3 * partP * 4);
    float *St = aligned_alloc(64, (size_t)BK * BQ * 4);
    float *ObT = aligned_alloc(64, (size_t)Dp16 * BQ * 4);
    if (!Kp || !Vt || !Qp || !Pp || !St || !ObT) {
        free(Kp);
        free(Vt);
        free(Qp);
        free(Pp);
        free(St);
        free(ObT);
        return worker(arg);
    }
    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    _tile_loadconfig(&cfg);

    float alpha[BQ] __attribute__((aligned(64)));
    float lv[BQ] __attribute__((aligned(64)));
    const long BH = (long)J->B * J->H;
    const float qs = J->qscale;
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    long cur_bh = -1;

    for (;;) {
        long u = __atomic_fetch_add(&J->next, 1, __ATOMIC_RELAXED);
        if (u >= J->total) break;
        long bh = u / J->nqb;
        int qb = J->nqb - 1 - (int)(u % J->nqb);
        (void)BH;
        const long off = bh * (long)S * D;
        const float *q = J->Q + off, *k = J->K + off, *v = J->V + off;
        float *o = J->O + off;

        if (bh != cur_bh) { /* pack K (rows) and V^T of this head into 3 bf16 parts */
            cur_bh = bh;
            for (int kk = 0; kk < Spad; kk++) {
                for (int d0 = 0; d0 < Dp32; d0 += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (kk < S && d0 < D) {
                        int rem = D - d0;
                        __mmask16 mm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                        x = _mm512_maskz_loadu_ps(mm, k + (long)kk * D + d0);
                    }
                    __m512i h, m, l;
                    split3(x, &h, &m, &l);
                    uint16_t *dst = Kp + (size_t)kk * Dp32 + d0;
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partK), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partK), tobf16(l));
                }
            }
            const __m512i vidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            for (int d = 0; d < Dp16; d++) {
                for (int k0 = 0; k0 < Spad; k0 += 16) {
                    __m512 x = _mm512_setzero_ps();
                    if (d < D && k0 < S) {
                        int rem = S - k0;
                        __mmask16 mm = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
                        x = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mm, vidx, v + (long)k0 * D + d, 4);
                    }
                    __m512i h, m, l;
                    split3(x, &h, &m, &l);
                    uint16_t *dst = Vt + (size_t)d * Spad + k0;
                    _mm256_storeu_si256((__m256i *)dst, tobf16(h));
                    _mm256_storeu_si256((__m256i *)(dst + partV), tobf16(m));
                    _mm256_storeu_si256((__m256i *)(dst + 2 * partV), tobf16(l));
                }
            }
        }

        const int q0 = qb * BQ;
        const int nq = (S - q0) < BQ ? (S - q0) : BQ;

        /* Qp[part][p][q] = pair(Qs[q][2p], Qs[q][2p+1]) */
        {
            const __m512i qidx = _mm512_mullo_epi32(iota, _mm512_set1_epi32(D));
            const __m512 vqs = _mm512_set1_ps(qs);
            for (int s = 0; s < 3; s++) {
                int rem = nq - 16 * s;
                __mmask16 mq = rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
                const float *qbase = q + (long)(q0 + 16 * s) * D;
                for (int p = 0; p < npair; p++) {
                    __m512 xa = _mm512_setzero_ps(), xb = _mm512_setzero_ps();
                    if (mq && 2 * p < D) xa = _mm512_mask_i32gather_ps(xa, mq, qidx, qbase + 2 * p, 4);
                    if (mq && 2 * p + 1 < D) xb = _mm512_mask_i32gather_ps(xb, mq, qidx, qbase + 2 * p + 1, 4);
                    xa = _mm512_mul_ps(xa, vqs);
                    xb = _mm512_mul_ps(xb, vqs);
                    __m512i ah, am, al, bh_, bm, bl;
                    split3(xa, &ah, &am, &al);
                    split3(xb, &bh_, &bm, &bl);
                    uint32_t *dst = Qp + (size_t)p * BQ + 16 * s;
                    _mm512_store_si512((void *)dst, pairw(ah, bh_));
                    _mm512_store_si512((void *)(dst + partQ), pairw(am, bm));
                    _mm512_store_si512((void *)(dst + 2 * partQ), pairw(al, bl));
                }
            }
        }
        memset(ObT, 0, sizeof(float) * (size_t)Dp16 * BQ);

        __m512 m0 = ninf, m1 = ninf, m2 = ninf;
        __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0;
        const int kend = causal ? ((q0 + BQ) < S ? (q0 + BQ) : S) : S;

        for (int kc = 0; kc < kend; kc += BK) {
            const int nj = (kend - kc) < BK ? (kend - kc) : BK;
            const int ng = (nj + 15) / 16;
            const int njr = (nj + 31) & ~31;
            /* scores */
            for (int g = 0; g < ng; g++) {
                _tile_zero(0);
                _tile_zero(1);
                _tile_zero(2);
                for (int ds = 0; ds < Dp32 / 32; ds++) {
                    const uint16_t *a = Kp + (size_t)(kc + 16 * g) * Dp32 + 32 * ds;
                    _tile_loadd(3, a, Dp32 * 2);
                    _tile_loadd(4, a + partK, Dp32 * 2);
                    _tile_loadd(5, a + 2 * partK, Dp32 * 2);
                    const uint32_t *b = Qp + (size_t)(16 * ds) * BQ;
                    DPS6(0, partQ, b);
                    DPS6(1, partQ, b);
                    DPS6(2, partQ, b);
                }
                float *sg = St + (size_t)(16 * g) * BQ;
                _tile_stored(0, sg, 192);
                _tile_stored(1, sg + 16, 192);
                _tile_stored(2, sg + 32, 192);
            }
            if (causal && kc + nj - 1 > q0) {
                int js = q0 + 1 - kc;
                if (js < 0) js = 0;
                for (int j = js; j < nj; j++) {
                    __m512i ja = _mm512_set1_epi32(kc + j);
                    float *sj = St + (long)j * BQ;
                    for (int a = 0; a < 3; a++) {
                        __m512i qi = _mm512_add_epi32(iota, _mm512_set1_epi32(q0 + 16 * a));
                        __mmask16 mk = _mm512_cmplt_epi32_mask(qi, ja);
                        _mm512_store_ps(sj + 16 * a, _mm512_mask_mov_ps(_mm512_load_ps(sj + 16 * a), mk, ninf));
                    }
                }
            }
            /* online softmax, base 2 */
            __m512 x0 = ninf, x1 = ninf, x2 = ninf;
            for (int j = 0; j < nj; j++) {
                const float *sj = St + (long)j * BQ;
                x0 = _mm512_max_ps(x0, _mm512_load_ps(sj));
                x1 = _mm512_max_ps(x1, _mm512_load_ps(sj + 16));
                x2 = _mm512_max_ps(x2, _mm512_load_ps(sj + 32));
            }
            x0 = _mm512_max_ps(x0, m0);
            x1 = _mm512_max_ps(x1, m1);
            x2 = _mm512_max_ps(x2, m2);
            __m512 a0 = exp2_ps(_mm512_sub_ps(m0, x0));
            __m512 a1 = exp2_ps(_mm512_sub_ps(m1, x1));
            __m512 a2 = exp2_ps(_mm512_sub_ps(m2, x2));
            m0 = x0;
            m1 = x1;
            m2 = x2;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0;
            /* exp + split into P pairs */
            for (int jp = 0; jp < njr / 2; jp++) {
                const int ja_ = 2 * jp, jb_ = 2 * jp + 1;
                const float *sa = St + (long)ja_ * BQ, *sb = St + (long)jb_ * BQ;
                __m512 pa0 = _mm512_setzero_ps(), pa1 = pa0, pa2 = pa0, pb0 = pa0, pb1 = pa0, pb2 = pa0;
                if (ja_ < nj) {
                    pa0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa), x0));
                    pa1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa + 16), x1));
                    pa2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sa + 32), x2));
                }
                if (jb_ < nj) {
                    pb0 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb), x0));
                    pb1 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb + 16), x1));
                    pb2 = exp2_ps(_mm512_sub_ps(_mm512_load_ps(sb + 32), x2));
                }
                s0 = _mm512_add_ps(s0, _mm512_add_ps(pa0, pb0));
                s1 = _mm512_add_ps(s1, _mm512_add_ps(pa1, pb1));
                s2 = _mm512_add_ps(s2, _mm512_add_ps(pa2, pb2));
                uint32_t *dst = Pp + (size_t)jp * BQ;
                __m512i ah, am, al, bh_, bm, bl;
#define PST(PA, PB, OFF)                                                                                          \
    split3(PA, &ah, &am, &al);                                                                                    \
    split3(PB, &bh_, &bm, &bl);                                                                                   \
    _mm512_store_si512((void *)(dst + OFF), pairw(ah, bh_));                                                      \
    _mm512_store_si512((void *)(dst + partP + OFF), pairw(am, bm));                                               \
    _mm512_store_si512((void *)(dst + 2 * partP + OFF), pairw(al, bl));
                PST(pa0, pb0, 0)
                PST(pa1, pb1, 16)
                PST(pa2, pb2, 32)
#undef PST
            }
            l0 = _mm512_fmadd_ps(l0, a0, s0);
            l1 = _mm512_fmadd_ps(l1, a1, s1);
            l2 = _mm512_fmadd_ps(l2, a2, s2);
            /* rescale the accumulator, then ObT += Vt P */
            for (int d = 0; d < Dp16; d++) {
                float *od = ObT + (size_t)d * BQ;
                _mm512_store_ps(od, _mm512_mul_ps(_mm512_load_ps(od), a0));
                _mm512_store_ps(od + 16, _mm512_mul_ps(_mm512_load_ps(od + 16), a1));
                _mm512_store_ps(od + 32, _mm512_mul_ps(_mm512_load_ps(od + 32), a2));
            }
            for (int dt = 0; dt < Dp16 / 16; dt++) {
                float *oc = ObT + (size_t)(16 * dt) * BQ;
                _tile_loadd(0, oc, 192);
                _tile_loadd(1, oc + 16, 192);
                _tile_loadd(2, oc + 32, 192);
                for (int ks = 0; ks < njr / 32; ks++) {
                    const uint16_t *a = Vt + (size_t)(16 * dt) * Spad + kc + 32 * ks;
                    _tile_loadd(3, a, Spad * 2);
                    _tile_loadd(4, a + partV, Spad * 2);
                    _tile_loadd(5, a + 2 * partV, Spad * 2);
                    const uint32_t *b = Pp + (size_t)(16 * ks) * BQ;
                    DPS6(0, partP, b);
                    DPS6(1, partP, b);
                    DPS6(2, partP, b);
                }
                _tile_stored(0, oc, 192);
                _tile_stored(1, oc + 16, 192);
                _tile_stored(2, oc + 32, 192);
            }
        }
        _mm512_store_ps(lv, l0);
        _mm512_store_ps(lv + 16, l1);
        _mm512_store_ps(lv + 32, l2);
        (void)alpha;
        for (int i = 0; i < nq; i++) {
            const float inv = 1.0f / lv[i];
            float *dst = o + (long)(q0 + i) * D;
            for (int d = 0; d < D; d++) dst[d] = ObT[(size_t)d * BQ + i] * inv;
        }
    }
    _tile_release();
    free(Kp);
    free(Vt);
    free(Qp);
    free(Pp);
    free(St);
    free(ObT);
    return NULL;
}
