
/* ====================== AMX-BF16 path (3-way bf16 split, 6 products) ====================== */
#include <stdint.h>
#include <sys/syscall.h>

#define ABQ 32
/* padded row strides: rows of the score (fp32) and P (bf16) buffers 64 B off a power of two, so the 16 rows of a
   tile spread over L1 sets instead of aliasing into one or two */
#define STRS(sp) ((sp) + 16)
#define STRP(sp) ((sp) + 32)
#ifndef NG
#define NG 1
#endif
#define CBAR() __asm__ volatile("" ::: "memory")

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tilecfg_t;

typedef struct {
    int S, D, causal, BH, Sp, Dp, nqb;
    const float *Q, *K, *V;
    float *O;
    float qscale;
    size_t hs;         /* Sp*Dp */
    int ng;
    char *arena;
    size_t per;
    long slot;
    long nitems, next;
    int err;
} ajob_t;

static inline __m512 bf16_to_f32(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline void split3(__m512 x, __m256i *h, __m256i *m, __m256i *l)
{
    __m256i hh = (__m256i)_mm512_cvtneps_pbh(x);
    __m512 r = _mm512_sub_ps(x, bf16_to_f32(hh));
    __m256i mm = (__m256i)_mm512_cvtneps_pbh(r);
    __m512 r2 = _mm512_sub_ps(r, bf16_to_f32(mm));
    *h = hh;
    *m = mm;
    *l = (__m256i)_mm512_cvtneps_pbh(r2);
}

static inline __m512i cat256(__m256i a, __m256i b)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

static void pack_head(const ajob_t *jb, long bh, uint16_t *Kpb, uint16_t *Vpb)
{
    const int S = jb->S, D = jb->D, Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    const float *k = jb->K + bh * (long)S * D, *v = jb->V + bh * (long)S * D;
    uint32_t *kp = (uint32_t *)Kpb;
    uint32_t *vp = (uint32_t *)Vpb;
    const __m512i sidx = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240);
    /* K: per 16-key block, Dp/2 rows of 16 words (d pair, key) */
    for (int j = 0; j < Sp; j++) {
        const float *kr = k + (long)j * D;
        for (int dc = 0; dc < Dp; dc += 32) {
            __mmask16 m0 = j < S ? dmask(D - dc) : 0, m1 = j < S ? dmask(D - dc - 16) : 0;
            __m512 x0 = _mm512_maskz_loadu_ps(m0, kr + dc), x1 = _mm512_maskz_loadu_ps(m1, kr + dc + 16);
            __m256i h0, mm0, l0, h1, mm1, l1;
            split3(x0, &h0, &mm0, &l0);
            split3(x1, &h1, &mm1, &l1);
            uint32_t *base = kp + (size_t)(j / 16) * (Dp / 2) * 16 + (size_t)(dc / 2) * 16 + (j % 16);
            _mm512_i32scatter_epi32(base, sidx, cat256(h0, h1), 4);
            _mm512_i32scatter_epi32(base + hs / 2, sidx, cat256(mm0, mm1), 4);
            _mm512_i32scatter_epi32(base + hs, sidx, cat256(l0, l1), 4);
        }
    }
    /* V: per key pair, Dp words (even key low, odd key high) */
    for (int j2 = 0; j2 < Sp / 2; j2++) {
        const int ja = 2 * j2, jo = 2 * j2 + 1;
        const float *va = v + (long)ja * D, *vo = v + (long)jo * D;
        for (int dc = 0; dc < Dp; dc += 16) {
            __mmask16 ma = ja < S ? dmask(D - dc) : 0, mo = jo < S ? dmask(D - dc) : 0;
            __m512 xa = _mm512_maskz_loadu_ps(ma, va + dc), xo = _mm512_maskz_loadu_ps(mo, vo + dc);
            __m256i ha, mma, la, ho, mmo, lo;
            split3(xa, &ha, &mma, &la);
            split3(xo, &ho, &mmo, &lo);
            uint32_t *base = vp + (size_t)j2 * Dp + dc;
            _mm512_storeu_si512(base, _mm512_or_si512(_mm512_cvtepu16_epi32(ha),
                                                      _mm512_slli_epi32(_mm512_cvtepu16_epi32(ho), 16)));
            _mm512_storeu_si512(base + hs / 2, _mm512_or_si512(_mm512_cvtepu16_epi32(mma),
                                                               _mm512_slli_epi32(_mm512_cvtepu16_epi32(mmo), 16)));
            _mm512_storeu_si512(base + hs, _mm512_or_si512(_mm512_cvtepu16_epi32(la),
                                                           _mm512_slli_epi32(_mm512_cvtepu16_epi32(lo), 16)));
        }
    }
}

static inline int blk_n32(const ajob_t *jb, int qb)
{
    const int q0 = qb * ABQ;
    return jb->causal ? (q0 + ABQ < jb->Sp ? q0 + ABQ : jb->Sp) : jb->Sp;
}

static void q_split(const ajob_t *jb, long bh, int qb, uint16_t *Qs)
{
    const int S = jb->S, D = jb->D, Dp = jb->Dp;
    const int q0 = qb * ABQ;
    const int nq = S - q0 < ABQ ? S - q0 : ABQ;
    const float *q = jb->Q + bh * (long)S * D;
    const __m512 qs = _mm512_set1_ps(jb->qscale);
    for (int i = 0; i < ABQ; i++) {
        const float *qr = q + (long)(q0 + i) * D;
        for (int dc = 0; dc < Dp; dc += 16) {
            __mmask16 mk = i < nq ? dmask(D - dc) : 0;
            __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, qr + dc), qs);
            __m256i h, m, l;
            split3(x, &h, &m, &l);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)i * Dp + dc), h);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)ABQ * Dp + (size_t)i * Dp + dc), m);
            _mm256_storeu_si256((__m256i *)(Qs + (size_t)2 * ABQ * Dp + (size_t)i * Dp + dc), l);
        }
    }
}

/* softmax (base 2) of rows [r0, r1) of block qb: ST -> P split (Ps), 1/l (linv) */
static void softmax_rows(const ajob_t *jb, int qb, const float *ST, uint16_t *Ps, float *linv, int r0, int r1)
{
    const int S = jb->S, causal = jb->causal;
    const int SpS = STRS(jb->Sp), SpP = STRP(jb->Sp);
    const int q0 = qb * ABQ;
    const int n32 = blk_n32(jb, qb);
    for (int i = r0; i < r1; i++) {
        const int qi = q0 + i;
        const int jv = causal ? (qi + 1 < S ? qi + 1 : S) : S;
        const float *srow = ST + (size_t)i * SpS;
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < n32; j += 16) {
            int rem = jv - j;
            if (rem <= 0) break;
            mx = _mm512_mask_max_ps(mx, dmask(rem), mx, _mm512_loadu_ps(srow + j));
        }
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
        __m512 sum = _mm512_setzero_ps();
        uint16_t *p0 = Ps + (size_t)i * SpP, *p1 = p0 + (size_t)ABQ * SpP, *p2 = p1 + (size_t)ABQ * SpP;
        for (int j = 0; j < n32; j += 16) {
            int rem = jv - j;
            if (rem <= 0) {
                const __m256i z = _mm256_setzero_si256();
                _mm256_storeu_si256((__m256i *)(p0 + j), z);
                _mm256_storeu_si256((__m256i *)(p1 + j), z);
                _mm256_storeu_si256((__m256i *)(p2 + j), z);
                continue;
            }
            __m512 p = _mm512_maskz_mov_ps(dmask(rem), exp2_ps(_mm512_sub_ps(_mm512_loadu_ps(srow + j), m)));
            sum = _mm512_add_ps(sum, p);
            __m256i h, mm, l;
            split3(p, &h, &mm, &l);
            _mm256_storeu_si256((__m256i *)(p0 + j), h);
            _mm256_storeu_si256((__m256i *)(p1 + j), mm);
            _mm256_storeu_si256((__m256i *)(p2 + j), l);
        }
        linv[i] = 1.0f / _mm512_reduce_add_ps(sum);
    }
}

/* scores of block qb into ST; interleaved with the softmax of the previous block (pqb >= 0) */
static void scores_il(const ajob_t *jb, int qb, const uint16_t *kp, const uint16_t *Qs, float *ST, int pqb,
                      const float *STp, uint16_t *Ps, float *linv)
{
    const int SpS = STRS(jb->Sp), Dp = jb->Dp;
    const size_t hs = jb->hs;
    const int n32 = blk_n32(jb, qb);
    const int nk = n32 / 32;
    const int rpi = (ABQ + nk - 1) / nk;
    int r = 0;
    for (int kb2 = 0; kb2 < nk; kb2++) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int dc = 0; dc < Dp; dc += 32) {
            for (int b = 0; b < 3; b++) {
                const uint16_t *kb = kp + (size_t)b * hs +
                                     ((size_t)(2 * kb2) * (Dp / 2) * 16 + (size_t)(dc / 2) * 16) * 2;
                _tile_loadd(6, kb, 64);
                _tile_loadd(7, kb + (size_t)(Dp / 2) * 16 * 2, 64);
                for (int a = 0; a < 3 - b; a++) {
                    const uint16_t *qa = Qs + (size_t)a * ABQ * Dp + dc;
                    _tile_loadd(4, qa, Dp * 2);
                    _tile_loadd(5, qa + (size_t)16 * Dp, Dp * 2);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
        }
        /* AVX-512 work that can run while the TMUL drains the products above */
        if (pqb >= 0 && r < ABQ) {
            int r1 = r + rpi < ABQ ? r + rpi : ABQ;
            softmax_rows(jb, pqb, STp, Ps, linv, r, r1);
            r = r1;
        }
        float *sp = ST + kb2 * 32;
        _tile_stored(0, sp, SpS * 4);
        _tile_stored(1, sp + 16, SpS * 4);
        _tile_stored(2, sp + (size_t)16 * SpS, SpS * 4);
        _tile_stored(3, sp + (size_t)16 * SpS + 16, SpS * 4);
    }
    if (pqb >= 0 && r < ABQ) softmax_rows(jb, pqb, STp, Ps, linv, r, ABQ);
}

static void pv_out(const ajob_t *jb, long bh, int qb, const uint16_t *vp, const uint16_t *Ps, float *Ob,
                   const float *linv)
{
    const int S = jb->S, D = jb->D, SpP = STRP(jb->Sp), Dp = jb->Dp;
    const size_t hs = jb->hs;
    const int q0 = qb * ABQ;
    const int nq = S - q0 < ABQ ? S - q0 : ABQ;
    const int n32 = blk_n32(jb, qb);
    float *o = jb->O + bh * (long)S * D;
    for (int dp = 0; dp < Dp; dp += 32) {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        for (int kc = 0; kc < n32; kc += 32) {
            for (int b = 0; b < 3; b++) {
                const uint16_t *vb = vp + (size_t)b * hs + ((size_t)(kc / 2) * Dp + dp) * 2;
                _tile_loadd(6, vb, Dp * 4);
                _tile_loadd(7, vb + 32, Dp * 4);
                for (int a = 0; a < 3 - b; a++) {
                    const uint16_t *pa = Ps + (size_t)a * ABQ * SpP + kc;
                    _tile_loadd(4, pa, SpP * 2);
                    _tile_loadd(5, pa + (size_t)16 * SpP, SpP * 2);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            }
        }
        _tile_stored(0, Ob + dp, Dp * 4);
        _tile_stored(1, Ob + dp + 16, Dp * 4);
        _tile_stored(2, Ob + (size_t)16 * Dp + dp, Dp * 4);
        _tile_stored(3, Ob + (size_t)16 * Dp + dp + 16, Dp * 4);
    }
    CBAR();
    for (int i = 0; i < nq; i++) {
        const __m512 s = _mm512_set1_ps(linv[i]);
        float *orow = o + (long)(q0 + i) * D;
        const float *ob = Ob + (size_t)i * Dp;
        for (int d = 0; d < D; d += 16)
            _mm512_mask_storeu_ps(orow + d, dmask(D - d), _mm512_mul_ps(_mm512_loadu_ps(ob + d), s));
    }
}

static void *amx_worker(void *arg)
{
    ajob_t *jb = (ajob_t *)arg;
    const int Sp = jb->Sp, Dp = jb->Dp;
    const size_t hs = jb->hs;
    size_t kv_sz = sizeof(uint16_t) * 3 * hs;
    size_t qs_sz = sizeof(uint16_t) * 3 * ABQ * (size_t)Dp;
    size_t st_sz = sizeof(float) * ABQ * (size_t)STRS(Sp);
    size_t ps_sz = sizeof(uint16_t) * 3 * ABQ * (size_t)STRP(Sp);
    size_t ob_sz = sizeof(float) * ABQ * (size_t)Dp;
#define RUP(x) (((x) + 63) & ~(size_t)63)
    size_t tot = 2 * RUP(kv_sz) + RUP(qs_sz) + 2 * RUP(st_sz) + RUP(ps_sz) + RUP(ob_sz) + RUP(sizeof(float) * ABQ);
    (void)tot;
    char *mem = jb->arena + (size_t)__atomic_fetch_add(&jb->slot, 1, __ATOMIC_RELAXED) * jb->per;
    uint16_t *Kpb = (uint16_t *)mem;
    uint16_t *Vpb = (uint16_t *)(mem + RUP(kv_sz));
    uint16_t *Qs = (uint16_t *)(mem + 2 * RUP(kv_sz));
    float *ST = (float *)((char *)Qs + RUP(qs_sz));
    float *ST2 = (float *)((char *)ST + RUP(st_sz));
    uint16_t *Ps = (uint16_t *)((char *)ST2 + RUP(st_sz));
    float *Ob = (float *)((char *)Ps + RUP(ps_sz));
    float *linv = (float *)((char *)Ob + RUP(ob_sz));
#undef RUP

    tilecfg_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
    CBAR();
    long cur = -1;
    for (;;) {
        long it = __atomic_fetch_add(&jb->next, 1, __ATOMIC_RELAXED);
        if (it >= jb->nitems) break;
        long bh = it / jb->ng;
        int g = (int)(it % jb->ng);
        if (bh != cur) {
            CBAR();
            pack_head(jb, bh, Kpb, Vpb);
            CBAR();
            cur = bh;
        }
        /* pipeline: scores(b) overlapped with softmax(b-1), then PV(b-1) */
        float *STc = ST, *STp = ST2;
        int pqb = -1;
        for (int qb = jb->nqb - 1 - g; qb >= 0; qb -= jb->ng) {
            CBAR();
            q_split(jb, bh, qb, Qs);
            CBAR();
            scores_il(jb, qb, Kpb, Qs, STc, pqb, STp, Ps, linv);
            CBAR();
            if (pqb >= 0) pv_out(jb, bh, pqb, Vpb, Ps, Ob, linv);
            CBAR();
            pqb = qb;
            float *t = STc;
            STc = STp;
            STp = t;
        }
        if (pqb >= 0) {
            CBAR();
            softmax_rows(jb, pqb, STp, Ps, linv, 0, ABQ);
            CBAR();
            pv_out(jb, bh, pqb, Vpb, Ps, Ob, linv);
            CBAR();
        }
    }
    CBAR();
    _tile_release();
    return NULL;
}

static int amx_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                         float *O)
{
    if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0) return -1;
    ajob_t jb;
    memset(&jb, 0, sizeof jb);
    jb.S = S;
    jb.D = D;
    jb.causal = causal ? 1 : 0;
    jb.BH = B * H;
    jb.Sp = (S + 31) & ~31;
    jb.Dp = (D + 31) & ~31;
    jb.nqb = jb.Sp / ABQ;
    jb.Q = Q;
    jb.K = K;
    jb.V = V;
    jb.O = O;
    jb.qscale = (float)(1.4426950408889634 / sqrt((double)D));
    jb.hs = (size_t)jb.Sp * jb.Dp;
    jb.ng = NG < jb.nqb ? NG : jb.nqb;
    jb.nitems = (long)jb.BH * jb.ng;
    int nt = NTHREADS;
    if (nt <= 0) {
        long np = sysconf(_SC_NPROCESSORS_ONLN);
        nt = np > 0 ? (int)np : 1;
    }
    if (nt > 64) nt = 64;
    if (nt > jb.nitems) nt = (int)jb.nitems;
    {
        const size_t Sp = jb.Sp, Dp = jb.Dp;
#define RUP(x) (((x) + 63) & ~(size_t)63)
        size_t kv_sz = sizeof(uint16_t) * 3 * jb.hs;
        size_t qs_sz = sizeof(uint16_t) * 3 * ABQ * Dp;
        size_t st_sz = sizeof(float) * ABQ * (size_t)STRS(Sp);
        size_t ps_sz = sizeof(uint16_t) * 3 * ABQ * (size_t)STRP(Sp);
        size_t ob_sz = sizeof(float) * ABQ * Dp;
        jb.per = RUP(2 * RUP(kv_sz) + RUP(qs_sz) + 2 * RUP(st_sz) + RUP(ps_sz) + RUP(ob_sz) + RUP(sizeof(float) * ABQ));
#undef RUP
    }
    /* one arena for all workers, allocated and freed by the calling thread (glibc then keeps it in the
       main heap between calls instead of faulting fresh pages in every worker) */
    jb.arena = aligned_alloc(64, jb.per * (size_t)nt);
    if (!jb.arena) return -1;
    jb.slot = 0;
    pthread_t th[64];
    int started = 0;
    for (int t = 1; t < nt; t++)
        if (pthread_create(&th[started], NULL, amx_worker, &jb) == 0) started++;
    amx_worker(&jb);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    free(jb.arena);
    if (jb.next < jb.nitems) return -1; /* nobody could finish: let the caller fall back */
    return 0;
}

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    if (B < 1 || H < 1 || S < 1 || D < 1 || D > SPAK_ATTN_MAX_D) return 1;
#if !defined(NO_AMX) || NO_AMX == 0
    if (amx_attention(B, H, S, D, causal, Q, K, V, O) == 0) return 0;
#endif
    return avx_attention(B, H, S, D, causal, Q, K, V, O);
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "attention/amx-bf16x3", "fp32", "ABQ=32"};
const spak_kernel_info *spak_info(void) { return &info; }
