/*
 * kernels/cpu/matmul/packed.c - rung 3 of the CPU matmul ladder: the Goto/BLIS
 * scheme. B is packed into KC x NR panels (shared by the threads, packed
 * cooperatively), each thread packs its MC x KC block of A into MR-row panels,
 * and a register-blocked SIMD micro-kernel (MR rows x NV vectors of C held in
 * registers; one broadcast of A and NV loads of B per k; FMA) computes each
 * MR x NR tile. Threads split the rows of C. Edges (any M, N, K) go through
 * zero-padded panels and a masked-by-copy store.
 *
 * Design/tuning defines (defaults in brackets; sensible values):
 *   ISA      [512 if the compiler targets AVX-512, else 256]  vector width in bits
 *                                                   (512 = AVX-512F, 256 = AVX2+FMA)
 *   MR       [6 (512) / 6 (256)]  rows of the register tile      (4, 6, 8, 12, 14)
 *   NV       [4 (512) / 2 (256)]  vectors per row of the tile    (1, 2, 3, 4); NR = NV*VL
 *                                 keep MR*NV + NV + 1 <= 32 (512) / 16 (256) registers
 *   TILE_K   [384]  KC, depth of packed panels (L1: KC*NR*4 B)  (128, 192, 256, 384, 512)
 *   TILE_M   [96]   MC, rows of the A block a thread packs (L2)  (48, 96, 144, 192, 384)
 *   TILE_N   [2048] NC, columns of the shared packed B block (L3) (512, 1024, 2048, 4096)
 *   UNROLL   [4]    unroll of the k loop in the micro-kernel     (1, 2, 4, 8)
 *   THREADS  [2]    pthreads (rows of C split between them)      (1, 2, 4)
 *
 * Build and check (best values found on the 2-core EPYC, see docs/results-cpu-draft.md):
 *   cc -O3 -march=native -fPIC -shared -DMR=6 -DNV=4 -DTHREADS=2 \
 *       kernels/cpu/matmul/packed.c -o packed.so -lpthread
 *   build/spak-harness-cpu --family matmul --candidate ./packed.so --seed 1 \
 *       --shapes 1024x1024x1024,2048x2048x2048
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"

#ifndef ISA
#if defined(__AVX512F__)
#define ISA 512
#else
#define ISA 256
#endif
#endif

#if ISA == 512
#if !defined(__AVX512F__)
#error "ISA=512 needs -mavx512f (or -march=native on a CPU with AVX-512)"
#endif
typedef __m512 vf;
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VLOAD(p) _mm512_load_ps(p)
#define VLOADU(p) _mm512_loadu_ps(p)
#define VSTOREU(p, x) _mm512_storeu_ps(p, x)
#define VSTORE(p, x) _mm512_store_ps(p, x)
#define VBCAST(p) _mm512_set1_ps(*(p))
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#ifndef MR
#define MR 6
#endif
#ifndef NV
#define NV 4
#endif
#elif ISA == 256
#if !defined(__AVX2__) || !defined(__FMA__)
#error "ISA=256 needs -mavx2 -mfma (or -march=native)"
#endif
typedef __m256 vf;
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VLOAD(p) _mm256_load_ps(p)
#define VLOADU(p) _mm256_loadu_ps(p)
#define VSTOREU(p, x) _mm256_storeu_ps(p, x)
#define VSTORE(p, x) _mm256_store_ps(p, x)
#define VBCAST(p) _mm256_broadcast_ss(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
#ifndef MR
#define MR 6
#endif
#ifndef NV
#define NV 2
#endif
#else
#error "ISA must be 512 or 256"
#endif

#ifndef TILE_K
#define TILE_K 384
#endif
#ifndef TILE_M
#define TILE_M 96
#endif
#ifndef TILE_N
#define TILE_N 2048
#endif
#ifndef UNROLL
#define UNROLL 4
#endif
#ifndef THREADS
#define THREADS 2
#endif

#define NR (NV * VL)
#define KC TILE_K
#define MC ((TILE_M + MR - 1) / MR * MR)
#define NC ((TILE_N + NR - 1) / NR * NR)
#define PRAGMA_(x) _Pragma(#x)
#define UNROLL_PRAGMA(n) PRAGMA_(GCC unroll n)

#if MR < 1 || NV < 1 || MR * NV > 32 || TILE_K < 1 || THREADS < 1 || THREADS > 64
#error "bad MR/NV/TILE_K/THREADS"
#endif

/* C[0..mr)[0..nr) (+)= Ap(MR x kc panel) * Bp(kc x NR panel) */
static inline void micro_kernel(int kc, const float *restrict a, const float *restrict b, float *restrict c,
                                long ldc, int mr, int nr, int first)
{
    vf acc[MR][NV];
    UNROLL_PRAGMA(MR)
    for (int i = 0; i < MR; i++) {
        UNROLL_PRAGMA(NV)
        for (int v = 0; v < NV; v++) acc[i][v] = VZERO();
    }
    UNROLL_PRAGMA(UNROLL)
    for (int k = 0; k < kc; k++) {
        vf bv[NV];
        UNROLL_PRAGMA(NV)
        for (int v = 0; v < NV; v++) bv[v] = VLOAD(b + (long)k * NR + v * VL);
        UNROLL_PRAGMA(MR)
        for (int i = 0; i < MR; i++) {
            vf ai = VBCAST(a + (long)k * MR + i);
            UNROLL_PRAGMA(NV)
            for (int v = 0; v < NV; v++) acc[i][v] = VFMA(ai, bv[v], acc[i][v]);
        }
    }
    if (mr == MR && nr == NR) {
        UNROLL_PRAGMA(MR)
        for (int i = 0; i < MR; i++) {
            UNROLL_PRAGMA(NV)
            for (int v = 0; v < NV; v++) {
                float *p = c + i * ldc + v * VL;
                VSTOREU(p, first ? acc[i][v] : VADD(acc[i][v], VLOADU(p)));
            }
        }
        return;
    }
    _Alignas(64) float tmp[MR * NR];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < NV; v++) VSTORE(tmp + i * NR + v * VL, acc[i][v]);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = first ? tmp[i * NR + j] : c[i * ldc + j] + tmp[i * NR + j];
}

/* one NR-wide panel of B[pc..pc+kc)[j0..j0+nr), zero-padded to NR */
static void pack_b_panel(int kc, int nr, const float *B, long ldb, float *restrict out)
{
    for (int k = 0; k < kc; k++) {
        const float *src = B + (long)k * ldb;
        float *dst = out + (long)k * NR;
        if (nr == NR) {
            for (int v = 0; v < NV; v++) VSTORE(dst + v * VL, VLOADU(src + v * VL));
        } else {
            int j = 0;
            for (; j < nr; j++) dst[j] = src[j];
            for (; j < NR; j++) dst[j] = 0.0f;
        }
    }
}

/* an mc x kc block of A into MR-row panels (k-major inside a panel), zero-padded */
static void pack_a_block(int mc, int kc, const float *A, long lda, float *restrict out)
{
    for (int i0 = 0; i0 < mc; i0 += MR) {
        float *panel = out + (long)i0 * kc;
        int mr = mc - i0 < MR ? mc - i0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *src = A + (long)(i0 + i) * lda;
            for (int k = 0; k < kc; k++) panel[(long)k * MR + i] = src[k];
        }
        for (int i = mr; i < MR; i++)
            for (int k = 0; k < kc; k++) panel[(long)k * MR + i] = 0.0f;
    }
}

typedef struct shared {
    int M, N, K, nt;
    const float *A, *B;
    float *C;
    float *Bp;
    pthread_barrier_t bar;
    pthread_mutex_t mu; /* start gate: workers wait for go/abort */
    pthread_cond_t cv;
    int gate; /* 0 wait, 1 go, -1 abort */
} shared;

typedef struct worker_arg {
    shared *s;
    int t;
    int m0, m1;
    float *Ap;
} worker_arg;

static void barrier(shared *s)
{
    if (s->nt > 1) pthread_barrier_wait(&s->bar);
}

static void *worker(void *p)
{
    worker_arg *w = p;
    shared *s = w->s;
    if (w->t > 0) {
        pthread_mutex_lock(&s->mu);
        while (s->gate == 0) pthread_cond_wait(&s->cv, &s->mu);
        int go = s->gate;
        pthread_mutex_unlock(&s->mu);
        if (go < 0) return NULL;
    }
    int N = s->N, K = s->K;
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        int npan = (nc + NR - 1) / NR;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            for (int q = w->t; q < npan; q += s->nt) {
                int nr = nc - q * NR < NR ? nc - q * NR : NR;
                pack_b_panel(kc, nr, s->B + (long)pc * N + jc + q * NR, N, s->Bp + (long)q * kc * NR);
            }
            barrier(s);
            for (int ic = w->m0; ic < w->m1; ic += MC) {
                int mc = w->m1 - ic < MC ? w->m1 - ic : MC;
                pack_a_block(mc, kc, s->A + (long)ic * K + pc, K, w->Ap);
                for (int q = 0; q < npan; q++) {
                    int nr = nc - q * NR < NR ? nc - q * NR : NR;
                    const float *bp = s->Bp + (long)q * kc * NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        micro_kernel(kc, w->Ap + (long)ir * kc, bp, s->C + (long)(ic + ir) * N + jc + q * NR, N,
                                     mr, nr, pc == 0);
                    }
                }
            }
            barrier(s); /* Bp is repacked next */
        }
    }
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    int nt = THREADS;
    /* at least one MR panel of rows per thread */
    if (nt > (M + MR - 1) / MR) nt = (M + MR - 1) / MR;
    int ncap = N < NC ? N : NC, kcap = K < KC ? K : KC;
    size_t bsz = (size_t)((ncap + NR - 1) / NR) * NR * kcap * sizeof(float);
    size_t asz = (size_t)MC * kcap * sizeof(float);
    shared s;
    memset(&s, 0, sizeof s);
    s.M = M, s.N = N, s.K = K, s.nt = nt, s.A = A, s.B = B, s.C = C;
    s.Bp = aligned_alloc(64, (bsz + 63) / 64 * 64);
    worker_arg w[64];
    pthread_t tid[64];
    int rc = 0;
    if (!s.Bp) return 2;
    /* rows split in whole MR panels */
    int panels = (M + MR - 1) / MR;
    for (int t = 0; t < nt; t++) {
        int p0 = panels * t / nt, p1 = panels * (t + 1) / nt;
        w[t] = (worker_arg){&s, t, p0 * MR, p1 * MR < M ? p1 * MR : M, aligned_alloc(64, (asz + 63) / 64 * 64)};
        if (!w[t].Ap) rc = 2;
    }
    if (rc == 0) {
        pthread_mutex_init(&s.mu, NULL);
        pthread_cond_init(&s.cv, NULL);
        if (nt > 1) pthread_barrier_init(&s.bar, NULL, (unsigned)nt);
        int started = 1;
        for (int t = 1; t < nt && pthread_create(&tid[t], NULL, worker, &w[t]) == 0; t++) started++;
        /* all threads or none: a partial team would deadlock on the barrier */
        pthread_mutex_lock(&s.mu);
        s.gate = started == nt ? 1 : -1;
        pthread_cond_broadcast(&s.cv);
        pthread_mutex_unlock(&s.mu);
        if (started == nt) {
            worker(&w[0]);
        } else { /* out of threads: do it all here, one team member */
            for (int t = 1; t < nt; t++) w[0].m1 = w[t].m1 > w[0].m1 ? w[t].m1 : w[0].m1;
            s.nt = 1;
            worker(&w[0]);
        }
        for (int t = 1; t < started; t++) pthread_join(tid[t], NULL);
        if (nt > 1) pthread_barrier_destroy(&s.bar);
        pthread_cond_destroy(&s.cv);
        pthread_mutex_destroy(&s.mu);
    }
    for (int t = 0; t < nt; t++) free(w[t].Ap);
    free(s.Bp);
    return rc;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/packed", "fp32",
#define STR_(x) #x
#define STR(x) STR_(x)
                                      "ISA=" STR(ISA) " MR=" STR(MR) " NV=" STR(NV) " TILE_K=" STR(TILE_K) " TILE_M=" STR(
                                          TILE_M) " TILE_N=" STR(TILE_N) " UNROLL=" STR(UNROLL) " THREADS=" STR(THREADS)};
const spak_kernel_info *spak_info(void) { return &info; }
