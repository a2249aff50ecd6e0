/* step10 (= step9 with TASKROWS=252, STOPF=0.1 defaults): 6x64 inline-asm microkernel; fine-grained tasks (TASKROWS rows x 64 cols x all K,
 * chunk-major order, each thread keeps its packed K x 64 B chunk and repacks only when
 * its chunk changes); helper threads stop claiming tasks once fewer than STOPF of them
 * remain, so the calling thread finishes the tail alone and is less likely to wait in
 * join for a helper that the (heavily loaded) scheduler has descheduled mid-task. */
#include "abi.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef MC
#define MC 240
#endif
#ifndef KC
#define KC 128
#endif
#ifndef TASKROWS
#define TASKROWS 252
#endif
#ifndef STOPF
#define STOPF 0.1
#endif
#ifndef THREADS
#define THREADS 2
#endif
#define MR 6
#define NR 64

static void pack_B(int kc, int nc, const float *B, long ldb, float *Bp)
{
    for (int j0 = 0; j0 < nc; j0 += NR) {
        int nr = nc - j0 < NR ? nc - j0 : NR;
        const float *b = B + j0;
        if (nr == NR) {
            for (int k = 0; k < kc; k++) {
                const float *src = b + (long)k * ldb;
                float *d = Bp + k * NR;
                _mm512_store_ps(d, _mm512_loadu_ps(src));
                _mm512_store_ps(d + 16, _mm512_loadu_ps(src + 16));
                _mm512_store_ps(d + 32, _mm512_loadu_ps(src + 32));
                _mm512_store_ps(d + 48, _mm512_loadu_ps(src + 48));
            }
        } else {
            __mmask16 m[4];
            for (int q = 0; q < 4; q++) {
                int r = nr - 16 * q;
                m[q] = r >= 16 ? 0xFFFF : (r <= 0 ? 0 : (__mmask16)((1u << r) - 1));
            }
            for (int k = 0; k < kc; k++)
                for (int q = 0; q < 4; q++)
                    _mm512_store_ps(Bp + k * NR + 16 * q,
                                    _mm512_maskz_loadu_ps(m[q], b + (long)k * ldb + 16 * q));
        }
        Bp += NR * kc;
    }
}

/* C[6][64] (+)= A[6][kc] (row i at a + i*lda) * Bp[kc][64]; hand-scheduled with inline asm:
 * zmm0-23 accumulators, zmm24-27 B row, zmm28-29 A broadcasts (GCC spilled and copied). */
static inline __attribute__((always_inline)) void
kernel(int kc, const float *a, long lda, const float *b, float *c, long ldc, int accum)
{
    for (int i = 0; i < MR; i++)
        for (int q = 0; q < 4; q++) _mm_prefetch((const char *)(c + (long)i * ldc + 16 * q), _MM_HINT_T0);
    const float *p0 = a, *p3 = a + 3 * lda;
    long k4 = kc >> 2, k1 = kc & 3, t, ldab = lda * 4, ldcb = ldc * 4, acc = accum;
    __asm__ volatile(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vpxord %%zmm1, %%zmm1, %%zmm1\n\t"
        "vpxord %%zmm2, %%zmm2, %%zmm2\n\t"
        "vpxord %%zmm3, %%zmm3, %%zmm3\n\t"
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
        "vpxord %%zmm10, %%zmm10, %%zmm10\n\t"
        "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
        "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
        "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
        "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
        "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
        "vpxord %%zmm18, %%zmm18, %%zmm18\n\t"
        "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\t"
        "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
        "vpxord %%zmm22, %%zmm22, %%zmm22\n\t"
        "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        ".p2align 5\n\t"
        "1:\n\t"
        "vmovaps 0(%[b]), %%zmm24\n\t"
        "vmovaps 64(%[b]), %%zmm25\n\t"
        "vmovaps 128(%[b]), %%zmm26\n\t"
        "vmovaps 192(%[b]), %%zmm27\n\t"
        "vbroadcastss 0(%[p0]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss 0(%[p0],%[lda],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss 0(%[p0],%[lda],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss 0(%[p3]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss 0(%[p3],%[lda],1), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss 0(%[p3],%[lda],2), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "vmovaps 256(%[b]), %%zmm24\n\t"
        "vmovaps 320(%[b]), %%zmm25\n\t"
        "vmovaps 384(%[b]), %%zmm26\n\t"
        "vmovaps 448(%[b]), %%zmm27\n\t"
        "vbroadcastss 4(%[p0]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss 4(%[p0],%[lda],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss 4(%[p0],%[lda],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss 4(%[p3]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss 4(%[p3],%[lda],1), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss 4(%[p3],%[lda],2), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "vmovaps 512(%[b]), %%zmm24\n\t"
        "vmovaps 576(%[b]), %%zmm25\n\t"
        "vmovaps 640(%[b]), %%zmm26\n\t"
        "vmovaps 704(%[b]), %%zmm27\n\t"
        "vbroadcastss 8(%[p0]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss 8(%[p0],%[lda],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss 8(%[p0],%[lda],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss 8(%[p3]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss 8(%[p3],%[lda],1), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss 8(%[p3],%[lda],2), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "vmovaps 768(%[b]), %%zmm24\n\t"
        "vmovaps 832(%[b]), %%zmm25\n\t"
        "vmovaps 896(%[b]), %%zmm26\n\t"
        "vmovaps 960(%[b]), %%zmm27\n\t"
        "vbroadcastss 12(%[p0]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss 12(%[p0],%[lda],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss 12(%[p0],%[lda],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss 12(%[p3]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss 12(%[p3],%[lda],1), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss 12(%[p3],%[lda],2), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "add $16, %[p0]\n\t"
        "add $16, %[p3]\n\t"
        "add $1024, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "test %[k1], %[k1]\n\t"
        "jz 4f\n\t"
        "3:\n\t"
        "vmovaps 0(%[b]), %%zmm24\n\t"
        "vmovaps 64(%[b]), %%zmm25\n\t"
        "vmovaps 128(%[b]), %%zmm26\n\t"
        "vmovaps 192(%[b]), %%zmm27\n\t"
        "vbroadcastss 0(%[p0]), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm0\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm1\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm2\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm3\n\t"
        "vbroadcastss 0(%[p0],%[lda],1), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm4\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm5\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm6\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm7\n\t"
        "vbroadcastss 0(%[p0],%[lda],2), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm8\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm9\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm10\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm11\n\t"
        "vbroadcastss 0(%[p3]), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm12\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm13\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm14\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm15\n\t"
        "vbroadcastss 0(%[p3],%[lda],1), %%zmm28\n\t"
        "vfmadd231ps %%zmm24, %%zmm28, %%zmm16\n\t"
        "vfmadd231ps %%zmm25, %%zmm28, %%zmm17\n\t"
        "vfmadd231ps %%zmm26, %%zmm28, %%zmm18\n\t"
        "vfmadd231ps %%zmm27, %%zmm28, %%zmm19\n\t"
        "vbroadcastss 0(%[p3],%[lda],2), %%zmm29\n\t"
        "vfmadd231ps %%zmm24, %%zmm29, %%zmm20\n\t"
        "vfmadd231ps %%zmm25, %%zmm29, %%zmm21\n\t"
        "vfmadd231ps %%zmm26, %%zmm29, %%zmm22\n\t"
        "vfmadd231ps %%zmm27, %%zmm29, %%zmm23\n\t"
        "add $4, %[p0]\n\t"
        "add $4, %[p3]\n\t"
        "add $256, %[b]\n\t"
        "dec %[k1]\n\t"
        "jnz 3b\n\t"
        "4:\n\t"
        "lea (%[c],%[ldc],2), %[t]\n\t"
        "add %[ldc], %[t]\n\t"
        "test %[acc], %[acc]\n\t"
        "jz 5f\n\t"
        "vaddps 0(%[c]), %%zmm0, %%zmm0\n\t"
        "vaddps 64(%[c]), %%zmm1, %%zmm1\n\t"
        "vaddps 128(%[c]), %%zmm2, %%zmm2\n\t"
        "vaddps 192(%[c]), %%zmm3, %%zmm3\n\t"
        "vaddps 0(%[c],%[ldc],1), %%zmm4, %%zmm4\n\t"
        "vaddps 64(%[c],%[ldc],1), %%zmm5, %%zmm5\n\t"
        "vaddps 128(%[c],%[ldc],1), %%zmm6, %%zmm6\n\t"
        "vaddps 192(%[c],%[ldc],1), %%zmm7, %%zmm7\n\t"
        "vaddps 0(%[c],%[ldc],2), %%zmm8, %%zmm8\n\t"
        "vaddps 64(%[c],%[ldc],2), %%zmm9, %%zmm9\n\t"
        "vaddps 128(%[c],%[ldc],2), %%zmm10, %%zmm10\n\t"
        "vaddps 192(%[c],%[ldc],2), %%zmm11, %%zmm11\n\t"
        "vaddps 0(%[t]), %%zmm12, %%zmm12\n\t"
        "vaddps 64(%[t]), %%zmm13, %%zmm13\n\t"
        "vaddps 128(%[t]), %%zmm14, %%zmm14\n\t"
        "vaddps 192(%[t]), %%zmm15, %%zmm15\n\t"
        "vaddps 0(%[t],%[ldc],1), %%zmm16, %%zmm16\n\t"
        "vaddps 64(%[t],%[ldc],1), %%zmm17, %%zmm17\n\t"
        "vaddps 128(%[t],%[ldc],1), %%zmm18, %%zmm18\n\t"
        "vaddps 192(%[t],%[ldc],1), %%zmm19, %%zmm19\n\t"
        "vaddps 0(%[t],%[ldc],2), %%zmm20, %%zmm20\n\t"
        "vaddps 64(%[t],%[ldc],2), %%zmm21, %%zmm21\n\t"
        "vaddps 128(%[t],%[ldc],2), %%zmm22, %%zmm22\n\t"
        "vaddps 192(%[t],%[ldc],2), %%zmm23, %%zmm23\n\t"
        "5:\n\t"
        "vmovups %%zmm0, 0(%[c])\n\t"
        "vmovups %%zmm1, 64(%[c])\n\t"
        "vmovups %%zmm2, 128(%[c])\n\t"
        "vmovups %%zmm3, 192(%[c])\n\t"
        "vmovups %%zmm4, 0(%[c],%[ldc],1)\n\t"
        "vmovups %%zmm5, 64(%[c],%[ldc],1)\n\t"
        "vmovups %%zmm6, 128(%[c],%[ldc],1)\n\t"
        "vmovups %%zmm7, 192(%[c],%[ldc],1)\n\t"
        "vmovups %%zmm8, 0(%[c],%[ldc],2)\n\t"
        "vmovups %%zmm9, 64(%[c],%[ldc],2)\n\t"
        "vmovups %%zmm10, 128(%[c],%[ldc],2)\n\t"
        "vmovups %%zmm11, 192(%[c],%[ldc],2)\n\t"
        "vmovups %%zmm12, 0(%[t])\n\t"
        "vmovups %%zmm13, 64(%[t])\n\t"
        "vmovups %%zmm14, 128(%[t])\n\t"
        "vmovups %%zmm15, 192(%[t])\n\t"
        "vmovups %%zmm16, 0(%[t],%[ldc],1)\n\t"
        "vmovups %%zmm17, 64(%[t],%[ldc],1)\n\t"
        "vmovups %%zmm18, 128(%[t],%[ldc],1)\n\t"
        "vmovups %%zmm19, 192(%[t],%[ldc],1)\n\t"
        "vmovups %%zmm20, 0(%[t],%[ldc],2)\n\t"
        "vmovups %%zmm21, 64(%[t],%[ldc],2)\n\t"
        "vmovups %%zmm22, 128(%[t],%[ldc],2)\n\t"
        "vmovups %%zmm23, 192(%[t],%[ldc],2)\n\t"
        : [p0] "+r"(p0), [p3] "+r"(p3), [b] "+r"(b), [k4] "+r"(k4), [k1] "+r"(k1), [t] "=&r"(t)
        : [lda] "r"(ldab), [c] "r"(c), [ldc] "r"(ldcb), [acc] "r"(acc)
        : "zmm0", "zmm1", "zmm2", "zmm3", "zmm4", "zmm5", "zmm6", "zmm7", "zmm8", "zmm9", "zmm10", "zmm11", "zmm12", "zmm13", "zmm14", "zmm15", "zmm16", "zmm17", "zmm18", "zmm19", "zmm20", "zmm21", "zmm22", "zmm23", "zmm24", "zmm25", "zmm26", "zmm27", "zmm28", "zmm29", "cc", "memory");
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
    int M, N, K, nrb, ntasks, helper_limit;
    const float *A, *B;
    float *C;
    int next;
    int fail;
} shared_t;

typedef struct { shared_t *s; int helper; } arg_t;

static void *worker(void *p)
{
    arg_t *ar = (arg_t *)p;
    shared_t *s = ar->s;
    const int M = s->M, N = s->N, K = s->K;
    const float *A = s->A, *B = s->B;
    float *C = s->C;
    float *Bp = aligned_alloc(64, ((size_t)K * NR * sizeof(float) + 63) & ~(size_t)63);
    if (!Bp) { if (!ar->helper) __atomic_store_n(&s->fail, 1, __ATOMIC_RELAXED); return NULL; }
    int cur = -1;
    for (;;) {
        int t;
        if (ar->helper) {
            t = __atomic_load_n(&s->next, __ATOMIC_RELAXED);
            for (;;) {
                if (t >= s->helper_limit) { t = -1; break; }
                if (__atomic_compare_exchange_n(&s->next, &t, t + 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) break;
            }
            if (t < 0) break;
        } else {
            t = __atomic_fetch_add(&s->next, 1, __ATOMIC_RELAXED);
            if (t >= s->ntasks) break;
        }
        int ch = t / s->nrb, rb = t % s->nrb;
        int jc = ch * NR;
        int nr = N - jc < NR ? N - jc : NR;
        if (ch != cur) { pack_B(K, nr, B + jc, N, Bp); cur = ch; }
        int r0 = rb * TASKROWS;
        int r1 = r0 + TASKROWS < M ? r0 + TASKROWS : M;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            int accum = pc > 0;
            const float *bp = Bp + (long)pc * NR;
            for (int ir = r0; ir < r1; ir += MR) {
                int mr = r1 - ir < MR ? r1 - ir : MR;
                const float *ap = A + (long)ir * K + pc;
                float *cp = C + (long)ir * N + jc;
                if (mr == MR && nr == NR) kernel(kc, ap, K, bp, cp, N, accum);
                else kernel_edge(kc, ap, K, bp, cp, N, accum, mr, nr);
            }
        }
    }
    free(Bp);
    return NULL;
}

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    shared_t s;
    s.M = M; s.N = N; s.K = K; s.A = A; s.B = B; s.C = C; s.next = 0; s.fail = 0;
    s.nrb = (M + TASKROWS - 1) / TASKROWS;
    s.ntasks = s.nrb * ((N + NR - 1) / NR);
    int tail = (int)(s.ntasks * (double)STOPF);
    s.helper_limit = s.ntasks - tail;
    int T = THREADS;
    if (T > 16) T = 16;
    if (T > s.ntasks) T = s.ntasks;
    if ((double)M * N * K < 2e6) T = 1;
    pthread_t th[16];
    arg_t args[16];
    int started[16] = {0};
    for (int t = 0; t < T; t++) { args[t].s = &s; args[t].helper = t > 0; }
    for (int t = 1; t < T; t++)
        started[t] = pthread_create(&th[t], NULL, worker, &args[t]) == 0;
    worker(&args[0]);
    for (int t = 1; t < T; t++)
        if (started[t]) pthread_join(th[t], NULL);
    return s.fail ? 2 : 0;
}

static const spak_kernel_info info = {SPAK_CPU_ABI_VERSION, "matmul/tasks-helperstop-avx512-6x64-t2-r252", "fp32", ""};
const spak_kernel_info *spak_info(void) { return &info; }
