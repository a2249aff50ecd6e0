/*
 * rung4_ws.cu - GEMM ladder rung 4 (sm_90a): warp specialization. One
 * producer warpgroup (one thread issues TMA; registers given back with
 * setmaxnreg.dec) and CONS consumer warpgroups (setmaxnreg.inc) that run
 * wgmma.mma_async on a STAGES-deep shared-memory ring. Each stage has a
 * "full" mbarrier (TMA transaction count) and an "empty" mbarrier (one
 * arrival per consumer warp), so loads run ahead of the math by up to STAGES
 * k-tiles without any block-wide barrier in the main loop.
 * fp16 and bf16 in, fp32 accumulate, same-type out. Layouts: abi.h.
 *
 * Block tile BM x BN with BM = CONS * MW * 64: consumer c owns rows
 * [c*MW*64, (c+1)*MW*64) and all BN columns (MW wgmma m64nBNk16 per k16).
 *
 * Edges: TMA zero-fills past M, N, K; stores guarded: any M, N.
 * Declared constraint: K % 8 == 0 (TMA 16-byte row pitch).
 *
 * Design/tuning space (-D):
 *   BN       block columns = wgmma N       64, 128, 192, 256   (default 256)
 *   MW       m64 blocks per consumer        1, 2               (default 1)
 *   CONS     consumer warpgroups            1, 2               (default 2)
 *            (BM = CONS*MW*64 <= 256; accumulators MW*BN/2 per thread <= 128 advised)
 *   STAGES   ring depth                     2..8               (default 4; smem-bound)
 *   GROUP_M  raster group for L2 reuse      1..16              (default 8)
 *   PRODUCER_REGS / CONSUMER_REGS  setmaxnreg values (default 40 / 232)
 * Build: nvcc -O3 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC rung4_ws.cu
 */
#include "ws.cuh" /* BN, MW, CONS, PRODUCER_REGS, CONSUMER_REGS, BM, NTHREADS; STAGES, GROUP_M, BK: hopper.cuh */

#define SMEM_BYTES (STAGES * STAGE_BYTES + 1024)
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory over 227 KB");

template <typename T>
__global__ void __launch_bounds__(NTHREADS, 1) gemm_ws(int M, int N, int K, const __grid_constant__ CUtensorMap tmA,
                                                      const __grid_constant__ CUtensorMap tmB, T *__restrict__ C)
{
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t full[STAGES], empty[STAGES];
    unsigned char *smem = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    const int tid = threadIdx.x, wg = tid / 128, t = tid % 128;
    int tm, tn;
    grouped_tile(blockIdx.x, spak_cdiv(M, BM), spak_cdiv(N, BN), GROUP_M, tm, tn);
    const int m0 = tm * BM, n0 = tn * BN;
    const int KT = (K + BK - 1) / BK;

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], CONS * 4);
        }
        fence_barrier_init();
    }
    __syncthreads();

    if (wg == 0) {
        setmaxnreg_dec<PRODUCER_REGS>();
        if (t == 0) {
            for (int kt = 0; kt < KT; kt++) {
                const int s = kt % STAGES;
                mbar_wait(&empty[s], ((kt / STAGES) & 1) ^ 1);
                tma_load_stage(smem + s * STAGE_BYTES, &full[s], &tmA, &tmB, kt * BK, m0, n0, A_BYTES, B_BYTES);
            }
        }
    } else {
        setmaxnreg_inc<CONSUMER_REGS>();
        const int c = wg - 1;
        float acc[MW][BN / 2];
        zero_acc(acc);
        for (int kt = 0; kt < KT; kt++) {
            const int s = kt % STAGES;
            mbar_wait(&full[s], (kt / STAGES) & 1);
            const uint32_t sa = smem_u32(smem + s * STAGE_BYTES) + c * MW * 64 * 128, sb = smem_u32(smem + s * STAGE_BYTES) + A_BYTES;
            wgmma_tile_step<T, BN, MW, BK>(acc, sa, sb);
            wgmma_wait<1>(); /* group kt-1 done: release its stage */
            if (kt > 0 && (t % 32) == 0)
                mbar_arrive(&empty[(kt - 1) % STAGES]);
        }
        wgmma_wait<0>();
#pragma unroll
        for (int w = 0; w < MW; w++)
            store_frag<T, BN>(C, M, N, m0 + (c * MW + w) * 64, n0, acc[w], t);
    }
}

static const struct spak_gemm_info g_info = {
    SPAK_GEMM_ABI_VERSION,
    "rung4_ws BN=" SPAK_STR(BN) " MW=" SPAK_STR(MW) " CONS=" SPAK_STR(CONS) " STAGES=" SPAK_STR(STAGES) " GROUP_M=" SPAK_STR(GROUP_M),
    SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16),
    1, 1, 8, 90};

extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

template <typename T>
static int launch(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    return launch_tiles<T>(gemm_ws<T>, NTHREADS, SMEM_BYTES, BM, BN, M, N, K, dtype, A, B, C, s);
}

template <typename T> static int kernel_info(int M, int N, struct spak_gemm_kinfo *o)
{
    return spak_fill_kinfo(gemm_ws<T>, NTHREADS, SMEM_BYTES, (long long)spak_cdiv(M, BM) * spak_cdiv(N, BN), o);
}
