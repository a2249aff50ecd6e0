/* step4: step3 (ORDER=0, KC=256) + APACK=0: A is not packed; the microkernel
 * broadcasts straight from 12 row-major rows of A (saves the scalar transpose
 * pack of A: 4 MB read + 4 MB written per call). */
#include "abi.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef MC
#define MC 240
#endif
#ifndef KC
#define KC 256
#endif
#ifndef NCT
#define NCT 256
#endif
#ifndef THREADS
#define THREADS 2
#endif
#ifndef ORDER
#define ORDER 0
#endif
#ifndef APACK
#define APACK 0
#endif
#ifndef PFD
#define PFD 8
#endif
#define MR 12
#define NR 32
#define PACK_GRP 8

/* sliver s of A: all K columns, layout [K][MR], at Ap + s*K*MR */
static void pack_A_sliver(int M, int K, const float *A, int s, float *Ap)
{
    int i0 = s * MR;
    int mr = M - i0 < MR ? M - i0 : MR;
    const float *a = A + (long)i0 * K;
    float *d = Ap + (long)s * K * MR;
    if (mr == MR) {
        int k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512 r[MR];
            for (int i = 0; i < MR; i++) r[i] = _mm512_loadu_ps(a + (long)i * K + k);
            float tmp[MR][16] __attribute__((aligned(64)));
            for (int i = 0; i < MR; i++) _mm512_store_ps(tmp[i], r[i]);
            for (int kk = 0; kk < 16; kk++)
                for (int i = 0; i < MR; i++) d[(long)(k + kk) * MR + i] = tmp[i][kk];
        }
        for (; k < K; k++)
            for (int i = 0; i < MR; i++) d[(long)k * MR + i] = a[(long)i * K + k];
    } else {
        for (int k = 0; k < K; k++) {
            int i = 0;
            for (; i < mr; i++) d[(long)k * MR + i] = a[(long)i * K + k];
            for (; i < MR; i++) d[(long)k * MR + i] = 0.0f;
        }
    }
}

/* sliver t of B: all K rows, layout [K][NR], at Bp + t*K*NR */
static void pack_B_sliver(int N, int K, const float *B, int t, float *Bp)
{
    int j0 = t * NR;
    int nr = N - j0 < NR ? N - j0 : NR;
    const float *b = B + j0;
    float *d = Bp + (long)t * K * NR;
    __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr <= 16 ? 0 : (nr >= 32 ? 0xFFFF : (__mmask16)((1u << (nr - 16)) - 1));
    for (int k = 0; k < K; k++) {
        _mm512_store_ps(d + (long)k * NR, _mm512_maskz_loadu_ps(m0, b + (long)k * N));
        _mm512_store_ps(d + (long)k * NR + 16, _mm512_maskz_loadu_ps(m1, b + (long)k * N + 16));
    }
}

#define ROWDECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define ROWFMA(i) { __m512 t = _mm512_set1_ps(a[i]); \
    c##i##a = _mm512_fmadd_ps(t, b0, c##i##a); c##i##b = _mm512_fmadd_ps(t, b1, c##i##b); }
#define ROWST(i) { float *cc = c + (long)(i) * ldc; \
    if (accum) { c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(cc)); \
                 c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(cc + 16)); } \
    _mm512_storeu_ps(cc, c##i##a); _mm512_storeu_ps(cc + 16, c##i##b); }

static inline __attribute__((always_inline)) void
kernel(int kc, const float *restrict a, const float *restrict b, float *c, long ldc, int accum)
{
    ROWDECL(0) ROWDECL(1) ROWDECL(2) ROWDECL(3) ROWDECL(4) ROWDECL(5)
    ROWDECL(6) ROWDECL(7) ROWDECL(8) ROWDECL(9) ROWDECL(10) ROWDECL(11)
    for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(c + (long)i * ldc), _MM_HINT_T0),
                                  _mm_prefetch((const char *)(c + (long)i * ldc + 16), _MM_HINT_T0);
#define KSTEP { __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16); \
        _mm_prefetch((const char *)(b + PFD * NR), _MM_HINT_T0); \
        _mm_prefetch((const char *)(b + PFD * NR + 16), _MM_HINT_T0); \
        ROWFMA(0) ROWFMA(1) ROWFMA(2) ROWFMA(3) ROWFMA(4) ROWFMA(5) \
        ROWFMA(6) ROWFMA(7) ROWFMA(8) ROWFMA(9) ROWFMA(10) ROWFMA(11) \
        a += MR; b += NR; }
    int k = 0;
    for (; k + 4 <= kc; k += 4) { KSTEP KSTEP KSTEP KSTEP }
    for (; k < kc; k++) KSTEP
    ROWST(0) ROWST(1) ROWST(2) ROWST(3) ROWST(4) ROWST(5)
    ROWST(6) ROWST(7) ROWST(8) ROWST(9) ROWST(10) ROWST(11)
}

#define ROWFMAD(i, p) { __m512 t = _mm512_set1_ps(*(p)); \
    c##i##a = _mm512_fmadd_ps(t, b0, c##i##a); c##i##b = _mm512_fmadd_ps(t, b1, c##i##b); }

/* A read in place: row i of the sliver at a + i*lda */
static inline __attribute__((always_inline)) void
kernel_direct(int kc, const float *restrict a, long lda, const float *restrict b, float *c, long ldc, int accum)
{
    ROWDECL(0) ROWDECL(1) ROWDECL(2) ROWDECL(3) ROWDECL(4) ROWDECL(5)
    ROWDECL(6) ROWDECL(7) ROWDECL(8) ROWDECL(9) ROWDECL(10) ROWDECL(11)
    const float *p0 = a, *p3 = a + 3 * lda, *p6 = a + 6 * lda, *p9 = a + 9 * lda;
    for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(c + (long)i * ldc), _MM_HINT_T0),
                                  _mm_prefetch((const char *)(c + (long)i * ldc + 16), _MM_HINT_T0);
#define KSTEPD { __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16); \
        _mm_prefetch((const char *)(b + PFD * NR), _MM_HINT_T0); \
        _mm_prefetch((const char *)(b + PFD * NR + 16), _MM_HINT_T0); \
        ROWFMAD(0, p0) ROWFMAD(1, p0 + lda) ROWFMAD(2, p0 + 2 * lda) \
        ROWFMAD(3, p3) ROWFMAD(4, p3 + lda) ROWFMAD(5, p3 + 2 * lda) \
        ROWFMAD(6, p6) ROWFMAD(7, p6 + lda) ROWFMAD(8, p6 + 2 * lda) \
        ROWFMAD(9, p9) ROWFMAD(10, p9 + lda) ROWFMAD(11, p9 + 2 * lda) \
        p0++; p3++; p6++; p9++; b += NR; }
    int k = 0;
    for (; k + 4 <= kc; k += 4) { KSTEPD KSTEPD KSTEPD KSTEPD }
    for (; k < kc; k++) KSTEPD
    ROWST(0) ROWST(1) ROWST(2) ROWST(3) ROWST(4) ROWST(5)
    ROWST(6) ROWST(7) ROWST(8) ROWST(9) ROWST(10) ROWST(11)
}

static __attribute__((unused)) void kernel_direct_edge(int kc, const float *a, long lda, const float *b, float *c, long ldc,
                               int accum, int mr, int nr)
{
    float tmp[MR * NR] __attribute__((aligned(64)));
    if (mr == MR) {
        kernel_direct(kc, a, lda, b, tmp, NR, 0);
    } else {
        float ap[MR * KC] __attribute__((aligned(64)));
        for (int k = 0; k < kc; k++) {
            int i = 0;
            for (; i < mr; i++) ap[k * MR + i] = a[(long)i * lda + k];
            for (; i < MR; i++) ap[k * MR + i] = 0.0f;
        }
        kernel(kc, ap, b, tmp, NR, 0);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[(long)i * ldc + j] = accum ? c[(long)i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
}

static __attribute__((unused)) void kernel_edge(int kc, const float *a, const float *b, float *c, long ldc,
                        int accum, int mr, int nr)
{
    float tmp[MR * NR] __attribute__((aligned(64)));
    kernel(kc, a, b, tmp, NR, 0);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[(long)i * ldc + j] = accum ? c[(long)i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
}

typedef struct {
    int M, N, K, T;
    const float *A, *B;
    float *C, *Ap, *Bp;
    int nA, nB, npack;          /* pack groups */
    int tiles_m, tiles_n, ntiles;
    int pack_next, pack_done, tile_next;
} shared_t;

static void *worker(void *p)
{
    shared_t *s = (shared_t *)p;
    int M = s->M, N = s->N, K = s->K;
    int sa = (M + MR - 1) / MR, sb = (N + NR - 1) / NR;
    /* phase 1: packing, dynamic */
    for (;;) {
        int g = __atomic_fetch_add(&s->pack_next, 1, __ATOMIC_RELAXED);
        if (g >= s->npack) break;
        if (g < s->nA) {
            int e = (g + 1) * PACK_GRP < sa ? (g + 1) * PACK_GRP : sa;
            for (int x = g * PACK_GRP; x < e; x++) pack_A_sliver(M, K, s->A, x, s->Ap);
        } else {
            int h = g - s->nA;
            int e = (h + 1) * PACK_GRP < sb ? (h + 1) * PACK_GRP : sb;
            for (int x = h * PACK_GRP; x < e; x++) pack_B_sliver(N, K, s->B, x, s->Bp);
        }
        __atomic_fetch_add(&s->pack_done, 1, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&s->pack_done, __ATOMIC_ACQUIRE) < s->npack) _mm_pause();
    /* phase 2: C tiles, dynamic */
    const float *Ap = s->Ap, *Bp = s->Bp;
    float *C = s->C;
    for (;;) {
        int t = __atomic_fetch_add(&s->tile_next, 1, __ATOMIC_RELAXED);
        if (t >= s->ntiles) break;
        int tm = t / s->tiles_n, tn = t % s->tiles_n;
        int ic = tm * MC, jc = tn * NCT;
        int mc = M - ic < MC ? M - ic : MC;
        int nc = N - jc < NCT ? N - jc : NCT;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int accum = pc > 0;
#if ORDER == 1
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = mc - ir < MR ? mc - ir : MR;
                const float *ap = Ap + (long)((ic + ir) / MR) * K * MR + (long)pc * MR;
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bp = Bp + (long)((jc + jr) / NR) * K * NR + (long)pc * NR;
#else
            for (int jr = 0; jr < nc; jr += NR) {
                int nr = nc - jr < NR ? nc - jr : NR;
                const float *bp = Bp + (long)((jc + jr) / NR) * K * NR + (long)pc * NR;
                for (int ir = 0; ir < mc; ir += MR) {
                    int mr = mc - ir < MR ? mc - ir : MR;
                    const float *ap = Ap + (long)((ic + ir) / MR) * K * MR + (long)pc * MR;
#endif
                    float *cp = C + (long)(ic + ir) * N + jc + jr;
#if APACK
                    if (mr == MR && nr == NR) kernel(kc, ap, bp, cp, N, accum);
                    else kernel_edge(kc, ap, bp, cp, N, accum, mr, nr);
#else
                    (void)ap;
                    const float *ad = s->A + (long)(ic + ir) * K + pc;
                    if (mr == MR && nr == NR) kernel_direct(kc, ad, K, bp, cp, N, accum);
                    else kernel_direct_edge(kc, ad, K, bp, cp, N, accum, mr, nr);
#endif
                }
            }
        }
    }
    return NULL;
}

static float *g_buf;
static size_t g_cap;

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    int sa = (M + MR - 1) / MR, sb = (N + NR - 1) / NR;
    size_t na = APACK ? (size_t)sa * MR * K : 0, nb = (size_t)sb * NR * K;
    na = (na + 15) & ~(size_t)15;
    size_t need = na + nb + 16;
    if (need > g_cap) {
        free(g_buf);
        g_buf = aligned_alloc(64, ((need * sizeof(float)) + 63) & ~(size_t)63);
        g_cap = g_buf ? need : 0;
        if (!g_buf) return 2;
    }
    shared_t s;
    memset(&s, 0, sizeof s);
    s.M = M; s.N = N; s.K = K; s.A = A; s.B = B; s.C = C;
    s.Ap = g_buf; s.Bp = g_buf + na;
    s.nA = APACK ? (sa + PACK_GRP - 1) / PACK_GRP : 0;
    s.nB = (sb + PACK_GRP - 1) / PACK_GRP;
    s.npack = s.nA + s.nB;
    s.tiles_m = (M + MC - 1) / MC;
    s.tiles_n = (N + NCT - 1) / NCT;
    s.ntiles = s.tiles_m * s.tiles_n;
    int T = THREADS;
    if (T > 16) T = 16;
    if (T > s.ntiles) T = s.ntiles;
    if ((double)M * N * K < 2e6) T = 1;
    pthread_t th[16];
    int started[16] = {0};
    for (int t = 1; t < T; t++)
        started[t] = pthread_create(&th[t], NULL, worker, &s) == 0;
    worker(&s);
    for (int t = 1; t < T; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/dyn-avx512-12x32-v4", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
