/*
 * rung3_wgmma.cu - GEMM ladder rung 3 (sm_90a): wgmma.mma_async with both
 * operands in shared memory, loaded by TMA (cp.async.bulk.tensor, 128-byte
 * swizzle) into a STAGES-deep ring guarded by mbarriers; one warpgroup
 * (128 threads) both issues the loads (thread 0) and consumes them.
 * fp16 and bf16 in, fp32 accumulate, same-type out. Layouts: abi.h.
 *
 * Per k-tile (64 wide): wait for the stage's mbarrier, issue 4 x MW wgmma
 * (m64nBNk16), commit, wait until at most one group is in flight (so the
 * previous stage is free), barrier, refill that stage with the tile
 * STAGES-1 ahead. Epilogue: fragments straight to global, bounds-checked.
 *
 * Edges: TMA zero-fills boxes past M, N or K; stores are guarded, so any M, N
 * work. Declared constraint: K % 8 == 0 (TMA needs 16-byte row pitch).
 *
 * Design/tuning space (-D):
 *   BN       block columns = wgmma N        64, 128, 192, 256 (default 128)
 *   MW       m64 blocks per warpgroup        1, 2             (default 2; BM = 64*MW)
 *            (accumulators MW*BN/2 per thread: keep <= 128)
 *   STAGES   TMA ring depth                  2..8             (default 4)
 *   GROUP_M  raster group for L2 reuse       1..16            (default 8)
 * Build: nvcc -O3 -arch=sm_90a -shared -Xcompiler -fPIC -o rung3.so rung3_wgmma.cu
 */
#include "hopper.cuh"

#ifndef BN
#define BN 128
#endif
#ifndef MW
#define MW 2
#endif
/* STAGES, GROUP_M (defaults), BK and the stage layout: hopper.cuh */

#define BM (64 * MW)
#define SMEM_BYTES (STAGES * STAGE_BYTES + 1024)
static_assert(BN % 64 == 0 && BN <= 256, "BN in 64..256, multiple of 64");
static_assert(MW * BN / 2 <= 192, "too many accumulators per thread");
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory over 227 KB");

template <typename T>
__global__ void __launch_bounds__(128, 1) gemm_wgmma(int M, int N, int K, const __grid_constant__ CUtensorMap tmA,
                                                    const __grid_constant__ CUtensorMap tmB, T *__restrict__ C)
{
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t full[STAGES];
    unsigned char *smem = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    const int tid = threadIdx.x;
    int tm, tn;
    grouped_tile(blockIdx.x, spak_cdiv(M, BM), spak_cdiv(N, BN), GROUP_M, tm, tn);
    const int m0 = tm * BM, n0 = tn * BN;
    const int KT = (K + BK - 1) / BK;

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++)
            mbar_init(&full[s], 1);
        fence_barrier_init();
    }
    __syncthreads();

    auto issue = [&](int kt) {
        int s = kt % STAGES;
        tma_load_stage(smem + s * STAGE_BYTES, &full[s], &tmA, &tmB, kt * BK, m0, n0, A_BYTES, B_BYTES);
    };
    if (tid == 0)
        for (int kt = 0; kt < STAGES - 1 && kt < KT; kt++)
            issue(kt);

    float acc[MW][BN / 2];
    zero_acc(acc);

    for (int kt = 0; kt < KT; kt++) {
        const int s = kt % STAGES;
        mbar_wait(&full[s], (kt / STAGES) & 1);
        const uint32_t sa = smem_u32(smem + s * STAGE_BYTES), sb = sa + A_BYTES;
        wgmma_tile_step<T, BN, MW, BK>(acc, sa, sb);
        wgmma_wait<1>(); /* group kt-1 is done: its stage may be refilled */
        __syncthreads();
        if (tid == 0 && kt + STAGES - 1 < KT)
            issue(kt + STAGES - 1);
    }
    wgmma_wait<0>();
#pragma unroll
    for (int w = 0; w < MW; w++)
        store_frag<T, BN>(C, M, N, m0 + 64 * w, n0, acc[w], tid);
}

static const struct spak_gemm_info g_info = {
    SPAK_GEMM_ABI_VERSION,
    "rung3_wgmma BN=" SPAK_STR(BN) " MW=" SPAK_STR(MW) " STAGES=" SPAK_STR(STAGES) " GROUP_M=" SPAK_STR(GROUP_M),
    SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16),
    1, 1, 8, 90};

extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

template <typename T>
static int launch(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    return launch_tiles<T>(gemm_wgmma<T>, 128, SMEM_BYTES, BM, BN, M, N, K, dtype, A, B, C, s);
}

template <typename T> static int kernel_info(int M, int N, struct spak_gemm_kinfo *o)
{
    return spak_fill_kinfo(gemm_wgmma<T>, 128, SMEM_BYTES, (long long)spak_cdiv(M, BM) * spak_cdiv(N, BN), o);
}
