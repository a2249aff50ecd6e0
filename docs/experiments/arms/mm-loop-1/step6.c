/* step6 (= step5 with KC tunable down to 128 so the B sliver uses less of the SMT-shared L1): fully independent tasks, no shared packing and no barrier.
 * Task = a column chunk of C (all M rows x NCT columns). The task packs its own
 * B rows [pc, pc+KC) x NCT into a private L2-resident buffer (every B element is
 * packed exactly once overall), A is read in place (row-major, 12 rows broadcast).
 * Chunks are handed out by an atomic counter; only the final join can wait. */
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
#define NCT 64
#endif
#ifndef THREADS
#define THREADS 2
#endif
#ifndef PFD
#define PFD 8
#endif
#define MR 12
#define NR 32

static void pack_B(int kc, int nc, const float *B, long ldb, float *Bp)
{
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int nr = nc - j0 < NR ? nc - j0 : NR;
        const float *b = B + j0;
        if (nr == NR) {
            for (int k = 0; k < kc; k++) {
                _mm512_store_ps(Bp + k * NR, _mm512_loadu_ps(b + (long)k * ldb));
                _mm512_store_ps(Bp + k * NR + 16, _mm512_loadu_ps(b + (long)k * ldb + 16));
            }
        } else {
            __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
            __mmask16 m1 = nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
            for (int k = 0; k < kc; k++) {
                _mm512_store_ps(Bp + k * NR, _mm512_maskz_loadu_ps(m0, b + (long)k * ldb));
                _mm512_store_ps(Bp + k * NR + 16, _mm512_maskz_loadu_ps(m1, b + (long)k * ldb + 16));
            }
        }
        Bp += NR * kc;
    }
}

#define ROWDECL(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
#define ROWFMAD(i, p) { __m512 t = _mm512_set1_ps(*(p)); \
    c##i##a = _mm512_fmadd_ps(t, b0, c##i##a); c##i##b = _mm512_fmadd_ps(t, b1, c##i##b); }
#define ROWST(i) { float *cc = c + (long)(i) * ldc; \
    if (accum) { c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(cc)); \
                 c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(cc + 16)); } \
    _mm512_storeu_ps(cc, c##i##a); _mm512_storeu_ps(cc + 16, c##i##b); }

/* C[12][32] (+)= A[12][kc] (row i at a + i*lda) * Bp[kc][32] */
static inline __attribute__((always_inline)) void
kernel(int kc, const float *restrict a, long lda, const float *restrict b, float *c, long ldc, int accum)
{
    ROWDECL(0) ROWDECL(1) ROWDECL(2) ROWDECL(3) ROWDECL(4) ROWDECL(5)
    ROWDECL(6) ROWDECL(7) ROWDECL(8) ROWDECL(9) ROWDECL(10) ROWDECL(11)
    const float *p0 = a, *p3 = a + 3 * lda, *p6 = a + 6 * lda, *p9 = a + 9 * lda;
    for (int i = 0; i < MR; i++) _mm_prefetch((const char *)(c + (long)i * ldc), _MM_HINT_T0),
                                  _mm_prefetch((const char *)(c + (long)i * ldc + 16), _MM_HINT_T0);
#define KSTEP { __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16); \
        _mm_prefetch((const char *)(b + PFD * NR), _MM_HINT_T0); \
        _mm_prefetch((const char *)(b + PFD * NR + 16), _MM_HINT_T0); \
        ROWFMAD(0, p0) ROWFMAD(1, p0 + lda) ROWFMAD(2, p0 + 2 * lda) \
        ROWFMAD(3, p3) ROWFMAD(4, p3 + lda) ROWFMAD(5, p3 + 2 * lda) \
        ROWFMAD(6, p6) ROWFMAD(7, p6 + lda) ROWFMAD(8, p6 + 2 * lda) \
        ROWFMAD(9, p9) ROWFMAD(10, p9 + lda) ROWFMAD(11, p9 + 2 * lda) \
        p0++; p3++; p6++; p9++; b += NR; }
    int k = 0;
    for (; k + 4 <= kc; k += 4) { KSTEP KSTEP KSTEP KSTEP }
    for (; k < kc; k++) KSTEP
    ROWST(0) ROWST(1) ROWST(2) ROWST(3) ROWST(4) ROWST(5)
    ROWST(6) ROWST(7) ROWST(8) ROWST(9) ROWST(10) ROWST(11)
}

static void kernel_edge(int kc, const float *a, long lda, const float *b, float *c, long ldc,
                        int accum, int mr, int nr)
{
    float tmp[MR * NR] __attribute__((aligned(64)));
    if (mr == MR) {
        kernel(kc, a, lda, b, tmp, NR, 0);
    } else {
        float ap[MR * KC] __attribute__((aligned(64)));
        for (int i = 0; i < MR; i++)
            for (int k = 0; k < kc; k++) ap[i * KC + k] = i < mr ? a[(long)i * lda + k] : 0.0f;
        kernel(kc, ap, KC, b, tmp, NR, 0);
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++)
            c[(long)i * ldc + j] = accum ? c[(long)i * ldc + j] + tmp[i * NR + j] : tmp[i * NR + j];
}

typedef struct {
    int M, N, K, nchunks;
    const float *A, *B;
    float *C;
    int next;
} shared_t;

static void *worker(void *p)
{
    shared_t *s = (shared_t *)p;
    const int M = s->M, N = s->N, K = s->K;
    const float *A = s->A, *B = s->B;
    float *C = s->C;
    float Bp[KC * (NCT + NR)] __attribute__((aligned(64)));
    for (;;) {
        int t = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
        if (t >= s->nchunks) break;
        int jc = t * NCT;
        int nc = N - jc < NCT ? N - jc : NCT;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int accum = pc > 0;
            pack_B(kc, nc, B + (long)pc * N + jc, N, Bp);
            for (int ic = 0; ic < M; ic += MC) {
                int mc = M - ic < MC ? M - ic : MC;
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    const float *bp = Bp + (long)jr * kc;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        const float *ap = A + (long)(ic + ir) * K + pc;
                        float *cp = C + (long)(ic + ir) * N + jc + jr;
                        if (mr == MR && nr == NR) kernel(kc, ap, K, bp, cp, N, accum);
                        else kernel_edge(kc, ap, K, bp, cp, N, accum, mr, nr);
                    }
                }
            }
        }
    }
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    shared_t s;
    s.M = M; s.N = N; s.K = K; s.A = A; s.B = B; s.C = C; s.next = 0;
    s.nchunks = (N + NCT - 1) / NCT;
    int T = THREADS;
    if (T > 16) T = 16;
    if (T > s.nchunks) T = s.nchunks;
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

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/indep-chunks-avx512-12x32-v6", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
