/*
 * rung5_persistent.cu - GEMM ladder rung 5 (sm_90a): rung 4's warp-specialized
 * producer/consumer kernel made persistent. One CTA per SM (grid = number of
 * SMs, or fewer tiles) walks the output tiles tile = blockIdx.x + i*gridDim.x
 * in a grouped (L2-friendly) order; the mbarrier ring runs on across tiles,
 * so the producer already loads the next tile while the consumers are in the
 * epilogue of the current one, and the pipeline is filled once per CTA, not
 * once per tile.
 * fp16 and bf16 in, fp32 accumulate, same-type out. Layouts: abi.h.
 *
 * With CLUSTER=2 the CTAs run in clusters of two that own vertically
 * adjacent tiles (same B tile): each loads its own A tile and half of the B
 * tile, multicast into both CTAs, halving B's L2->SM traffic. A stage is then
 * free only when the consumers of both CTAs are done with it: each consumer
 * warp arrives on the "empty" barrier of both CTAs (mapa + remote arrive).
 *
 * Epilogue (EPI_TMA=1, the default): each consumer warpgroup converts its
 * 64 x BN fp32 fragments to T into a 16 KB shared buffer (two 64x64 boxes,
 * 128-byte swizzle, conflict-free 4-byte writes) and one thread issues TMA
 * stores (cp.async.bulk.tensor, bulk groups); the warpgroup goes back to the
 * mainloop of its next tile while the stores drain, and waits for the
 * buffer's reads only when it needs it again. TMA clips the boxes at M and N.
 * It needs N % 8 == 0 and a 16-byte aligned C (the tensor map's row pitch);
 * otherwise, and with EPI_TMA=0, stores go straight from registers (guarded).
 *
 * Edges: TMA zero-fills past M, N, K; stores guarded: any M, N.
 * Declared constraint: K % 8 == 0 (TMA 16-byte row pitch).
 *
 * Design/tuning space (-D):
 *   BN       block columns = wgmma N       64, 128, 192, 256   (default 256)
 *   MW       m64 blocks per consumer        1, 2               (default 1)
 *   CONS     consumer warpgroups            1, 2               (default 2)
 *   STAGES   ring depth                     2..8               (default 4)
 *   GROUP_M  tile-order group for L2 reuse  1..32              (default 8)
 *   CLUSTER  CTAs per cluster sharing B     1, 2               (default 2)
 *   MAX_CTAS cap on the persistent grid      0 (= resident CTAs, queried), 64..132
 *   PRODUCER_REGS / CONSUMER_REGS  setmaxnreg values (default 40 / 232)
 *   EPI_TMA  1: TMA-store epilogue through shared memory, 0: register stores (default 1)
 * Build: nvcc -O3 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC rung5_persistent.cu
 */
#include "ws.cuh" /* BN, MW, CONS, PRODUCER_REGS, CONSUMER_REGS, BM, NTHREADS; STAGES, GROUP_M, BK: hopper.cuh */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CLUSTER
#define CLUSTER 2
#endif
#ifndef MAX_CTAS
#define MAX_CTAS 0
#endif
#ifndef EPI_TMA
#define EPI_TMA 1
#endif

#define USE_EPI_TMA (EPI_TMA && MW == 1)
#define EPI_SUB 2                        /* 64x64 boxes per buffer (16 KB) */
#define EPI_BYTES (USE_EPI_TMA ? CONS * EPI_SUB * 8192 : 0)
#define SMEM_BYTES (STAGES * STAGE_BYTES + EPI_BYTES + 1024)
static_assert(CLUSTER == 1 || CLUSTER == 2, "CLUSTER is 1 or 2");
static_assert((BN / CLUSTER) % 8 == 0, "B slices must be whole 8-row swizzle groups");
static_assert(SMEM_BYTES <= 227 * 1024, "shared memory over 227 KB");

template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b)
{
    typedef typename std::conditional<std::is_same<T, __half>::value, __half2, __nv_bfloat162>::type T2;
    T2 v;
    v.x = elem<T>::from_f(a);
    v.y = elem<T>::from_f(b);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* TMA-store epilogue of one warpgroup's 64 x BN fragments (see the header).
 * Fragment rows r = 16*(t/32) + (t%32)/4 and r+8, 8-column block j holds
 * columns 8j + 2*(t%4) (+1): in a 64x64 box with 128 B rows and the 128-byte
 * swizzle, block j%8 of row r sits at 16-byte chunk (j%8) ^ (r%8). */
template <typename T>
__device__ __forceinline__ void epilogue_tma(const CUtensorMap *tmC, unsigned char *buf, const float *d, int t, int bar,
                                             int row0, int col0)
{
    const int r = 16 * (t / 32) + (t % 32) / 4;
    const uint32_t base = smem_u32(buf) + r * 128 + (t % 4) * 4;
#pragma unroll
    for (int p0 = 0; p0 < BN / 64; p0 += EPI_SUB) {
        if (t == 0)
            bulk_wait_read<0>(); /* the previous stores from this buffer have read it */
        named_bar_sync(bar, 128);
#pragma unroll
        for (int q = p0; q < p0 + EPI_SUB && q < BN / 64; q++)
#pragma unroll
            for (int jj = 0; jj < 8; jj++) {
                const int j = q * 8 + jj;
                const uint32_t a = base + (q - p0) * 8192 + ((jj ^ (r % 8)) * 16);
                asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(a), "r"(pack2<T>(d[4 * j + 0], d[4 * j + 1])));
                asm volatile("st.shared.u32 [%0], %1;\n" ::"r"(a + 8 * 128), "r"(pack2<T>(d[4 * j + 2], d[4 * j + 3])));
            }
        fence_proxy_async();
        named_bar_sync(bar, 128);
        if (t == 0) {
#pragma unroll
            for (int q = p0; q < p0 + EPI_SUB && q < BN / 64; q++)
                tma_store_2d(tmC, buf + (q - p0) * 8192, col0 + q * 64, row0);
            bulk_commit();
        }
    }
}

template <typename T>
__global__ void __launch_bounds__(NTHREADS, 1)
    gemm_persistent(int M, int N, int K, const __grid_constant__ CUtensorMap tmA, const __grid_constant__ CUtensorMap tmB,
                    const __grid_constant__ CUtensorMap tmC, int epi_tma, T *__restrict__ C)
{
    extern __shared__ __align__(1024) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t full[STAGES], empty[STAGES];
    unsigned char *smem = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    const int tid = threadIdx.x, wg = tid / 128, t = tid % 128;
    /* clusters walk "column pairs": CLUSTER vertically adjacent tiles, one per CTA */
    const int tiles_m = spak_cdiv(M, BM), tiles_n = spak_cdiv(N, BN);
    const int tiles_mc = spak_cdiv(tiles_m, CLUSTER), ntiles = tiles_mc * tiles_n;
    const int KT = (K + BK - 1) / BK;
    const int rank = CLUSTER > 1 ? (int)cluster_rank() : 0;
    const int first = blockIdx.x / CLUSTER, step = gridDim.x / CLUSTER;

    if (tid == 0) {
        for (int s = 0; s < STAGES; s++) {
            mbar_init(&full[s], 1);
            mbar_init(&empty[s], CONS * 4 * CLUSTER);
        }
        fence_barrier_init();
    }
    if (CLUSTER > 1)
        cluster_sync(); /* the peer's barriers exist before anyone arrives on them */
    else
        __syncthreads();

    if (wg == 0) {
        setmaxnreg_dec<PRODUCER_REGS>();
        if (t == 0) {
            int it = 0;
            for (int tile = first; tile < ntiles; tile += step) {
                int tm, tn;
                grouped_tile(tile, tiles_mc, tiles_n, GROUP_M, tm, tn);
                tm = tm * CLUSTER + rank;
                for (int kt = 0; kt < KT; kt++, it++) {
                    const int s = it % STAGES;
                    mbar_wait(&empty[s], ((it / STAGES) & 1) ^ 1);
                    unsigned char *sa = smem + s * STAGE_BYTES;
                    mbar_expect_tx(&full[s], STAGE_BYTES);
                    tma_load_2d(sa, &tmA, &full[s], kt * BK, tm * BM);
                    if (CLUSTER == 1)
                        tma_load_2d(sa + A_BYTES, &tmB, &full[s], kt * BK, tn * BN);
                    else
                        tma_load_2d_mc(sa + A_BYTES + rank * (BN / CLUSTER) * 128, &tmB, &full[s], kt * BK,
                                       tn * BN + rank * (BN / CLUSTER), (uint16_t)((1u << CLUSTER) - 1));
                }
            }
        }
    } else {
        setmaxnreg_inc<CONSUMER_REGS>();
        const int c = wg - 1;
        /* a stage is free once the consumers of every CTA that it feeds are done */
        auto release = [&](uint64_t *bar) {
            if (CLUSTER == 1)
                mbar_arrive(bar);
            else
                for (int r = 0; r < CLUSTER; r++)
                    mbar_arrive_cluster(bar, (unsigned)r);
        };
        float acc[MW][BN / 2];
        int it = 0;
        for (int tile = first; tile < ntiles; tile += step) {
            int tm, tn;
            grouped_tile(tile, tiles_mc, tiles_n, GROUP_M, tm, tn);
            tm = tm * CLUSTER + rank;
            zero_acc(acc);
            for (int kt = 0; kt < KT; kt++, it++) {
                const int s = it % STAGES;
                mbar_wait(&full[s], (it / STAGES) & 1);
                const uint32_t base = smem_u32(smem + s * STAGE_BYTES);
                const uint32_t sa = base + c * MW * 64 * 128, sb = base + A_BYTES;
                wgmma_tile_step<T, BN, MW, BK>(acc, sa, sb);
                wgmma_wait<1>(); /* the previous group is done: release its stage */
                if (kt > 0 && (t % 32) == 0)
                    release(&empty[(it - 1) % STAGES]);
            }
            wgmma_wait<0>();
            if ((t % 32) == 0)
                release(&empty[(it - 1) % STAGES]);
            if (USE_EPI_TMA && epi_tma) {
                epilogue_tma<T>(&tmC, smem + STAGES * STAGE_BYTES + c * EPI_SUB * 8192, acc[0], t, 1 + c,
                                tm * BM + c * 64, tn * BN);
            } else {
#pragma unroll
                for (int w = 0; w < MW; w++)
                    store_frag<T, BN>(C, M, N, tm * BM + (c * MW + w) * 64, tn * BN, acc[w], t);
            }
        }
        if (USE_EPI_TMA && epi_tma && t == 0)
            bulk_wait<0>(); /* the last stores are complete before the CTA (and its smem) goes */
    }
    /* no CTA may leave while its peer can still arrive on its barriers */
    __syncwarp();
    if (CLUSTER > 1)
        cluster_sync();
}

static const struct spak_gemm_info g_info = {
    SPAK_GEMM_ABI_VERSION,
    "rung5_persistent BN=" SPAK_STR(BN) " MW=" SPAK_STR(MW) " CONS=" SPAK_STR(CONS) " STAGES=" SPAK_STR(STAGES) " GROUP_M=" SPAK_STR(GROUP_M) " CLUSTER=" SPAK_STR(CLUSTER) " EPI_TMA=" SPAK_STR(EPI_TMA),
    SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16),
    1, 1, 8, 90};

extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

/* A launch of `grid` CTAs of this kernel (NTHREADS threads, SMEM_BYTES of
 * dynamic shared memory) on stream s, in clusters of CLUSTER along x; *cfg
 * points into at (one attribute), which must outlive it. */
static void cluster_config(cudaLaunchConfig_t *cfg, cudaLaunchAttribute at[1], unsigned grid, cudaStream_t s)
{
    *cfg = cudaLaunchConfig_t{};
    cfg->gridDim = dim3(grid, 1, 1);
    cfg->blockDim = dim3(NTHREADS, 1, 1);
    cfg->dynamicSmemBytes = SMEM_BYTES;
    cfg->stream = s;
    at[0].id = cudaLaunchAttributeClusterDimension;
    at[0].val.clusterDim.x = CLUSTER;
    at[0].val.clusterDim.y = 1;
    at[0].val.clusterDim.z = 1;
    cfg->attrs = at;
    cfg->numAttrs = 1;
}

/* How many CTAs can be resident at once: one per SM, and with clusters only
 * as many clusters as the GPCs can hold (on an H100 fewer than SMs/2, since
 * GPCs have odd SM counts): launching more would run the surplus clusters as
 * a second wave and double the time. */
template <typename T> static int resident_ctas(void)
{
    static int n = 0;
    if (!n) {
        int dev = 0, sms = 132;
        if (cudaGetDevice(&dev) == cudaSuccess)
            cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
        n = sms;
        if (CLUSTER > 1) {
            cudaLaunchConfig_t cfg;
            cudaLaunchAttribute at[1];
            int nc = 0;
            cluster_config(&cfg, at, CLUSTER, 0);
            if (cudaFuncSetAttribute(gemm_persistent<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES) ==
                    cudaSuccess &&
                cudaOccupancyMaxActiveClusters(&nc, gemm_persistent<T>, &cfg) == cudaSuccess && nc > 0)
                n = nc * CLUSTER < sms ? nc * CLUSTER : sms - sms % CLUSTER;
            else
                n = sms - sms % CLUSTER;
            if (getenv("SPAK_GEMM_DEBUG"))
                fprintf(stderr, "rung5: max active clusters %d (%s), resident CTAs %d\n", nc,
                        cudaGetErrorString(cudaGetLastError()), n);
        }
        if (MAX_CTAS > 0 && MAX_CTAS < n)
            n = MAX_CTAS - MAX_CTAS % CLUSTER;
    }
    return n;
}

/* whole clusters, never more CTAs than can be resident */
template <typename T> static long long grid_of(int M, int N)
{
    long long clusters = (long long)spak_cdiv(spak_cdiv(M, BM), CLUSTER) * spak_cdiv(N, BN);
    long long most = resident_ctas<T>() / CLUSTER;
    return (clusters < most ? clusters : most) * CLUSTER;
}

template <typename T>
static int launch(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    CUtensorMap ma, mb, mc;
    int r, epi = 0;
    if ((long long)spak_cdiv(M, BM) * spak_cdiv(N, BN) > 0x7fffffffLL)
        return (int)cudaErrorInvalidValue;
    if ((r = spak_make_map(&ma, A, M, K, BM, dtype)) || (r = spak_make_map(&mb, B, N, K, BN / CLUSTER, dtype)))
        return r;
    memset(&mc, 0, sizeof mc);
    /* the TMA store needs a 16-byte row pitch and base; else register stores */
    if (USE_EPI_TMA && N % 8 == 0 && ((uintptr_t)C % 16) == 0)
        epi = spak_make_map(&mc, C, M, N, 64, dtype) == 0;
    SPAK_TRY(cudaFuncSetAttribute(gemm_persistent<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
    if (CLUSTER == 1) {
        gemm_persistent<T><<<(unsigned)grid_of<T>(M, N), NTHREADS, SMEM_BYTES, s>>>(M, N, K, ma, mb, mc, epi, (T *)C);
    } else {
        cudaLaunchConfig_t cfg;
        cudaLaunchAttribute at[1];
        cluster_config(&cfg, at, (unsigned)grid_of<T>(M, N), s);
        SPAK_TRY(cudaLaunchKernelEx(&cfg, gemm_persistent<T>, M, N, K, ma, mb, mc, epi, (T *)C));
    }
    return (int)cudaGetLastError();
}

template <typename T> static int kernel_info(int M, int N, struct spak_gemm_kinfo *o)
{
    return spak_fill_kinfo(gemm_persistent<T>, NTHREADS, SMEM_BYTES, grid_of<T>(M, N), o);
}
