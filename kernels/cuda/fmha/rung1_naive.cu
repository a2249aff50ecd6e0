/*
 * rung1_naive.cu - FMHA ladder rung 1: three passes with the score matrix in
 * global memory (the workspace, fp32 [B][H][S][S]).
 *
 *   pass 1  scores[i][j] = scale * q_i . k_j   (-inf where causal masks)   shared-memory tiled, fp32
 *   pass 2  row softmax in place: max, sum of exp, P = exp(s - max) / sum; LSE   one warp per row
 *   pass 3  O = P V                                                        shared-memory tiled, fp32
 *
 * Reads and writes B*H*S*S*4 bytes three times: memory-bound by design (the
 * baseline of the ladder, to be measured, not tuned).
 *
 * Parameters (-D): TILE (default 16): the square tile of passes 1 and 3
 * (TILE*TILE threads per block, 8..32).
 * Build: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC -o rung1_naive.so rung1_naive.cu
 */
#include "candidate.cuh"

#ifndef TILE
#define TILE 16
#endif
static_assert(TILE >= 8 && TILE <= 32, "TILE in 8..32");

static const struct spak_fmha_info g_info = {
    SPAK_FMHA_ABI_VERSION,
    "rung1_naive TILE=" SPAK_STR(TILE),
    SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16),
    SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128),
    1,     /* any S */
    32768, /* S*S*4 bytes per head of workspace */
    1, 1, 1,
    80,
};

/* pass 1: one block per TILE x TILE block of scores of one (b, h) */
template <typename T>
__global__ void scores_kernel(const T *__restrict__ Q, const T *__restrict__ K, float *__restrict__ Sc, int H,
                              int Hkv, int S, int D, int causal, float scale)
{
    __shared__ float qs[TILE][TILE + 1], ks[TILE][TILE + 1];
    const int bh = blockIdx.z, b = bh / H, h = bh % H, hk = h / (H / Hkv);
    const int i = blockIdx.y * TILE + threadIdx.y, j = blockIdx.x * TILE + threadIdx.x;
    const T *q = Q + ((size_t)b * H + h) * S * D, *k = K + ((size_t)b * Hkv + hk) * S * D;
    float acc = 0;
    if (causal && blockIdx.x * TILE > blockIdx.y * TILE + TILE - 1) { /* whole tile above the diagonal */
        if (i < S && j < S)
            Sc[((size_t)bh * S + i) * S + j] = -INFINITY;
        return;
    }
    for (int d0 = 0; d0 < D; d0 += TILE) {
        int qi = blockIdx.y * TILE + threadIdx.y, kj = blockIdx.x * TILE + threadIdx.y;
        qs[threadIdx.y][threadIdx.x] = qi < S ? elem<T>::to_f(q[(size_t)qi * D + d0 + threadIdx.x]) : 0.f;
        ks[threadIdx.y][threadIdx.x] = kj < S ? elem<T>::to_f(k[(size_t)kj * D + d0 + threadIdx.x]) : 0.f;
        __syncthreads();
#pragma unroll
        for (int d = 0; d < TILE; d++)
            acc = fmaf(qs[threadIdx.y][d], ks[threadIdx.x][d], acc);
        __syncthreads();
    }
    if (i < S && j < S)
        Sc[((size_t)bh * S + i) * S + j] = (causal && j > i) ? -INFINITY : acc * scale;
}

/* pass 2: one warp per row */
__global__ void softmax_kernel(float *__restrict__ Sc, float *__restrict__ lse, long long rows, int S)
{
    long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    int lane = threadIdx.x & 31;
    if (row >= rows)
        return;
    float *p = Sc + row * S;
    float m = -INFINITY, l = 0;
    for (int j = lane; j < S; j += 32)
        m = fmaxf(m, p[j]);
    for (int o = 16; o; o >>= 1)
        m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
    for (int j = lane; j < S; j += 32)
        l += expf(p[j] - m);
    for (int o = 16; o; o >>= 1)
        l += __shfl_xor_sync(0xffffffffu, l, o);
    float inv = 1.f / l;
    for (int j = lane; j < S; j += 32)
        p[j] = expf(p[j] - m) * inv;
    if (lse && lane == 0)
        lse[row] = m + logf(l);
}

/* pass 3: O tile (TILE rows x TILE cols of D) = P (rows x S) V (S x D) */
template <typename T>
__global__ void pv_kernel(const float *__restrict__ Sc, const T *__restrict__ V, T *__restrict__ O, int H, int Hkv,
                          int S, int D, int causal)
{
    __shared__ float ps[TILE][TILE + 1], vs[TILE][TILE + 1];
    const int bh = blockIdx.z, b = bh / H, h = bh % H, hk = h / (H / Hkv);
    const int i = blockIdx.y * TILE + threadIdx.y, d = blockIdx.x * TILE + threadIdx.x;
    const float *p = Sc + (size_t)bh * S * S;
    const T *v = V + ((size_t)b * Hkv + hk) * S * D;
    int kend = causal ? min(S, (int)(blockIdx.y * TILE + TILE)) : S;
    float acc = 0;
    for (int j0 = 0; j0 < kend; j0 += TILE) {
        int pj = j0 + threadIdx.x, vj = j0 + threadIdx.y;
        ps[threadIdx.y][threadIdx.x] = (i < S && pj < S) ? p[(size_t)i * S + pj] : 0.f;
        vs[threadIdx.y][threadIdx.x] = vj < S ? elem<T>::to_f(v[(size_t)vj * D + d]) : 0.f;
        __syncthreads();
#pragma unroll
        for (int jj = 0; jj < TILE; jj++)
            acc = fmaf(ps[threadIdx.y][jj], vs[jj][threadIdx.x], acc);
        __syncthreads();
    }
    if (i < S)
        O[((size_t)bh * S + i) * D + d] = elem<T>::from_f(acc);
}

extern "C" const struct spak_fmha_info *spak_fmha_info(void) { return &g_info; }

extern "C" size_t spak_fmha_workspace(int B, int H, int Hkv, int S, int D, int causal, int dtype)
{
    (void)Hkv, (void)D, (void)causal, (void)dtype;
    return (size_t)B * H * S * S * sizeof(float);
}

template <typename T>
static int launch(int B, int H, int Hkv, int S, int D, int causal, const void *Q, const void *K, const void *V,
                  void *O, float *lse, float scale, float *ws, cudaStream_t st)
{
    dim3 blk(TILE, TILE);
    dim3 g1(spak_cdiv(S, TILE), spak_cdiv(S, TILE), B * H), g3(D / TILE, spak_cdiv(S, TILE), B * H);
    long long rows = (long long)B * H * S;
    scores_kernel<T><<<g1, blk, 0, st>>>((const T *)Q, (const T *)K, ws, H, Hkv, S, D, causal, scale);
    SPAK_TRY(cudaGetLastError());
    softmax_kernel<<<(unsigned)((rows + 7) / 8), 256, 0, st>>>(ws, lse, rows, S);
    SPAK_TRY(cudaGetLastError());
    pv_kernel<T><<<g3, blk, 0, st>>>(ws, (const T *)V, (T *)O, H, Hkv, S, D, causal);
    return (int)cudaGetLastError();
}

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
    if (!spak_fmha_args_ok(&g_info, B, H, Hkv, S, D, causal, dtype) || D % TILE ||
        (long long)B * H > 65535 || workspace_bytes < spak_fmha_workspace(B, H, Hkv, S, D, causal, dtype) ||
        !workspace)
        return (int)cudaErrorInvalidValue;
    if (dtype == SPAK_FMHA_F16)
        return launch<__half>(B, H, Hkv, S, D, causal, Q, K, V, O, lse, scale, (float *)workspace, stream);
    return launch<__nv_bfloat16>(B, H, Hkv, S, D, causal, Q, K, V, O, lse, scale, (float *)workspace, stream);
}

extern "C" int spak_fmha_kernel_info(int B, int H, int Hkv, int S, int D, int causal, int dtype,
                                     struct spak_fmha_kinfo *out)
{
    (void)Hkv, (void)D, (void)causal;
    long long grid = (long long)spak_cdiv(S, TILE) * spak_cdiv(S, TILE) * B * H;
    if (dtype == SPAK_FMHA_F16)
        return spak_fill_kinfo(scores_kernel<__half>, TILE * TILE, 0, grid, out);
    return spak_fill_kinfo(scores_kernel<__nv_bfloat16>, TILE * TILE, 0, grid, out);
}
