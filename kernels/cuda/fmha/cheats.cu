/*
 * cheats.cu - misbehaving FMHA candidates, to test the harness itself: each
 * CHEAT=N wraps the honest rung 2 and breaks one rule of abi.h. Every one
 * must get {"passed":false} with the reason in the comment (cheats.sh runs
 * them all on the GPU machine; make cuda-fmha-cheats builds them).
 *
 *   1 writes nothing                     -> NaN outputs (poison)
 *   2 writes its input Q                 -> "candidate wrote its input Q"
 *   3 computes on its own stream (50 ms late), returns without waiting -> "work left running"
 *   4 ignores causal                     -> relative error far above tolerance
 *   5 replays the result of its first call (cache) -> second check fails
 *   6 low precision: O's mantissa cut to 5 bits -> relative error above tolerance
 *   7 hangs                              -> child killed at --timeout
 *   8 illegal address                    -> CUDA error reported, the run goes on
 *   9 LSE off by 0.01                    -> LSE error above tolerance
 */
#ifndef CHEAT
#define CHEAT 1
#endif

/* the honest kernel without its exports: rung2_fmha() and g_info */
#define SPAK_FMHA_NO_EXPORTS
#include "rung2_online.cu"

static struct spak_fmha_info g_cheat_info;

extern "C" const struct spak_fmha_info *spak_fmha_info(void)
{
    g_cheat_info = g_info;
    g_cheat_info.name = "cheat " SPAK_STR(CHEAT);
    return &g_cheat_info;
}

static __attribute__((unused)) int spak_fmha_honest(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                            const void *V, void *O, float *lse, float scale, void *ws, size_t wsb, cudaStream_t st)
{
    (void)ws, (void)wsb;
    return rung2_fmha(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, st);
}

__global__ void sleep_ms(int ms)
{
    for (int i = 0; i < ms; i++)
        __nanosleep(1000000);
}
__global__ void spin_forever(volatile int *flag)
{
    while (*flag == 0) {
    }
}
__global__ void write_illegal(float *p) { p[threadIdx.x] = 1.f; }
__global__ void cut_mantissa(uint16_t *o, size_t n, int dtype)
{
    /* keep 5 explicit mantissa bits: fp16 has 10, bf16 7 */
    uint16_t mask = dtype == SPAK_FMHA_F16 ? (uint16_t)0xFFE0 : (uint16_t)0xFFFC;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        o[i] &= mask;
}
__global__ void add_to(float *p, size_t n, float v)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        p[i] += v;
}

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
#if CHEAT == 5 || CHEAT == 6
    const size_t nq = (size_t)B * H * S * D;
#endif
#if CHEAT == 1
    (void)B, (void)H, (void)Hkv, (void)S, (void)D, (void)causal, (void)dtype, (void)Q, (void)K, (void)V, (void)O;
    (void)lse, (void)scale, (void)workspace, (void)workspace_bytes, (void)stream;
    return 0;
#elif CHEAT == 2
    int rc = spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, stream);
    if (rc)
        return rc;
    return (int)cudaMemsetAsync((void *)Q, 0, 256, stream);
#elif CHEAT == 3
    static cudaStream_t mine;
    if (!mine)
        SPAK_TRY(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
    (void)stream;
    /* 50 ms late, so that the harness's snapshot (taken after its own stream
     * is done) surely precedes it: a job on a private stream that ends
     * before the snapshot is not caught by the snapshot (docs/results-gpu-fmha.md) */
    sleep_ms<<<1, 1, 0, mine>>>(50);
    return spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, mine);
#elif CHEAT == 4
    (void)causal;
    return spak_fmha_honest(B, H, Hkv, S, D, 0, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, stream);
#elif CHEAT == 5
    static void *saved;
    static size_t saved_bytes;
    if (!saved) {
        int rc = spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes,
                                  stream);
        if (rc)
            return rc;
        saved_bytes = nq * 2;
        SPAK_TRY(cudaMalloc(&saved, saved_bytes));
        return (int)cudaMemcpyAsync(saved, O, saved_bytes, cudaMemcpyDeviceToDevice, stream);
    }
    return (int)cudaMemcpyAsync(O, saved, saved_bytes, cudaMemcpyDeviceToDevice, stream);
#elif CHEAT == 6
    int rc = spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, stream);
    if (rc)
        return rc;
    cut_mantissa<<<1024, 256, 0, stream>>>((uint16_t *)O, nq, dtype);
    return (int)cudaGetLastError();
#elif CHEAT == 7
    static int *flag;
    if (!flag)
        SPAK_TRY(cudaMalloc(&flag, sizeof(int)));
    SPAK_TRY(cudaMemsetAsync(flag, 0, sizeof(int), stream));
    spin_forever<<<1, 1, 0, stream>>>(flag);
    (void)B, (void)H, (void)Hkv, (void)S, (void)D, (void)causal, (void)dtype, (void)Q, (void)K, (void)V, (void)O;
    (void)lse, (void)scale, (void)workspace, (void)workspace_bytes;
    return (int)cudaGetLastError();
#elif CHEAT == 8
    int rc = spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, stream);
    if (rc)
        return rc;
    write_illegal<<<1, 32, 0, stream>>>((float *)(uintptr_t)0x10);
    return (int)cudaGetLastError();
#elif CHEAT == 9
    int rc = spak_fmha_honest(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, workspace, workspace_bytes, stream);
    if (rc || !lse)
        return rc;
    add_to<<<256, 256, 0, stream>>>(lse, (size_t)B * H * S, 0.01f);
    return (int)cudaGetLastError();
#else
#error "CHEAT in 1..9"
#endif
}
