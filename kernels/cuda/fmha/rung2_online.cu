/*
 * rung2_online.cu - FMHA ladder rung 2: one fused kernel, online softmax, on
 * CUDA cores (fp32 FMA). The score matrix never leaves registers.
 *
 * A block owns BLOCK_M query rows of one (b, h); TPR threads per row
 * (BLOCK_M*TPR threads). Each thread keeps its slice of the query row and of
 * the output row in registers: the half2 pairs d = 2*(lane_in_row + TPR*k),
 * interleaved so that the TPR threads of a row read consecutive 32-bit words
 * of a shared-memory row (no bank conflicts; the rows of a warp read the same
 * key row, a broadcast). Per tile of BLOCK_N keys (K, V in shared memory):
 * partial dot products reduced over the row's threads with shuffles, tile
 * max, one rescale of the running output per tile, exp2 with the scale
 * pre-multiplied by log2(e). Causal: tiles past the diagonal are skipped,
 * the diagonal tile masked per element; heavy (late) query blocks start first.
 *
 * Parameters (-D, defaults): BLOCK_M=64 query rows per block, BLOCK_N=32 keys
 * per tile, TPR=4 threads per query row (2, 4, 8 or 16).
 * Build: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC -o rung2_online.so rung2_online.cu
 */
#include "candidate.cuh"

#ifndef BLOCK_M
#define BLOCK_M 64
#endif
#ifndef BLOCK_N
#define BLOCK_N 32
#endif
#ifndef TPR
#define TPR 4
#endif
#define THREADS (BLOCK_M * TPR)
static_assert(TPR == 2 || TPR == 4 || TPR == 8 || TPR == 16, "TPR in {2,4,8,16}");
static_assert(THREADS % 32 == 0 && THREADS <= 1024, "BLOCK_M*TPR: a multiple of 32, at most 1024");
static_assert(BLOCK_N % 8 == 0 && BLOCK_N <= 128, "BLOCK_N a multiple of 8, <= 128");

static const struct spak_fmha_info g_info = {
    SPAK_FMHA_ABI_VERSION,
    "rung2_online BLOCK_M=" SPAK_STR(BLOCK_M) " BLOCK_N=" SPAK_STR(BLOCK_N) " TPR=" SPAK_STR(TPR),
    SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16),
    SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128),
    1, 0, 1, 1, 1, 80,
};

template <typename T, int D>
__global__ void __launch_bounds__(THREADS) online_kernel(const T *__restrict__ Q, const T *__restrict__ K,
                                                         const T *__restrict__ V, T *__restrict__ O,
                                                         float *__restrict__ lse, int H, int Hkv, int S, int causal,
                                                         float scale_log2)
{
    constexpr int NP = D / 2 / TPR; /* half2 pairs per thread */
    __shared__ uint32_t ks[BLOCK_N][D / 2], vs[BLOCK_N][D / 2];
    const int mblk = gridDim.x - 1 - blockIdx.x; /* causal: the longest rows first */
    const int h = blockIdx.y, b = blockIdx.z, hk = h / (H / Hkv);
    const int r = threadIdx.x / TPR, sub = threadIdx.x % TPR;
    const int i = mblk * BLOCK_M + r;
    const size_t qo = ((size_t)b * H + h) * S * D, kvo = ((size_t)b * Hkv + hk) * S * D;
    const uint32_t *K2 = reinterpret_cast<const uint32_t *>(K + kvo), *V2 = reinterpret_cast<const uint32_t *>(V + kvo);
    float q[NP][2], o[NP][2];
    float m = -INFINITY, l = 0;

#pragma unroll
    for (int k = 0; k < NP; k++) {
        int d = 2 * (sub + TPR * k);
        q[k][0] = i < S ? elem<T>::to_f(Q[qo + (size_t)i * D + d]) * scale_log2 : 0.f;
        q[k][1] = i < S ? elem<T>::to_f(Q[qo + (size_t)i * D + d + 1]) * scale_log2 : 0.f;
        o[k][0] = o[k][1] = 0.f;
    }
    const int kend = causal ? min(S, (mblk + 1) * BLOCK_M) : S;
    for (int k0 = 0; k0 < kend; k0 += BLOCK_N) {
        __syncthreads();
        for (int e = threadIdx.x; e < BLOCK_N * D / 2; e += THREADS) {
            int jj = e / (D / 2), w = e % (D / 2);
            bool in = k0 + jj < S;
            ks[jj][w] = in ? K2[(size_t)(k0 + jj) * (D / 2) + w] : 0u;
            vs[jj][w] = in ? V2[(size_t)(k0 + jj) * (D / 2) + w] : 0u;
        }
        __syncthreads();
        float s[BLOCK_N];
        float tmax = -INFINITY;
#pragma unroll
        for (int jj = 0; jj < BLOCK_N; jj++) {
            float acc = 0;
#pragma unroll
            for (int k = 0; k < NP; k++) {
                uint32_t w = ks[jj][sub + TPR * k];
                acc = fmaf(q[k][0], elem<T>::to_f(reinterpret_cast<const T *>(&w)[0]), acc);
                acc = fmaf(q[k][1], elem<T>::to_f(reinterpret_cast<const T *>(&w)[1]), acc);
            }
#pragma unroll
            for (int off = TPR / 2; off; off >>= 1)
                acc += __shfl_xor_sync(0xffffffffu, acc, off);
            int j = k0 + jj;
            s[jj] = (j >= S || (causal && j > i)) ? -INFINITY : acc;
            tmax = fmaxf(tmax, s[jj]);
        }
        float mnew = fmaxf(m, tmax);
        float mu = mnew == -INFINITY ? 0.f : mnew; /* a fully masked row so far: no NaN */
        float corr = fast_exp2(m - mu);
        l *= corr;
#pragma unroll
        for (int k = 0; k < NP; k++)
            o[k][0] *= corr, o[k][1] *= corr;
#pragma unroll
        for (int jj = 0; jj < BLOCK_N; jj++) {
            float p = fast_exp2(s[jj] - mu);
            l += p;
#pragma unroll
            for (int k = 0; k < NP; k++) {
                uint32_t w = vs[jj][sub + TPR * k];
                o[k][0] = fmaf(p, elem<T>::to_f(reinterpret_cast<const T *>(&w)[0]), o[k][0]);
                o[k][1] = fmaf(p, elem<T>::to_f(reinterpret_cast<const T *>(&w)[1]), o[k][1]);
            }
        }
        m = mnew;
    }
    if (i < S) {
        float inv = 1.f / l;
#pragma unroll
        for (int k = 0; k < NP; k++) {
            int d = 2 * (sub + TPR * k);
            *reinterpret_cast<uint32_t *>(O + qo + (size_t)i * D + d) = elem<T>::pack2(o[k][0] * inv, o[k][1] * inv);
        }
        if (lse && sub == 0)
            lse[((size_t)b * H + h) * S + i] = m * SPAK_LN2 + logf(l);
    }
}

template <typename T, int D>
static int launch(int B, int H, int Hkv, int S, int causal, const void *Q, const void *K, const void *V, void *O,
                  float *lse, float scale, cudaStream_t st)
{
    dim3 grid(spak_cdiv(S, BLOCK_M), H, B);
    online_kernel<T, D><<<grid, THREADS, 0, st>>>((const T *)Q, (const T *)K, (const T *)V, (T *)O, lse, H, Hkv, S,
                                                  causal, scale * SPAK_LOG2E);
    return (int)cudaGetLastError();
}

/* The whole launcher; cheats.cu wraps it (with SPAK_FMHA_NO_EXPORTS). */
static int rung2_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                      const void *V, void *O, float *lse, float scale, cudaStream_t stream)
{
    if (!spak_fmha_args_ok(&g_info, B, H, Hkv, S, D, causal, dtype))
        return (int)cudaErrorInvalidValue;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        return launch<typename decltype(t)::type, d>(B, H, Hkv, S, causal, Q, K, V, O, lse, scale, stream);
    });
}

#ifndef SPAK_FMHA_NO_EXPORTS
extern "C" const struct spak_fmha_info *spak_fmha_info(void) { return &g_info; }

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
    (void)workspace, (void)workspace_bytes;
    return rung2_fmha(B, H, Hkv, S, D, causal, dtype, Q, K, V, O, lse, scale, stream);
}

extern "C" int spak_fmha_kernel_info(int B, int H, int Hkv, int S, int D, int causal, int dtype,
                                     struct spak_fmha_kinfo *out)
{
    (void)Hkv, (void)causal;
    long long grid = (long long)spak_cdiv(S, BLOCK_M) * H * B;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        return spak_fill_kinfo(online_kernel<typename decltype(t)::type, d>, THREADS, 0, grid, out);
    });
}
#endif
