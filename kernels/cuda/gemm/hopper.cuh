/*
 * hopper.cuh - sm_90a building blocks for the GEMM's wgmma rungs (3, 4, 5):
 * those every family uses (../common/sm90.cuh: mbarrier, wgmma descriptors and
 * fences, setmaxnreg), and here TMA (cp.async.bulk.tensor, 2-D, multicast,
 * store), clusters, the tensor-map encoder reached through the runtime (no
 * -lcuda) and the register-fragment epilogue; the
 * parameters and the stage layout the rungs' TMA rings share, their launch
 * and the ABI entry points around it.
 * Written from the PTX ISA description of these instructions.
 */
#ifndef SPAK_GEMM_HOPPER_CUH
#define SPAK_GEMM_HOPPER_CUH

#include "../common/sm90.cuh"
#include "candidate.cuh"
#include "../common/wgmma_ops.cuh"

/* ---- the ring's parameters ---------------------------------------------- */
/* Defaults of the tuning parameters every TMA-ring rung has (-D overrides):
 * STAGES, the ring's depth, and GROUP_M, the raster group (grouped_tile).
 * The stage layout is fixed: BK = 64 k per tile row (128 bytes of 16-bit
 * values, one row of the 128-byte swizzle that spak_make_map's box and
 * wgmma_desc assume); a stage holds A's BM rows, then B's BN rows. Each rung
 * defines BM and BN (and its shared-memory total, SMEM_BYTES). */
#ifndef STAGES
#define STAGES 4
#endif
#ifndef GROUP_M
#define GROUP_M 8
#endif
#define BK 64
#define A_BYTES (BM * BK * 2)
#define B_BYTES (BN * BK * 2)
#define STAGE_BYTES (A_BYTES + B_BYTES)

/* ---- TMA ---------------------------------------------------------------- */
/* 2D tile load: box at (c0 = k element, c1 = row) into dst, completing tx bytes on bar. */
__device__ __forceinline__ void tma_load_2d(void *dst, const CUtensorMap *map, uint64_t *bar, int c0, int c1)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], "
                 "[%2];\n" ::"r"(smem_u32(dst)),
                 "l"((uint64_t)map), "r"(smem_u32(bar)), "r"(c0), "r"(c1)
                 : "memory");
}

/* Multicast variant: the box lands at the same smem offset in every CTA of
 * the cluster named in mask, and completes tx bytes on each one's barrier at
 * the same offset. */
__device__ __forceinline__ void tma_load_2d_mc(void *dst, const CUtensorMap *map, uint64_t *bar, int c0, int c1,
                                               uint16_t mask)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster "
                 "[%0], [%1, {%3, %4}], [%2], %5;\n" ::"r"(smem_u32(dst)),
                 "l"((uint64_t)map), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "h"(mask)
                 : "memory");
}

/* TMA store: the box at (c0 = column, c1 = row) of the map's tensor from
 * shared memory (same swizzle as the map); rows/columns past the tensor's
 * extent are not written. Completion is tracked by bulk groups. */
__device__ __forceinline__ void tma_store_2d(const CUtensorMap *map, const void *src, int c0, int c1)
{
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%2, %3}], [%1];\n" ::"l"((uint64_t)map),
                 "r"(smem_u32(src)), "r"(c0), "r"(c1)
                 : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
/* the shared-memory sources of all but the newest N groups have been read */
template <int N> __device__ __forceinline__ void bulk_wait_read()
{
    asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
/* all but the newest N groups are complete (their writes done) */
template <int N> __device__ __forceinline__ void bulk_wait() { asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory"); }
/* generic-proxy smem writes -> visible to the async proxy (TMA, wgmma) */
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
/* barrier among `n` threads (a warpgroup) on named barrier `id` (1..15) */
__device__ __forceinline__ void named_bar_sync(int id, int n)
{
    asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}

/* ---- clusters ------------------------------------------------------------ */
__device__ __forceinline__ unsigned cluster_rank()
{
    unsigned r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
/* All threads of all CTAs of the cluster (also a CTA-wide barrier). */
__device__ __forceinline__ void cluster_sync()
{
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
/* Arrive on the mbarrier at the same offset in CTA `rank` of the cluster. */
__device__ __forceinline__ void mbar_arrive_cluster(uint64_t *bar, unsigned rank)
{
    uint32_t remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(remote) : "r"(smem_u32(bar)), "r"(rank));
    /* default .release.cta semantics: the consumer only has to order its own
     * (already completed) wgmma reads before the producer's next write; a
     * .release.cluster arrive costs a cluster-scope fence per k-tile. */
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];\n" ::"r"(remote) : "memory");
}

/* ---- epilogue: wgmma m64nN fp32 fragments -> C (bounds-checked) ----------
 * Thread t of the warpgroup holds, for each 8-column block j, rows
 * 16*(t/32) + (t%32)/4 (+8) and columns 8j + 2*(t%4) (+1):
 * d[4j+0..1] -> row r, d[4j+2..3] -> row r+8. */
template <typename T, int BN_>
__device__ __forceinline__ void store_frag(T *C, int M, int N, int row0, int col0, const float *d, int t)
{
    const int r = row0 + 16 * (t / 32) + (t % 32) / 4;
    const int c = col0 + 2 * (t % 4);
#pragma unroll
    for (int j = 0; j < BN_ / 8; j++) {
        store2<T>(C, M, N, r, c + 8 * j, d[4 * j + 0], d[4 * j + 1]);
        store2<T>(C, M, N, r + 8, c + 8 * j, d[4 * j + 2], d[4 * j + 3]);
    }
}

/* ---- host: tensor maps ---------------------------------------------------- */
/* A rows x K matrix, K contiguous, 16-bit elements; boxes of 64 (k) x box_rows
 * with 128B swizzle. Out-of-range boxes are zero-filled by the hardware. */
static int spak_make_map(CUtensorMap *map, const void *ptr, long long rows, long long K, int box_rows, int dtype)
{
    PFN_cuTensorMapEncodeTiled_v12000 enc = spak_encode_fn();
    cuuint64_t dims[2] = {(cuuint64_t)K, (cuuint64_t)rows};
    cuuint64_t strides[1] = {(cuuint64_t)K * 2};
    cuuint32_t box[2] = {64, (cuuint32_t)box_rows};
    cuuint32_t estr[2] = {1, 1};
    if (!enc)
        return (int)cudaErrorNotSupported;
    CUresult r = enc(map, dtype == SPAK_DT_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 2,
                     const_cast<void *>(ptr), dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                     CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? 0 : (int)cudaErrorInvalidValue;
}

/* ---- the main loop ------------------------------------------------------ */
/* The producer's part of stage `stage` (its mbarrier full): k-tile k0 of A's
 * rows from m0 and of B's rows from n0, a_bytes and b_bytes of it, by TMA. */
__device__ __forceinline__ void tma_load_stage(unsigned char *stage, uint64_t *full, const CUtensorMap *tmA,
                                               const CUtensorMap *tmB, int k0, int m0, int n0, int a_bytes,
                                               int b_bytes)
{
    mbar_expect_tx(full, a_bytes + b_bytes);
    tma_load_2d(stage, tmA, full, k0, m0);
    tma_load_2d(stage + a_bytes, tmB, full, k0, n0);
}

/* All of a warpgroup's accumulators to zero (a tile's start). */
template <int MW_, int N_> __device__ __forceinline__ void zero_acc(float (&acc)[MW_][N_])
{
#pragma unroll
    for (int w = 0; w < MW_; w++)
#pragma unroll
        for (int i = 0; i < N_; i++)
            acc[w][i] = 0.f;
}


/* One stage of the K loop for a warpgroup's MW row blocks of 64 x BN: the
 * wgmmas over the stage's A (at sa, MW blocks of 64 rows) and B (at sb),
 * BK deep, fenced before and committed as one group after. */
template <typename T, int BN_, int MW_, int BK_>
__device__ __forceinline__ void wgmma_tile_step(float (&acc)[MW_][BN_ / 2], uint32_t sa, uint32_t sb)
{
    wgmma_fence();
#pragma unroll
    for (int k = 0; k < BK_ / 16; k++)
#pragma unroll
        for (int w = 0; w < MW_; w++)
            wgmma_op<BN_, std::is_same<T, __nv_bfloat16>::value>::run(acc[w], wgmma_desc(sa + w * 64 * 128 + k * 32),
                                                                      wgmma_desc(sb + k * 32), 1);
    wgmma_commit();
}

/* ---- host: the launch of a kernel over C's tiles -------------------------- */
/* One block per BM x BN tile of C (bm x bn): TMA maps of A (boxes of bm rows)
 * and B (bn rows), the kernel's dynamic shared memory raised to smem, then
 * kernel<<<tiles, threads, smem, s>>>(M, N, K, map A, map B, C). Returns 0
 * or a cudaError_t. */
template <typename T>
static int launch_tiles(void (*kernel)(int, int, int, const CUtensorMap, const CUtensorMap, T *), int threads,
                        int smem, int bm, int bn, int M, int N, int K, int dtype, const void *A, const void *B,
                        void *C, cudaStream_t s)
{
    CUtensorMap ma, mb;
    int r;
    if ((r = spak_make_map(&ma, A, M, K, bm, dtype)) || (r = spak_make_map(&mb, B, N, K, bn, dtype)))
        return r;
    long long blocks = (long long)spak_cdiv(M, bm) * spak_cdiv(N, bn);
    SPAK_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    kernel<<<(unsigned)blocks, threads, smem, s>>>(M, N, K, ma, mb, (T *)C);
    return (int)cudaGetLastError();
}

/* ---- the ABI entry points ------------------------------------------------ */
/* Each wgmma rung defines launch<T>, its kernel's launch for one 16-bit
 * input type, and kernel_info<T>, its kernel's spak_gemm_kinfo; the
 * argument checks and the type dispatch are the same. */
template <typename T>
static int launch(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s);
template <typename T> static int kernel_info(int M, int N, struct spak_gemm_kinfo *o);

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (M <= 0 || N <= 0 || K <= 0 || K % 8)
        return (int)cudaErrorInvalidValue;
    if (dtype == SPAK_DT_BF16)
        return launch<__nv_bfloat16>(M, N, K, dtype, A, B, C, s);
    if (dtype == SPAK_DT_F16)
        return launch<__half>(M, N, K, dtype, A, B, C, s);
    return (int)cudaErrorInvalidValue;
}

extern "C" int spak_gemm_kernel_info(int M, int N, int K, int dtype, struct spak_gemm_kinfo *o)
{
    (void)K;
    if (dtype == SPAK_DT_BF16)
        return kernel_info<__nv_bfloat16>(M, N, o);
    if (dtype == SPAK_DT_F16)
        return kernel_info<__half>(M, N, o);
    return (int)cudaErrorInvalidValue;
}

#endif
