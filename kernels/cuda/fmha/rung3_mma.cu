/*
 * rung3_mma.cu - FMHA ladder rung 3: FlashAttention-2 style on the tensor
 * cores through mma.sync (m16n8k16, fp32 accumulate), the Ampere path that
 * Hopper still runs (as HMMA; rung 4 is the wgmma one).
 *
 * Block: WARPS warps, BLOCK_M = 16*WARPS query rows of one (b, h); each warp
 * owns 16 rows and everything about them (no inter-warp softmax exchange).
 *  - Q tile: cp.async into shared memory, then ldmatrix once into registers
 *    (A fragments for all D/16 k-steps), pre-scaling none: the scale is
 *    applied inside the exponent (exp2(s*c - m*c), c = scale*log2(e), one FFMA).
 *  - K/V tiles of BLOCK_N keys: a STAGES-deep cp.async ring (16-byte copies,
 *    zero-filled past S); rows of D halves with the 16-byte chunks XOR-swizzled
 *    by (row & 7) so that ldmatrix's eight row addresses hit distinct banks.
 *  - S = Q K^T: K fragments by ldmatrix.x4 (K rows are B's columns);
 *    O += P V: P converted in registers from the S accumulators to A
 *    fragments (the FA2 register trick), V fragments by ldmatrix.x4.trans.
 *  - softmax in registers: row max and sum over the 4 threads of a quad
 *    (shuffles), per-thread partial sums reduced once at the end, one
 *    rescale of the O accumulators per tile.
 *  - causal: key tiles past the block's diagonal are never loaded; only tiles
 *    crossing the diagonal or the end of S are masked per element; query
 *    blocks are issued longest-first.
 *  - LSE (natural log) written when asked.
 *
 * Parameters (-D, defaults): WARPS=4 (BLOCK_M = 16*WARPS = 64), BLOCK_N=64
 * (keys per tile, multiple of 16), STAGES=2 (K/V ring depth, >= 2).
 * Shared memory: (BLOCK_M + 2*STAGES*BLOCK_N) * D * 2 bytes (80 KB at D=128 defaults).
 * Build: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC -o rung3_mma.so rung3_mma.cu
 */
#include "../common/sm80.cuh"
#include "candidate.cuh"

#ifndef WARPS
#define WARPS 4
#endif
#ifndef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef STAGES
#define STAGES 2
#endif
#define BLOCK_M (16 * WARPS)
#define THREADS (32 * WARPS)
static_assert(WARPS >= 1 && WARPS <= 16, "WARPS in 1..16");
static_assert(BLOCK_N % 16 == 0 && BLOCK_N >= 16 && BLOCK_N <= 256, "BLOCK_N a multiple of 16, <= 256");
static_assert(STAGES >= 2 && STAGES <= 8, "STAGES in 2..8");

static const struct spak_fmha_info g_info = {
    SPAK_FMHA_ABI_VERSION,
    "rung3_mma WARPS=" SPAK_STR(WARPS) " BLOCK_M=" SPAK_STR(BLOCK_M) " BLOCK_N=" SPAK_STR(BLOCK_N)
        " STAGES=" SPAK_STR(STAGES),
    SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16),
    SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128),
    1, 0, 1, 1, 1, 80,
};

/* ---- PTX wrappers: cp.async, ldmatrix, mma16816 in ../common/sm80.cuh ---- */

/* Element offset of 16-byte chunk `c` of row `r` in a [rows][D] swizzled tile. */
template <int D> __device__ __forceinline__ int swz(int r, int c) { return r * D + ((c ^ (r & 7)) << 3); }

/* Copy rows [r0, r0+R) of a [S][D] matrix into a swizzled tile; rows >= S zero. */
template <int D, int R>
__device__ __forceinline__ void load_tile(uint32_t tile, const __half *g, int r0, int S)
{
    constexpr int CH = D / 8; /* 16-byte chunks per row */
#pragma unroll
    for (int e = threadIdx.x; e < R * CH; e += THREADS) {
        int r = e / CH, c = e % CH;
        bool in = r0 + r < S;
        const __half *src = g + (size_t)(in ? r0 + r : 0) * D + c * 8;
        cp_async16(tile + 2 * swz<D>(r, c), src, in ? 16 : 0);
    }
}

template <typename T, int D>
__global__ void __launch_bounds__(THREADS) fa2_kernel(const T *__restrict__ Q, const T *__restrict__ K,
                                                      const T *__restrict__ V, T *__restrict__ O,
                                                      float *__restrict__ lse, int H, int Hkv, int S, int causal,
                                                      float scale)
{
    constexpr int KS = D / 16;       /* k-steps of Q K^T */
    constexpr int NT = BLOCK_N / 8;  /* n-tiles of S */
    constexpr int DT = D / 8;        /* n-tiles of O */
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sQ = smem_u32(smem);
    const uint32_t sKV = sQ + BLOCK_M * D * 2; /* stage s: K at sKV + s*2*BLOCK_N*D*2, V after it */
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t4 = lane & 3;
    const int mblk = gridDim.x - 1 - blockIdx.x; /* causal: longest rows first */
    const int h = blockIdx.y, b = blockIdx.z, hk = h / (H / Hkv);
    const int q0 = mblk * BLOCK_M;
    const __half *Qg = reinterpret_cast<const __half *>(Q) + ((size_t)b * H + h) * S * D;
    const __half *Kg = reinterpret_cast<const __half *>(K) + ((size_t)b * Hkv + hk) * S * D;
    const __half *Vg = reinterpret_cast<const __half *>(V) + ((size_t)b * Hkv + hk) * S * D;
    const float c = scale * SPAK_LOG2E;
    const int kend = causal ? min(S, q0 + BLOCK_M) : S;
    const int ntiles = (kend + BLOCK_N - 1) / BLOCK_N;
    const int row0 = q0 + warp * 16 + g, row1 = row0 + 8; /* this thread's two rows */

    uint32_t qf[KS][4];
    float oacc[DT][4];
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
#pragma unroll
    for (int n = 0; n < DT; n++)
        oacc[n][0] = oacc[n][1] = oacc[n][2] = oacc[n][3] = 0.f;

    load_tile<D, BLOCK_M>(sQ, Qg, q0, S);
    cp_async_commit();
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < ntiles) {
            uint32_t st = sKV + s * 2 * BLOCK_N * D * 2;
            load_tile<D, BLOCK_N>(st, Kg, s * BLOCK_N, S);
            load_tile<D, BLOCK_N>(st + BLOCK_N * D * 2, Vg, s * BLOCK_N, S);
        }
        cp_async_commit();
    }

    for (int it = 0; it < ntiles; it++) {
        const int k0 = it * BLOCK_N;
        __syncthreads(); /* the stage refilled below was read in iteration it-1 */
        {
            int nx = it + STAGES - 1;
            if (nx < ntiles) {
                uint32_t st = sKV + (nx % STAGES) * 2 * BLOCK_N * D * 2;
                load_tile<D, BLOCK_N>(st, Kg, nx * BLOCK_N, S);
                load_tile<D, BLOCK_N>(st + BLOCK_N * D * 2, Vg, nx * BLOCK_N, S);
            }
            cp_async_commit();
        }
        cp_async_wait<STAGES - 1>();
        __syncthreads();
        if (it == 0) {
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                int r = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = kk * 2 + (lane >> 4);
                ldsm_x4(sQ + 2 * swz<D>(r, ch), qf[kk][0], qf[kk][1], qf[kk][2], qf[kk][3]);
            }
        }
        const uint32_t sK = sKV + (it % STAGES) * 2 * BLOCK_N * D * 2, sV = sK + BLOCK_N * D * 2;

        /* S = Q K^T (raw scores, fp32) */
        float sacc[NT][4];
#pragma unroll
        for (int n = 0; n < NT; n++)
            sacc[n][0] = sacc[n][1] = sacc[n][2] = sacc[n][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < KS; kk++) {
#pragma unroll
            for (int np = 0; np < NT / 2; np++) {
                uint32_t b0, b1, b2, b3;
                int r = np * 16 + (lane & 7) + (lane >> 4) * 8, ch = kk * 2 + ((lane >> 3) & 1);
                ldsm_x4(sK + 2 * swz<D>(r, ch), b0, b1, b2, b3);
                mma16816<T>(sacc[2 * np], qf[kk], b0, b1);
                mma16816<T>(sacc[2 * np + 1], qf[kk], b2, b3);
            }
        }

        /* mask: keys past S, keys past the diagonal */
        if (k0 + BLOCK_N > S || (causal && k0 + BLOCK_N - 1 > q0)) {
#pragma unroll
            for (int n = 0; n < NT; n++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    int j = k0 + n * 8 + 2 * t4 + (e & 1), i = e < 2 ? row0 : row1;
                    if (j >= S || (causal && j > i))
                        sacc[n][e] = -INFINITY;
                }
            }
        }

        /* online softmax, base 2, scale folded into the exponent */
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int n = 0; n < NT; n++) {
            mx0 = fmaxf(mx0, fmaxf(sacc[n][0], sacc[n][1]));
            mx1 = fmaxf(mx1, fmaxf(sacc[n][2], sacc[n][3]));
        }
        quad_max2(mx0, mx1);
        const float mc0 = mx0 == -INFINITY ? 0.f : mx0 * c, mc1 = mx1 == -INFINITY ? 0.f : mx1 * c;
        const float corr0 = fast_exp2(m0 * c - mc0), corr1 = fast_exp2(m1 * c - mc1);
        m0 = mx0;
        m1 = mx1;
        l0 *= corr0;
        l1 *= corr1;
#pragma unroll
        for (int n = 0; n < DT; n++) {
            oacc[n][0] *= corr0;
            oacc[n][1] *= corr0;
            oacc[n][2] *= corr1;
            oacc[n][3] *= corr1;
        }
#pragma unroll
        for (int n = 0; n < NT; n++) {
            sacc[n][0] = fast_exp2(fmaf(sacc[n][0], c, -mc0));
            sacc[n][1] = fast_exp2(fmaf(sacc[n][1], c, -mc0));
            sacc[n][2] = fast_exp2(fmaf(sacc[n][2], c, -mc1));
            sacc[n][3] = fast_exp2(fmaf(sacc[n][3], c, -mc1));
            l0 += sacc[n][0] + sacc[n][1];
            l1 += sacc[n][2] + sacc[n][3];
        }

        /* O += P V: P from the S accumulators, V by ldmatrix.trans */
#pragma unroll
        for (int kk = 0; kk < BLOCK_N / 16; kk++) {
            uint32_t pa[4];
            pa[0] = elem<T>::pack2(sacc[2 * kk][0], sacc[2 * kk][1]);
            pa[1] = elem<T>::pack2(sacc[2 * kk][2], sacc[2 * kk][3]);
            pa[2] = elem<T>::pack2(sacc[2 * kk + 1][0], sacc[2 * kk + 1][1]);
            pa[3] = elem<T>::pack2(sacc[2 * kk + 1][2], sacc[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < DT / 2; dp++) {
                uint32_t b0, b1, b2, b3;
                int r = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = dp * 2 + (lane >> 4);
                ldsm_x4_t(sV + 2 * swz<D>(r, ch), b0, b1, b2, b3);
                mma16816<T>(oacc[2 * dp], pa, b0, b1);
                mma16816<T>(oacc[2 * dp + 1], pa, b2, b3);
            }
        }
    }
    cp_async_wait<0>();

    /* epilogue: full row sums (written out, not quad_sum2: through the helper
     * nvcc emits other machine code here), then O normalized and stored, and
     * the LSE (store_rows, candidate.cuh) */
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        l0 += __shfl_xor_sync(0xffffffffu, l0, off);
        l1 += __shfl_xor_sync(0xffffffffu, l1, off);
    }
    store_rows<T, D>(O, lse, b, H, h, S, &oacc[0][0], row0, row1, t4, m0, m1, l0, l1, scale);
}

extern "C" const struct spak_fmha_info *spak_fmha_info(void) { return &g_info; }

template <int D> static constexpr int smem_bytes() { return (BLOCK_M + 2 * STAGES * BLOCK_N) * D * 2; }

template <typename T, int D>
static int launch(int B, int H, int Hkv, int S, int causal, const void *Q, const void *K, const void *V, void *O,
                  float *lse, float scale, cudaStream_t st)
{
    static bool attr_set = false; /* per instantiation: raise the dynamic shared-memory limit once */
    constexpr int sm = smem_bytes<D>();
    if (!attr_set) {
        SPAK_TRY(cudaFuncSetAttribute(fa2_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, sm));
        attr_set = true;
    }
    dim3 grid(spak_cdiv(S, BLOCK_M), H, B);
    fa2_kernel<T, D><<<grid, THREADS, sm, st>>>((const T *)Q, (const T *)K, (const T *)V, (T *)O, lse, H, Hkv, S,
                                                causal, scale);
    return (int)cudaGetLastError();
}

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
    (void)workspace, (void)workspace_bytes;
    if (!spak_fmha_args_ok(&g_info, B, H, Hkv, S, D, causal, dtype))
        return (int)cudaErrorInvalidValue;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        return launch<typename decltype(t)::type, d>(B, H, Hkv, S, causal, Q, K, V, O, lse, scale, stream);
    });
}

extern "C" int spak_fmha_kernel_info(int B, int H, int Hkv, int S, int D, int causal, int dtype,
                                     struct spak_fmha_kinfo *out)
{
    (void)Hkv, (void)causal;
    long long grid = (long long)spak_cdiv(S, BLOCK_M) * H * B;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        return spak_fill_kinfo(fa2_kernel<typename decltype(t)::type, d>, THREADS, smem_bytes<d>(), grid, out);
    });
}
