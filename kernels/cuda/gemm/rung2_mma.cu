/*
 * rung2_mma.cu - GEMM ladder rung 2: tensor cores through mma.sync
 * (m16n8k16, fp32 accumulate) fed by ldmatrix from XOR-swizzled shared
 * memory, filled by a STAGES-deep cp.async pipeline. fp16 and bf16.
 * fp32 SGEMM (tensor cores would mean TF32, which the precision contract
 * forbids) takes the SIMT path of this rung: 128x128 block, 8x8 outputs per
 * thread as 2x2 sub-tiles of 4x4 (conflict-free float4 smem reads), register
 * prefetch of the next k-tile and double-buffered shared memory.
 * Layouts: abi.h (A row-major MxK, B column-major KxN, C row-major MxN).
 *
 * Edges: rows/columns past M or N and k past K are zero-filled by cp.async
 * (src-size 0) or guarded loads, stores are guarded, so any M and N work.
 * Declared constraint: K % 8 == 0 (16-byte aligned rows for cp.async / float4).
 *
 * Design/tuning space (-D), 16-bit path:
 *   BM      block rows                 64, 128, 256        (default 128)
 *   BN      block columns              64, 128, 256        (default 128)
 *   BK      k per stage                32, 64              (default 32)
 *   WM, WN  warps along M and N        WM*WN in 4..8; (BM/WM)%16==0, (BN/WN)%16==0
 *                                      (default 2 x 4: warp tile 64x32)
 *   STAGES  cp.async pipeline depth    2..6                (default 4)
 *   GROUP_M block-raster group (L2)    1, 4, 8, 16         (default 8)
 * fp32 path:
 *   SBK     k per stage                8, 16, 32           (default 32)
 *   SWARP   thread->tile map: 0 = 2x16 threads per warp, 1 = 4x8   (default 1)
 *   SFRAG2  1: double-buffer the k-step fragments in registers      (default 1)
 *   SMINB   min blocks per SM (launch bounds: caps registers) 1, 2 (default 2)
 *   SXOR    1: bank-conflict-free transposed store (each warp stages 16
 *           rows x 2 k-quads instead of 8 rows x 4)                (default 0)
 *   SBK=32  k per stage 32: the next tile is staged through registers in
 *           four phases of one float4 per operand (load phase p before step
 *           8p, store it after step 8p+7): 8 staging registers instead of 16,
 *           no spills at 128; dynamic shared memory (66 KB per block)
 *   SSTG    float4 per operand per staging phase (default: 1 at SBK=32, else 2)
 * Build: nvcc -O3 -arch=sm_90a -shared -Xcompiler -fPIC -o rung2.so rung2_mma.cu
 */
#include "../common/sm80.cuh"
#include "candidate.cuh"

#ifndef BM
#define BM 128
#endif
#ifndef BN
#define BN 128
#endif
#ifndef BK
#define BK 32
#endif
#ifndef WM
#define WM 2
#endif
#ifndef WN
#define WN 4
#endif
#ifndef STAGES
#define STAGES 4
#endif
#ifndef GROUP_M
#define GROUP_M 8
#endif
#ifndef SBK
#define SBK 32
#endif

#define NWARPS (WM * WN)
#define NTHREADS (NWARPS * 32)
#define WTM (BM / WM)          /* warp tile rows */
#define WTN (BN / WN)          /* warp tile columns */
#define FM (WTM / 16)          /* m16 fragments per warp */
#define FN (WTN / 8)           /* n8 fragments per warp */
#define CHUNKS (BK * 2 / 16)   /* 16-byte chunks per smem row */
static_assert(WTM % 16 == 0 && WTN % 16 == 0, "warp tile must be a multiple of 16x16");
static_assert(CHUNKS == 4 || CHUNKS == 8, "BK must be 32 or 64");
static_assert(STAGES >= 2 && STAGES <= 8, "STAGES in 2..8");

#define STAGE_ELEMS ((BM + BN) * BK)
#define SMEM_BYTES (STAGES * STAGE_ELEMS * 2)

/* 16-byte chunk c of row r lives at chunk c ^ f(r): the 8 rows an ldmatrix
 * phase reads land in 8 different 16-byte bank groups. */
__device__ __forceinline__ int swz(int r, int c) { return c ^ ((r / (8 / CHUNKS)) % CHUNKS); }

template <typename T>
__global__ void __launch_bounds__(NTHREADS) gemm_mma(int M, int N, int K, const T *__restrict__ A,
                                                    const T *__restrict__ B, T *__restrict__ C)
{
    extern __shared__ __align__(128) unsigned char smem_raw[];
    const uint32_t smem = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WN, wn = warp % WN;
    int tm, tn;
    grouped_tile(blockIdx.x, spak_cdiv(M, BM), spak_cdiv(N, BN), GROUP_M, tm, tn); /* candidate.cuh */
    const int m0 = tm * BM, n0 = tn * BN;
    const int KT = (K + BK - 1) / BK;

    float acc[FM][FN][4];
#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int j = 0; j < FN; j++)
#pragma unroll
            for (int c = 0; c < 4; c++)
                acc[i][j][c] = 0.f;

    /* stage s: A rows [0,BM) then B rows [0,BN), each row BK elements (CHUNKS x 16 B) */
    auto load_tile = [&](int kt, int s) {
        const uint32_t base = smem + s * STAGE_ELEMS * 2;
        const int k0 = kt * BK;
        for (int e = tid; e < (BM + BN) * CHUNKS; e += NTHREADS) {
            int r = e / CHUNKS, c = e % CHUNKS;
            int gk = k0 + c * 8;
            const T *src;
            bool ok;
            if (r < BM) {
                int gm = m0 + r;
                ok = gm < M && gk < K;
                src = ok ? A + (size_t)gm * K + gk : A;
            } else {
                int gn = n0 + (r - BM);
                ok = gn < N && gk < K;
                src = ok ? B + (size_t)gn * K + gk : B;
            }
            cp_async16(base + (r * CHUNKS + swz(r, c)) * 16, src, ok ? 16 : 0);
        }
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT)
            load_tile(s, s);
        cp_async_commit();
    }

    for (int kt = 0; kt < KT; kt++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        {
            int nk = kt + STAGES - 1;
            if (nk < KT)
                load_tile(nk, nk % STAGES);
            cp_async_commit();
        }
        const uint32_t sA = smem + (kt % STAGES) * STAGE_ELEMS * 2;
        const uint32_t sB = sA + BM * BK * 2;
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            uint32_t af[FM][4], bf[FN][2];
#pragma unroll
            for (int i = 0; i < FM; i++) {
                int r = wm * WTM + i * 16 + (lane % 16);
                int c = ks * 2 + lane / 16;
                ldsm_x4(sA + (r * CHUNKS + swz(r, c)) * 16, af[i][0], af[i][1], af[i][2], af[i][3]);
            }
#pragma unroll
            for (int j = 0; j < FN; j += 2) {
                int r = wn * WTN + j * 8 + (lane / 16) * 8 + (lane % 8);
                int c = ks * 2 + (lane / 8) % 2;
                ldsm_x4(sB + (r * CHUNKS + swz(r, c)) * 16, bf[j][0], bf[j][1], bf[j + 1][0], bf[j + 1][1]);
            }
#pragma unroll
            for (int i = 0; i < FM; i++)
#pragma unroll
                for (int j = 0; j < FN; j++)
                    mma16816<T>(acc[i][j], af[i], bf[j][0], bf[j][1]);
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int i = 0; i < FM; i++)
#pragma unroll
        for (int j = 0; j < FN; j++) {
            int r = m0 + wm * WTM + i * 16 + lane / 4;
            int c = n0 + wn * WTN + j * 8 + (lane % 4) * 2;
            store2<T>(C, M, N, r, c, acc[i][j][0], acc[i][j][1]);
            store2<T>(C, M, N, r + 8, c, acc[i][j][2], acc[i][j][3]);
        }
}

/* ---- fp32 SIMT path ---------------------------------------------------- */
#define SBM 128
#define SBN 128
#define SPAD 4
#ifndef SFRAG2
#define SFRAG2 1
#endif
#ifndef SWARP
#define SWARP 1
#endif
#ifndef SMINB
#define SMINB 2
#endif
#ifndef SXOR
#define SXOR 0
#endif
#define SSUB (SBK < 16 ? SBK : 16) /* k per register-staged chunk */
#ifndef SSTG /* float4 per operand staged per phase: all of a 16-k chunk (2), or 1 at SBK=32 (8 registers fewer) */
#define SSTG (SBK > 16 ? 1 : SBM * SSUB / 4 / 256)
#endif
static_assert(SBK == 8 || SBK == 16 || SBK == 32, "SBK 8, 16 or 32");
#define SDYN (SBK > 16) /* 2 x SBK x 132 x 4 B x 2 over 48 KB: dynamic shared memory */
#define SG_SMEM_BYTES (2 * 2 * SBK * (SBM + SPAD) * 4)
/* staged float4 number e (0..SBM*SSUB/4-1) -> row r of the tile, k offset k4 */
static __device__ __forceinline__ void sg_map(int e, int &r, int &k4)
{
#if SXOR && SSUB == 16
    /* a warp takes 16 rows x 2 k-quads (32-byte row segments: whole sectors).
     * Its transposed store As[k4 + c][r] hits bank (16 q + 4 c + r) mod 32
     * (row pitch 132 words): 16 rows x q in {2p, 2p+1} = 32 distinct banks.
     * The plain map (8 rows x 4 quads) puts q = 0, 2 (and 1, 3) in one bank: 2-way. */
    const int w = e >> 5, lane = e & 31;
    r = (w & 7) * 16 + (lane & 15);
    k4 = ((w >> 3) * 2 + (lane >> 4)) * 4;
#else
    r = e / (SSUB / 4);
    k4 = (e % (SSUB / 4)) * 4;
#endif
}
/* this thread's place: tx, ty in the 16x16 thread grid, the block's tile origin m0, n0 */
static __device__ __forceinline__ void sg_coords(int tid, int bid, int M, int N, int &tx, int &ty, int &m0, int &n0)
{
#if SWARP
    /* warp = 4 (ty) x 8 (tx) threads: per k step a warp reads 4 distinct A and
     * 8 distinct B float4 (one shared-memory wavefront each) instead of 2 and 16 */
    tx = (tid / 32 % 2) * 8 + tid % 8, ty = (tid / 64) * 4 + tid % 32 / 8;
#else
    tx = tid % 16, ty = tid / 16;
#endif
    /* same grouped raster as the 16-bit path */
    int tm, tn;
    grouped_tile(bid, spak_cdiv(M, SBM), spak_cdiv(N, SBN), GROUP_M, tm, tn);
    m0 = tm * SBM;
    n0 = tn * SBN;
}
__global__ void __launch_bounds__(256, SMINB) sgemm_simt(int M, int N, int K, const float *__restrict__ A,
                                                 const float *__restrict__ B, float *__restrict__ C)
{
#if SDYN
    extern __shared__ __align__(16) float sg_smem[];
    float(*As)[SBK][SBM + SPAD] = reinterpret_cast<float(*)[SBK][SBM + SPAD]>(sg_smem);
    float(*Bs)[SBK][SBN + SPAD] = reinterpret_cast<float(*)[SBK][SBN + SPAD]>(sg_smem + 2 * SBK * (SBM + SPAD));
#else
    __shared__ __align__(16) float As[2][SBK][SBM + SPAD];
    __shared__ __align__(16) float Bs[2][SBK][SBN + SPAD];
#endif
    const int tid = threadIdx.x;
    int tx, ty, m0, n0;
    sg_coords(tid, blockIdx.x, M, N, tx, ty, m0, n0);
    /* the next k-tile is staged through registers in NPH phases of SSTG float4
     * per operand: phase p is loaded before step p*PHK and stored to shared
     * memory after step p*PHK+PHK-1. A phase's float4 number L (0..NL-1) is
     * chunk L / LOADS of SSUB k, float4 L % LOADS of that chunk (sg_map). */
    constexpr int LOADS = SBM * SSUB / 4 / 256; /* float4 per thread per operand per SSUB-k chunk */
    constexpr int NL = LOADS * (SBK / SSUB);     /* ... per k-tile */
    constexpr int NPH = NL / SSTG, PHK = SBK / NPH;
    static_assert(NL % SSTG == 0 && SBK % NPH == 0, "SSTG must divide the k-tile's float4 count");
    float4 ra[SSTG], rb[SSTG];
    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
        for (int j = 0; j < 8; j++)
            acc[i][j] = 0.f;

    /* float4 s of phase ph: row r of the tile, k offset kk in the k-tile */
    auto slot = [&](int ph, int s, int &r, int &kk) {
        const int L = ph * SSTG + s;
        sg_map(tid + (L % LOADS) * 256, r, kk);
        kk += (L / LOADS) * SSUB;
    };
    auto gload = [&](int k0, int ph) {
#pragma unroll
        for (int s = 0; s < SSTG; s++) {
            int r, kk;
            slot(ph, s, r, kk);
            int gk = k0 + kk;
            int gm = m0 + r, gn = n0 + r;
            ra[s] = (gm < M && gk < K) ? *reinterpret_cast<const float4 *>(A + (size_t)gm * K + gk)
                                       : make_float4(0.f, 0.f, 0.f, 0.f);
            rb[s] = (gn < N && gk < K) ? *reinterpret_cast<const float4 *>(B + (size_t)gn * K + gk)
                                       : make_float4(0.f, 0.f, 0.f, 0.f);
        }
    };
    auto sstore = [&](int buf, int ph) {
#pragma unroll
        for (int s = 0; s < SSTG; s++) {
            int r, k4;
            slot(ph, s, r, k4);
            As[buf][k4 + 0][r] = ra[s].x;
            As[buf][k4 + 1][r] = ra[s].y;
            As[buf][k4 + 2][r] = ra[s].z;
            As[buf][k4 + 3][r] = ra[s].w;
            Bs[buf][k4 + 0][r] = rb[s].x;
            Bs[buf][k4 + 1][r] = rb[s].y;
            Bs[buf][k4 + 2][r] = rb[s].z;
            Bs[buf][k4 + 3][r] = rb[s].w;
        }
    };

#pragma unroll
    for (int ph = 0; ph < NPH; ph++) {
        gload(0, ph);
        sstore(0, ph);
    }
    __syncthreads();
    const int KT = (K + SBK - 1) / SBK;
    for (int kt = 0; kt < KT; kt++) {
        const int buf = kt & 1;
#if SFRAG2
        /* fragments double-buffered in registers: step kk+1's four LDS.128
         * are issued before step kk's 64 FFMA */
        float4 fa[2][2], fb[2][2];
        fa[0][0] = *reinterpret_cast<const float4 *>(&As[buf][0][ty * 4]);
        fa[0][1] = *reinterpret_cast<const float4 *>(&As[buf][0][64 + ty * 4]);
        fb[0][0] = *reinterpret_cast<const float4 *>(&Bs[buf][0][tx * 4]);
        fb[0][1] = *reinterpret_cast<const float4 *>(&Bs[buf][0][64 + tx * 4]);
#pragma unroll
        for (int kk = 0; kk < SBK; kk++) {
            const int cur = kk & 1;
            /* the next tile, SSUB k at a time: loaded here, stored below after step kk+SSUB-1 */
            if (kk % PHK == 0 && kt + 1 < KT)
                gload((kt + 1) * SBK, kk / PHK);
            if (kk + 1 < SBK) {
                fa[cur ^ 1][0] = *reinterpret_cast<const float4 *>(&As[buf][kk + 1][ty * 4]);
                fa[cur ^ 1][1] = *reinterpret_cast<const float4 *>(&As[buf][kk + 1][64 + ty * 4]);
                fb[cur ^ 1][0] = *reinterpret_cast<const float4 *>(&Bs[buf][kk + 1][tx * 4]);
                fb[cur ^ 1][1] = *reinterpret_cast<const float4 *>(&Bs[buf][kk + 1][64 + tx * 4]);
            }
            const float a[8] = {fa[cur][0].x, fa[cur][0].y, fa[cur][0].z, fa[cur][0].w,
                                fa[cur][1].x, fa[cur][1].y, fa[cur][1].z, fa[cur][1].w};
            const float b[8] = {fb[cur][0].x, fb[cur][0].y, fb[cur][0].z, fb[cur][0].w,
                                fb[cur][1].x, fb[cur][1].y, fb[cur][1].z, fb[cur][1].w};
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
            /* the other buffer: last read in iteration kt-1, before its barrier */
            if (kk % PHK == PHK - 1 && kt + 1 < KT)
                sstore(buf ^ 1, kk / PHK);
        }
#else
        static_assert(NPH == 1, "SFRAG2=0 stages the whole k-tile at once");
        (void)PHK;
        if (kt + 1 < KT)
            gload((kt + 1) * SBK, 0);
#pragma unroll
        for (int kk = 0; kk < SBK; kk++) {
            float a[8], b[8];
            float4 t;
            t = *reinterpret_cast<const float4 *>(&As[buf][kk][ty * 4]);
            a[0] = t.x, a[1] = t.y, a[2] = t.z, a[3] = t.w;
            t = *reinterpret_cast<const float4 *>(&As[buf][kk][64 + ty * 4]);
            a[4] = t.x, a[5] = t.y, a[6] = t.z, a[7] = t.w;
            t = *reinterpret_cast<const float4 *>(&Bs[buf][kk][tx * 4]);
            b[0] = t.x, b[1] = t.y, b[2] = t.z, b[3] = t.w;
            t = *reinterpret_cast<const float4 *>(&Bs[buf][kk][64 + tx * 4]);
            b[4] = t.x, b[5] = t.y, b[6] = t.z, b[7] = t.w;
#pragma unroll
            for (int i = 0; i < 8; i++)
#pragma unroll
                for (int j = 0; j < 8; j++)
                    acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
        if (kt + 1 < KT)
            sstore(buf ^ 1, 0); /* the other buffer: last read in iteration kt-1, before its barrier */
#endif
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 8; i++) {
        int r = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (r >= M)
            continue;
#pragma unroll
        for (int jh = 0; jh < 2; jh++) {
            int c = n0 + jh * 64 + tx * 4;
            float *p = C + (size_t)r * N + c;
            if (c + 3 < N && (N % 4) == 0) {
                *reinterpret_cast<float4 *>(p) =
                    make_float4(acc[i][jh * 4], acc[i][jh * 4 + 1], acc[i][jh * 4 + 2], acc[i][jh * 4 + 3]);
            } else {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (c + j < N)
                        p[j] = acc[i][jh * 4 + j];
            }
        }
    }
}

static const struct spak_gemm_info g_info = {
    SPAK_GEMM_ABI_VERSION,
    "rung2_mma BM=" SPAK_STR(BM) " BN=" SPAK_STR(BN) " BK=" SPAK_STR(BK) " WM=" SPAK_STR(WM) " WN=" SPAK_STR(
        WN) " STAGES=" SPAK_STR(STAGES) " GROUP_M=" SPAK_STR(GROUP_M) " SBK=" SPAK_STR(SBK) " SWARP=" SPAK_STR(SWARP) " SFRAG2=" SPAK_STR(SFRAG2) " SXOR=" SPAK_STR(SXOR),
    SPAK_DT_BIT(SPAK_DT_F32) | SPAK_DT_BIT(SPAK_DT_F16) | SPAK_DT_BIT(SPAK_DT_BF16),
    1, 1, 8, 80};

extern "C" const struct spak_gemm_info *spak_gemm_info(void) { return &g_info; }

template <typename T> static int launch16(int M, int N, int K, const void *A, const void *B, void *C, cudaStream_t s)
{
    long long blocks = (long long)spak_cdiv(M, BM) * spak_cdiv(N, BN);
    SPAK_TRY(cudaFuncSetAttribute(gemm_mma<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_BYTES));
    gemm_mma<T><<<(unsigned)blocks, NTHREADS, SMEM_BYTES, s>>>(M, N, K, (const T *)A, (const T *)B, (T *)C);
    return (int)cudaGetLastError();
}

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    if (M <= 0 || N <= 0 || K <= 0 || K % 8)
        return (int)cudaErrorInvalidValue;
    switch (dtype) {
    case SPAK_DT_F32: {
        long long blocks = (long long)spak_cdiv(M, SBM) * spak_cdiv(N, SBN);
#if SDYN
        SPAK_TRY(cudaFuncSetAttribute(sgemm_simt, cudaFuncAttributeMaxDynamicSharedMemorySize, SG_SMEM_BYTES));
        sgemm_simt<<<(unsigned)blocks, 256, SG_SMEM_BYTES, s>>>(M, N, K, (const float *)A, (const float *)B, (float *)C);
#else
        sgemm_simt<<<(unsigned)blocks, 256, 0, s>>>(M, N, K, (const float *)A, (const float *)B, (float *)C);
#endif
        return (int)cudaGetLastError();
    }
    case SPAK_DT_F16: return launch16<__half>(M, N, K, A, B, C, s);
    case SPAK_DT_BF16: return launch16<__nv_bfloat16>(M, N, K, A, B, C, s);
    default: return (int)cudaErrorInvalidValue;
    }
}

extern "C" int spak_gemm_kernel_info(int M, int N, int K, int dtype, struct spak_gemm_kinfo *o)
{
    (void)K;
    switch (dtype) {
    case SPAK_DT_F32:
        return spak_fill_kinfo(sgemm_simt, 256, 0, (long long)spak_cdiv(M, SBM) * spak_cdiv(N, SBN), o);
    case SPAK_DT_F16:
        return spak_fill_kinfo(gemm_mma<__half>, NTHREADS, SMEM_BYTES, (long long)spak_cdiv(M, BM) * spak_cdiv(N, BN), o);
    case SPAK_DT_BF16:
        return spak_fill_kinfo(gemm_mma<__nv_bfloat16>, NTHREADS, SMEM_BYTES,
                               (long long)spak_cdiv(M, BM) * spak_cdiv(N, BN), o);
    default: return (int)cudaErrorInvalidValue;
    }
}
