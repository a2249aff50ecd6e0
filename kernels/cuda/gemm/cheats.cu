/*
 * cheats.cu - misbehaving GEMM candidates, for testing the harness (never a
 * rung). Built once per mode with -DCHEAT=N (make cuda-cheats); each must get
 * a failed Correctness record (never a pass, never a harness crash):
 *   1 zeros         writes zeros
 *   2 input         computes C, then also writes its input A
 *   3 cache         returns the first call's result from then on
 *   4 lowprec       accumulates in the 16-bit type (fp32 in the declaration)
 *   5 stream        computes on its own stream, late, after returning
 *   6 hang          never finishes (the harness kills the child)
 *   7 illegal       writes far outside C (sticky illegal-address error)
 *   8 shapes        correct only when M, N are multiples of 128 (seen shapes)
 * bf16/fp16 only. Layouts: abi.h.
 */
#include "candidate.cuh"

#ifndef CHEAT
#define CHEAT 1
#endif

template <typename T>
__global__ void naive(int M, int N, int K, const T *A, const T *B, T *C, int lowprec)
{
    int n = blockIdx.x * blockDim.x + threadIdx.x, m = blockIdx.y;
    if (m >= M || n >= N)
        return;
    float acc = 0.f;
    for (int k = 0; k < K; k++) {
        acc = fmaf(elem<T>::to_f(A[(size_t)m * K + k]), elem<T>::to_f(B[(size_t)n * K + k]), acc);
        if (lowprec)
            acc = elem<T>::to_f(elem<T>::from_f(acc));
    }
    C[(size_t)m * N + n] = elem<T>::from_f(acc);
}

/* cycles < 0: forever. The volatile read keeps the compiler from deleting
 * the loop (a side-effect-free infinite loop is undefined in C++). */
__device__ volatile int g_stop = 0;
__global__ void spin(long long cycles)
{
    long long t0 = clock64();
    while (!g_stop && (cycles < 0 || clock64() - t0 < cycles))
        ;
}

__global__ void scribble(unsigned short *p) { p[threadIdx.x] = 0; }

static const struct spak_gemm_info g_info = {SPAK_GEMM_ABI_VERSION, "cheat " SPAK_STR(CHEAT),
                                             SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16), 1, 1, 1, 50};
extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

template <typename T> static void run(int M, int N, int K, const void *A, const void *B, void *C, cudaStream_t s, int lp)
{
    dim3 grid((N + 127) / 128, M);
    naive<T><<<grid, 128, 0, s>>>(M, N, K, (const T *)A, (const T *)B, (T *)C, lp);
}

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    auto go = [&](cudaStream_t st, int lp) {
        if (dtype == SPAK_DT_BF16)
            run<__nv_bfloat16>(M, N, K, A, B, C, st, lp);
        else
            run<__half>(M, N, K, A, B, C, st, lp);
    };
    size_t cbytes = (size_t)M * N * 2;
    switch (CHEAT) {
    case 1:
        return (int)cudaMemsetAsync(C, 0, cbytes, s);
    case 2:
        go(s, 0);
        scribble<<<1, 32, 0, s>>>((unsigned short *)const_cast<void *>(A));
        break;
    case 3: {
        static void *saved = NULL;
        static size_t saved_bytes = 0;
        if (!saved || saved_bytes != cbytes) {
            if (saved)
                cudaFree(saved);
            SPAK_TRY(cudaMalloc(&saved, cbytes));
            saved_bytes = cbytes;
            go(s, 0);
            SPAK_TRY(cudaMemcpyAsync(saved, C, cbytes, cudaMemcpyDeviceToDevice, s));
        } else {
            SPAK_TRY(cudaMemcpyAsync(C, saved, cbytes, cudaMemcpyDeviceToDevice, s));
        }
        break;
    }
    case 4:
        go(s, 1);
        break;
    case 5: {
        static cudaStream_t mine = NULL;
        if (!mine)
            SPAK_TRY(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
        spin<<<1, 1, 0, mine>>>(200000000LL); /* ~0.1 s */
        go(mine, 0);
        break;
    }
    case 6:
        spin<<<1, 1, 0, s>>>(-1);
        break;
    case 7:
        scribble<<<1, 32, 0, s>>>((unsigned short *)C + ((size_t)1 << 40));
        break;
    case 8:
        if (M % 128 == 0 && N % 128 == 0)
            go(s, 0);
        else
            return (int)cudaMemsetAsync(C, 0, cbytes, s);
        break;
    }
    return (int)cudaGetLastError();
}
