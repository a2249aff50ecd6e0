/*
 * rung4_wgmma.cu - FMHA ladder rung 4: wgmma + TMA, warp-specialized
 * (FlashAttention-3's structure). Run on the H100: docs/results-gpu-fmha.md.
 *
 * CTA = 1 producer + NC consumer warpgroups (__launch_bounds__(128 (NC+1), 1));
 * NC = 2 at D=128 (BLOCK_M = 128), CONSUMERS (3) at D=64 (BLOCK_M = 192):
 *  - warpgroup 0, the producer (setmaxnreg.dec to 24): one thread issues the
 *    TMA loads: the Q tile once, then K and V tiles into a ring of stages,
 *    each stage with its own full barriers (K and V separately, so that
 *    S = Q K^T can start before V lands) and empty barriers the consumers
 *    release (PIPE: K and V separately too);
 *  - warpgroups 1..NC, the consumers (setmaxnreg.inc to 240 with two, 160
 *    with three), 64 query rows each: S = Q K^T by wgmma m64nBNk16 with both
 *    operands in shared memory (128-B swizzled K-major tiles), masking and the
 *    online softmax on the accumulator fragment (exp2, scale*log2(e) in one
 *    FFMA), P re-packed into A fragments in registers, O += P V by wgmma
 *    m64nDk16 with A from registers and B = V from shared memory.
 *  Overlap (defaults PIPE=1, PINGPONG=1, FA3's): within a warpgroup, S of
 *  tile j is issued together with P V of tile j-1 and the softmax of tile j
 *  runs while P V is in flight (wait_group 1, then 0); between the consumer
 *  warpgroups, named barriers make them take turns issuing, in a ring, so
 *  that one's softmax falls under the others' products. At D=64 the products
 *  take half the time they take at D=128 while the softmax costs the same:
 *  with three consumers each softmax has two others' products to hide under.
 *
 * Layout work: Q and K are read through 3-D tensor maps [B*H][S][D] (tails
 * past S are zero-filled per head). V: VMN=0 transposes it per call into the
 * workspace as [B*Hkv][D][S8] (S8 = S rounded up to 8: TMA needs 16-byte row
 * pitches) so that the second product's B operand is K-major like the first's;
 * VMN=1 reads V as it is, like K, and gives wgmma an MN-major B (imm-trans-b 1).
 *
 * Parameters (-D, defaults): BLOCK_N=128 (keys per tile: 64 or 128; 32 -> 64),
 * CONSUMERS=3 (2 or 3, D=64 only), STAGES=0 (K/V ring depth 2..4; 0: 3 at D=64,
 * 2 at D=128), PIPE=1 (0: each product waited for at once, the first version),
 * PINGPONG=1 (0: the warpgroups issue independently; alone, without PIPE, it
 * was 5-12% slower), VMN=1 (0: the V^T pass), LAZY=0 (1: skip O's rescale where
 * no row maximum of the warp moved; slower at D=64). Shared memory: Q (BLOCK_M
 * rows) + stages x (K + V tiles): at D=128 32 KB + 2 x 64 KB, at D=64 24 KB +
 * 3 x 32 KB.
 * Build: nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a -shared -Xcompiler -fPIC -o rung4_wgmma.so rung4_wgmma.cu
 */
#include "../common/sm90.cuh"
#include "candidate.cuh"
#include "../common/wgmma_ops.cuh"
#include "wgmma_rs.cuh"

#ifndef BLOCK_N
#define BLOCK_N 128
#endif
#if BLOCK_N < 64 /* the spec's shared tuning space also offers 32 (rung 3's): run it as 64 */
#undef BLOCK_N
#define BLOCK_N 64
#endif
#ifndef STAGES /* K/V ring depth; 0 = 3 at D=64, 2 at D=128 (measured, docs/results-gpu-fmha.md) */
#define STAGES 0
#endif
#ifndef PINGPONG /* 1: the consumer warpgroups take turns issuing their products (named barriers 1..NC, a ring) */
#define PINGPONG 1
#endif
#ifndef PIPE /* 1: FA3's intra-warpgroup pipeline: S of tile j issued with P V of tile j-1, softmax of j under P V of j-1 */
#define PIPE 1
#endif
#ifndef VMN /* 1: V read as it is ([S][D], MN-major B operand, imm-trans-b 1) by TMA: no transpose pass */
#define VMN 1
#endif
#ifndef LAZY /* PIPE only. 1: O rescaled only where a warp's row maxima moved (exact: the factor is 1 otherwise) */
#define LAZY 0
#endif
#ifndef CONSUMERS /* consumer warpgroups of 64 query rows at D=64: 2 or 3 (FA3's choice); D=128 always has 2 */
#define CONSUMERS 3
#endif
static_assert(CONSUMERS == 2 || CONSUMERS == 3, "CONSUMERS 2 or 3");
static_assert(BLOCK_N == 64 || BLOCK_N == 128, "BLOCK_N 64 or 128");
static_assert(STAGES == 0 || (STAGES >= 2 && STAGES <= 4), "STAGES 0 (auto) or 2..4");

static const struct spak_fmha_info g_info = {
    SPAK_FMHA_ABI_VERSION,
    "rung4_wgmma CONSUMERS=" SPAK_STR(CONSUMERS) " BLOCK_N=" SPAK_STR(BLOCK_N) " STAGES=" SPAK_STR(STAGES) " PINGPONG=" SPAK_STR(PINGPONG) " PIPE=" SPAK_STR(PIPE) " VMN=" SPAK_STR(VMN) " LAZY=" SPAK_STR(LAZY),
    SPAK_FMHA_DT_BIT(SPAK_FMHA_F16) | SPAK_FMHA_DT_BIT(SPAK_FMHA_BF16),
    SPAK_FMHA_D_BIT(64) | SPAK_FMHA_D_BIT(128),
    1, 0, 1, 1, 1, 90,
};

/* ---- sm_90a building blocks beyond ../common/sm90.cuh ---- */
/* 3-D box at (c0 innermost, c1, c2) into dst, completing its bytes on bar */
__device__ __forceinline__ void tma_load_3d(void *dst, const CUtensorMap *map, uint64_t *bar, int c0, int c1, int c2)
{
    asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], "
                 "[%2];\n" ::"r"(smem_u32(dst)),
                 "l"((uint64_t)map), "r"(smem_u32(bar)), "r"(c0), "r"(c1), "r"(c2)
                 : "memory");
}
/* MN-major tile with the 128-B swizzle (V as TMA writes it: per 64-wide D panel, BLOCK_N
 * key rows of 128 B): 8-key groups SBO = 1024 B apart, D panels LBO = panel_bytes apart;
 * a k16 step advances the start by 16 rows = 2048 B. */
__device__ __forceinline__ uint64_t wgmma_desc_mn(uint32_t saddr, uint32_t panel_bytes)
{
    return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)(panel_bytes >> 4) << 16) | ((uint64_t)(1024 >> 4) << 32) |
           ((uint64_t)1 << 62);
}
/* B operand of O += P V for k16 step kk of a V stage at sV */
template <int D> __device__ __forceinline__ uint64_t v_desc(uint32_t sV, int kk)
{
#if VMN
    return wgmma_desc_mn(sV + kk * 2048, BLOCK_N * 128);
#else
    return wgmma_desc(sV + (kk / 4) * D * 128 + (kk % 4) * 32);
#endif
}
/* named barriers between two consumer warpgroups (256 threads): one syncs, the other arrives */
__device__ __forceinline__ void nbar_sync(int id) { asm volatile("bar.sync %0, 256;\n" ::"r"(id) : "memory"); }
__device__ __forceinline__ void nbar_arrive(int id) { asm volatile("bar.arrive %0, 256;\n" ::"r"(id) : "memory"); }

/* ---- the CTA's shape and shared memory plan (offsets from a 1024-aligned base) ---- */
template <int D> struct plan {
    /* consumer warpgroups; their registers after setmaxnreg: 240 with two, 160 with
     * three (the producer keeps 24: 24*128 + NC*128*REGS <= 65536). Three at D=128
     * would hold 160 accumulator registers (S, P, O) in 160: ptxas spills. */
    static constexpr int NC = D == 128 ? 2 : CONSUMERS;
    static constexpr int REGS = NC == 3 ? 160 : 240;
    /* ring depth; at D=128 four stages (32 KB + 4 x 64 KB) exceed the 227 KB a block may
     * have: the launch is refused (cudaErrorInvalidValue, a failed record) */
    static constexpr int RING = STAGES ? STAGES : (D == 64 ? 3 : 2);
    static constexpr int BLOCK_M = 64 * NC;
    static constexpr int THREADS = 128 * (NC + 1);
    static constexpr int PANELS = D / 64;                  /* 64-element panels of a D-wide row */
    static constexpr int Q_BYTES = BLOCK_M * D * 2;
    static constexpr int K_BYTES = BLOCK_N * D * 2;       /* one stage */
    static constexpr int V_BYTES = D * BLOCK_N * 2;       /* one stage, V^T: D rows x BLOCK_N keys */
    static constexpr int Q_OFF = 0;
    static constexpr int K_OFF = Q_OFF + Q_BYTES;
    static constexpr int V_OFF = K_OFF + RING * K_BYTES;
    static constexpr int BAR_OFF = V_OFF + RING * V_BYTES;
    static constexpr int BYTES = BAR_OFF + (1 + 4 * RING) * 8 + 1024; /* + slack for the 1024 alignment */
};

template <typename T> struct is_bf16 { static constexpr int v = 0; };
template <> struct is_bf16<__nv_bfloat16> { static constexpr int v = 1; };

template <typename T, int D>
__global__ void __launch_bounds__(plan<D>::THREADS, 1)
    fa3_kernel(const __grid_constant__ CUtensorMap mQ, const __grid_constant__ CUtensorMap mK,
               const __grid_constant__ CUtensorMap mVt, T *__restrict__ O, float *__restrict__ lse, int H, int Hkv,
               int S, int causal, float scale)
{
    typedef plan<D> P;
    constexpr int BLOCK_M = P::BLOCK_M, NC = P::NC;
    extern __shared__ unsigned char smem_raw[];
    unsigned char *smem = (unsigned char *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    uint64_t *q_full = (uint64_t *)(smem + P::BAR_OFF);
    uint64_t *k_full = q_full + 1, *v_full = k_full + P::RING, *empty = v_full + P::RING;
    /* PIPE: K and V released separately (K of tile j once S_j is done, V once P V is done) */
    uint64_t *v_empty = PIPE ? empty + P::RING : empty;
    (void)v_empty;
    const int wg = threadIdx.x / 128, tid = threadIdx.x % 128;
    const int mblk = gridDim.x - 1 - blockIdx.x; /* causal: longest rows first */
    const int h = blockIdx.y, b = blockIdx.z, hk = h / (H / Hkv);
    const int q0 = mblk * BLOCK_M;
    const int kend = causal ? min(S, q0 + BLOCK_M) : S;
    const int ntiles = (kend + BLOCK_N - 1) / BLOCK_N;

    if (threadIdx.x == 0) {
        mbar_init(q_full, 1);
        for (int s = 0; s < P::RING; s++) {
            mbar_init(&k_full[s], 1);
            mbar_init(&v_full[s], 1);
            mbar_init(&empty[s], 4 * NC); /* lane 0 of each consumer warp */
            mbar_init(&empty[P::RING + s], 4 * NC);
        }
        fence_barrier_init();
    }
    __syncthreads();

    if (wg == 0) {
        /* ---------------- producer ---------------- */
        setmaxnreg_dec<24>();
        if (tid == 0) {
            const int qh = b * H + h, kh = b * Hkv + hk;
            mbar_expect_tx(q_full, P::Q_BYTES);
#pragma unroll
            for (int p = 0; p < P::PANELS; p++)
                tma_load_3d(smem + P::Q_OFF + p * BLOCK_M * 128, &mQ, q_full, 64 * p, q0, qh);
            for (int it = 0; it < ntiles; it++) {
                const int s = it % P::RING;
                mbar_wait(&empty[s], ((it / P::RING) & 1) ^ 1);
                mbar_expect_tx(&k_full[s], P::K_BYTES);
#pragma unroll
                for (int p = 0; p < P::PANELS; p++)
                    tma_load_3d(smem + P::K_OFF + s * P::K_BYTES + p * BLOCK_N * 128, &mK, &k_full[s], 64 * p,
                                it * BLOCK_N, kh);
#if PIPE
                mbar_wait(&v_empty[s], ((it / P::RING) & 1) ^ 1);
#endif
                mbar_expect_tx(&v_full[s], P::V_BYTES);
#if VMN
#pragma unroll
                for (int p = 0; p < P::PANELS; p++)
                    tma_load_3d(smem + P::V_OFF + s * P::V_BYTES + p * BLOCK_N * 128, &mVt, &v_full[s], 64 * p,
                                it * BLOCK_N, kh);
#else
#pragma unroll
                for (int p = 0; p < BLOCK_N / 64; p++)
                    tma_load_3d(smem + P::V_OFF + s * P::V_BYTES + p * D * 128, &mVt, &v_full[s],
                                it * BLOCK_N + 64 * p, 0, kh);
#endif
            }
        }
    } else {
        /* ---------------- consumers ---------------- */
        setmaxnreg_inc<P::REGS>();
        const int c = wg - 1, warp = tid / 32, lane = tid % 32, t4 = lane & 3;
        const int rbase = q0 + 64 * c;                       /* this warpgroup's first row */
        const int row0 = rbase + 16 * warp + lane / 4, row1 = row0 + 8;
        const float cl2 = scale * SPAK_LOG2E;
        float oacc[D / 2];
        float sacc[BLOCK_N / 2];
        uint32_t pa[BLOCK_N / 16][4];
        float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;
#pragma unroll
        for (int i = 0; i < D / 2; i++)
            oacc[i] = 0.f;
        const uint32_t sQ = smem_u32(smem + P::Q_OFF) + 64 * c * 128; /* 64 rows of 128 B = 8 KB per warpgroup */
#if PINGPONG
        /* turn-taking in a ring: warpgroup c waits on barrier 1+c before issuing
         * its products and, once issued, arrives on the next one's. Warpgroup 0
         * goes first (one arrival from the last warpgroup up front); the last
         * warpgroup skips its very last arrival, so that every sync meets
         * exactly one arrival. */
        const int my_bar = 1 + c, other_bar = 1 + (c + 1) % NC;
        const bool last_wg = c == NC - 1;
        if (last_wg)
            nbar_arrive(1);
#endif
        mbar_wait(q_full, 0);

#if PIPE
        /* FA3's intra-warpgroup pipeline. Prologue: S_0, its softmax, P_0.
         * Tile it >= 1: issue S_it = Q K_it, then O += P_{it-1} V_{it-1};
         * wait_group 1 (S_it done: release K_it), softmax of S_it while P V runs;
         * wait_group 0 (P V done: release V_{it-1}), rescale O, pack P_it.
         * Epilogue: O += P_last V_last. With PINGPONG, one turn = the products
         * issued together (S_0 alone in the prologue; the last P V outside). */
        auto issue_s = [&](uint32_t sK) {
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint64_t da = wgmma_desc(sQ + (kk / 4) * BLOCK_M * 128 + (kk % 4) * 32);
                uint64_t db = wgmma_desc(sK + (kk / 4) * BLOCK_N * 128 + (kk % 4) * 32);
                wgmma_op<BLOCK_N, is_bf16<T>::v>::run(sacc, da, db, kk > 0 ? 1 : 0);
            }
        };
        auto issue_pv = [&](uint32_t sV) {
#pragma unroll
            for (int kk = 0; kk < BLOCK_N / 16; kk++) {
                wgmma_rs<D, is_bf16<T>::v, VMN>::run(oacc, pa[kk], v_desc<D>(sV, kk), 1);
            }
        };
        /* mask + online softmax of sacc (key tile at k0): m, l updated, sacc = P (fp32), O's factors out */
        auto softmax = [&](int k0, float &corr0, float &corr1) {
            if (k0 + BLOCK_N > S || (causal && k0 + BLOCK_N - 1 > rbase)) {
#pragma unroll
                for (int j = 0; j < BLOCK_N / 8; j++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int col = k0 + 8 * j + 2 * t4 + (e & 1), row = e < 2 ? row0 : row1;
                        if (col >= S || (causal && col > row))
                            sacc[4 * j + e] = -INFINITY;
                    }
            }
            float mx0 = m0, mx1 = m1;
#pragma unroll
            for (int j = 0; j < BLOCK_N / 8; j++) {
                mx0 = fmaxf(mx0, fmaxf(sacc[4 * j], sacc[4 * j + 1]));
                mx1 = fmaxf(mx1, fmaxf(sacc[4 * j + 2], sacc[4 * j + 3]));
            }
            quad_max2(mx0, mx1);
            const float mc0 = mx0 == -INFINITY ? 0.f : mx0 * cl2, mc1 = mx1 == -INFINITY ? 0.f : mx1 * cl2;
#if LAZY
            corr0 = mx0 == m0 ? 1.f : fast_exp2(m0 * cl2 - mc0);
            corr1 = mx1 == m1 ? 1.f : fast_exp2(m1 * cl2 - mc1);
#else
            corr0 = fast_exp2(m0 * cl2 - mc0);
            corr1 = fast_exp2(m1 * cl2 - mc1);
#endif
            m0 = mx0;
            m1 = mx1;
            l0 *= corr0;
            l1 *= corr1;
#pragma unroll
            for (int j = 0; j < BLOCK_N / 8; j++) {
                sacc[4 * j] = fast_exp2(fmaf(sacc[4 * j], cl2, -mc0));
                sacc[4 * j + 1] = fast_exp2(fmaf(sacc[4 * j + 1], cl2, -mc0));
                sacc[4 * j + 2] = fast_exp2(fmaf(sacc[4 * j + 2], cl2, -mc1));
                sacc[4 * j + 3] = fast_exp2(fmaf(sacc[4 * j + 3], cl2, -mc1));
                l0 += sacc[4 * j] + sacc[4 * j + 1];
                l1 += sacc[4 * j + 2] + sacc[4 * j + 3];
            }
        };
        auto pack_p = [&]() {
#pragma unroll
            for (int kk = 0; kk < BLOCK_N / 16; kk++) {
                pa[kk][0] = elem<T>::pack2(sacc[8 * kk], sacc[8 * kk + 1]);
                pa[kk][1] = elem<T>::pack2(sacc[8 * kk + 2], sacc[8 * kk + 3]);
                pa[kk][2] = elem<T>::pack2(sacc[8 * kk + 4], sacc[8 * kk + 5]);
                pa[kk][3] = elem<T>::pack2(sacc[8 * kk + 6], sacc[8 * kk + 7]);
            }
        };
        auto release = [&](uint64_t *bar) {
            __syncwarp();
            if (lane == 0)
                mbar_arrive(bar);
        };
        float corr0, corr1;
        {
            mbar_wait(&k_full[0], 0);
#if PINGPONG
            nbar_sync(my_bar);
#endif
            wgmma_fence();
            issue_s(smem_u32(smem + P::K_OFF));
            wgmma_commit();
#if PINGPONG
            if (!last_wg || ntiles > 1)
                nbar_arrive(other_bar);
#endif
            wgmma_wait<0>();
            reg_fence<BLOCK_N / 2>(sacc);
            release(&empty[0]);
            softmax(0, corr0, corr1); /* O is zero: no rescale */
            pack_p();
        }
        for (int it = 1; it < ntiles; it++) {
            const int s = it % P::RING, sp = (it - 1) % P::RING;
            const uint32_t sK = smem_u32(smem + P::K_OFF + s * P::K_BYTES);
            const uint32_t sV = smem_u32(smem + P::V_OFF + sp * P::V_BYTES);
            mbar_wait(&k_full[s], (it / P::RING) & 1);
#if PINGPONG
            nbar_sync(my_bar);
#endif
            wgmma_fence();
            issue_s(sK);
            wgmma_commit();
            mbar_wait(&v_full[sp], ((it - 1) / P::RING) & 1);
            wgmma_fence();
            issue_pv(sV);
            wgmma_commit();
#if PINGPONG
            if (!last_wg || it + 1 < ntiles)
                nbar_arrive(other_bar);
#endif
            wgmma_wait<1>();
            reg_fence<BLOCK_N / 2>(sacc);
            release(&empty[s]);
            softmax(it * BLOCK_N, corr0, corr1);
            wgmma_wait<0>();
            reg_fence<D / 2>(oacc);
            release(&v_empty[sp]);
#if LAZY
            if (__any_sync(0xffffffffu, corr0 != 1.f || corr1 != 1.f))
#endif
#pragma unroll
            for (int j = 0; j < D / 8; j++) {
                oacc[4 * j] *= corr0;
                oacc[4 * j + 1] *= corr0;
                oacc[4 * j + 2] *= corr1;
                oacc[4 * j + 3] *= corr1;
            }
            pack_p();
        }
        {
            const int sp = (ntiles - 1) % P::RING;
            mbar_wait(&v_full[sp], ((ntiles - 1) / P::RING) & 1);
            wgmma_fence();
            issue_pv(smem_u32(smem + P::V_OFF + sp * P::V_BYTES));
            wgmma_commit();
            wgmma_wait<0>();
            reg_fence<D / 2>(oacc);
            release(&v_empty[sp]);
        }
#else

        for (int it = 0; it < ntiles; it++) {
            const int s = it % P::RING, k0 = it * BLOCK_N;
            const unsigned ph = (it / P::RING) & 1;
            const uint32_t sK = smem_u32(smem + P::K_OFF + s * P::K_BYTES);
            const uint32_t sV = smem_u32(smem + P::V_OFF + s * P::V_BYTES);

            /* S = Q K^T */
            mbar_wait(&k_full[s], ph);
#if PINGPONG
            nbar_sync(my_bar);
#endif
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint64_t da = wgmma_desc(sQ + (kk / 4) * BLOCK_M * 128 + (kk % 4) * 32);
                uint64_t db = wgmma_desc(sK + (kk / 4) * BLOCK_N * 128 + (kk % 4) * 32);
                wgmma_op<BLOCK_N, is_bf16<T>::v>::run(sacc, da, db, kk > 0 ? 1 : 0);
            }
            wgmma_commit();
#if PINGPONG
            nbar_arrive(other_bar);
#endif
            wgmma_wait<0>();
            reg_fence<BLOCK_N / 2>(sacc);

            /* mask: keys past S, keys past the diagonal */
            if (k0 + BLOCK_N > S || (causal && k0 + BLOCK_N - 1 > rbase)) {
#pragma unroll
                for (int j = 0; j < BLOCK_N / 8; j++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        int col = k0 + 8 * j + 2 * t4 + (e & 1), row = e < 2 ? row0 : row1;
                        if (col >= S || (causal && col > row))
                            sacc[4 * j + e] = -INFINITY;
                    }
            }

            /* online softmax (rows row0: e = 0,1; row1: e = 2,3), quad shuffles */
            float mx0 = m0, mx1 = m1;
#pragma unroll
            for (int j = 0; j < BLOCK_N / 8; j++) {
                mx0 = fmaxf(mx0, fmaxf(sacc[4 * j], sacc[4 * j + 1]));
                mx1 = fmaxf(mx1, fmaxf(sacc[4 * j + 2], sacc[4 * j + 3]));
            }
            quad_max2(mx0, mx1);
            const float mc0 = mx0 == -INFINITY ? 0.f : mx0 * cl2, mc1 = mx1 == -INFINITY ? 0.f : mx1 * cl2;
            const float corr0 = fast_exp2(m0 * cl2 - mc0), corr1 = fast_exp2(m1 * cl2 - mc1);
            m0 = mx0;
            m1 = mx1;
            l0 *= corr0;
            l1 *= corr1;
#pragma unroll
            for (int j = 0; j < D / 8; j++) {
                oacc[4 * j] *= corr0;
                oacc[4 * j + 1] *= corr0;
                oacc[4 * j + 2] *= corr1;
                oacc[4 * j + 3] *= corr1;
            }
#pragma unroll
            for (int j = 0; j < BLOCK_N / 8; j++) {
                sacc[4 * j] = fast_exp2(fmaf(sacc[4 * j], cl2, -mc0));
                sacc[4 * j + 1] = fast_exp2(fmaf(sacc[4 * j + 1], cl2, -mc0));
                sacc[4 * j + 2] = fast_exp2(fmaf(sacc[4 * j + 2], cl2, -mc1));
                sacc[4 * j + 3] = fast_exp2(fmaf(sacc[4 * j + 3], cl2, -mc1));
                l0 += sacc[4 * j] + sacc[4 * j + 1];
                l1 += sacc[4 * j + 2] + sacc[4 * j + 3];
            }
            /* P -> A fragments: k-step kk = key blocks 2kk (regs 0,1) and 2kk+1 (regs 2,3) */
#pragma unroll
            for (int kk = 0; kk < BLOCK_N / 16; kk++) {
                pa[kk][0] = elem<T>::pack2(sacc[8 * kk], sacc[8 * kk + 1]);
                pa[kk][1] = elem<T>::pack2(sacc[8 * kk + 2], sacc[8 * kk + 3]);
                pa[kk][2] = elem<T>::pack2(sacc[8 * kk + 4], sacc[8 * kk + 5]);
                pa[kk][3] = elem<T>::pack2(sacc[8 * kk + 6], sacc[8 * kk + 7]);
            }

            /* O += P V */
            mbar_wait(&v_full[s], ph);
#if PINGPONG
            nbar_sync(my_bar);
#endif
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BLOCK_N / 16; kk++) {
                wgmma_rs<D, is_bf16<T>::v, VMN>::run(oacc, pa[kk], v_desc<D>(sV, kk), 1);
            }
            wgmma_commit();
#if PINGPONG
            if (!last_wg || it + 1 < ntiles)
                nbar_arrive(other_bar);
#endif
            wgmma_wait<0>();
            reg_fence<D / 2>(oacc);
            __syncwarp();
            if (lane == 0)
                mbar_arrive(&empty[s]);
        }

#endif /* PIPE */
        /* epilogue */
        quad_sum2(l0, l1);
        store_rows<T, D>(O, lse, b, H, h, S, oacc, row0, row1, t4, m0, m1, l0, l1, scale);
    }
}

/* V [BG][S][D] -> Vt [BG][D][S8], keys S..S8-1 zero. 32x32 tiles through shared memory. */
template <typename T>
__global__ void transpose_v(const T *__restrict__ V, T *__restrict__ Vt, int S, int S8, int D)
{
    __shared__ T tile[32][33];
    const int bg = blockIdx.z, s0 = blockIdx.x * 32, d0 = blockIdx.y * 32;
    const T *v = V + (size_t)bg * S * D;
    T *vt = Vt + (size_t)bg * D * S8;
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {
        int s = s0 + r, d = d0 + threadIdx.x;
        tile[r][threadIdx.x] = (s < S && d < D) ? v[(size_t)s * D + d] : elem<T>::from_f(0.f);
    }
    __syncthreads();
    for (int r = threadIdx.y; r < 32; r += blockDim.y) {
        int d = d0 + r, s = s0 + threadIdx.x;
        if (d < D && s < S8)
            vt[(size_t)d * S8 + s] = tile[threadIdx.x][r];
    }
}

/* ---- host ---- */
/* 3-D map over [n2][n1][n0] (n0 contiguous, rows pitch0 bytes, planes pitch1 bytes), box {64, box1, 1}, 128-B swizzle. */
static int make_map3(CUtensorMap *map, const void *ptr, int dtype, long long n0, long long n1, long long n2,
                     long long pitch0, long long pitch1, int box1)
{
    PFN_cuTensorMapEncodeTiled_v12000 enc = spak_encode_fn();
    cuuint64_t dims[3] = {(cuuint64_t)n0, (cuuint64_t)n1, (cuuint64_t)n2};
    cuuint64_t strides[2] = {(cuuint64_t)pitch0, (cuuint64_t)pitch1};
    cuuint32_t box[3] = {64, (cuuint32_t)box1, 1};
    cuuint32_t estr[3] = {1, 1, 1};
    if (!enc)
        return (int)cudaErrorNotSupported;
    CUresult r = enc(map, dtype == SPAK_FMHA_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                     const_cast<void *>(ptr), dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                     CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    return r == CUDA_SUCCESS ? 0 : (int)cudaErrorInvalidValue;
}

static size_t s8_of(int S) { return ((size_t)S + 7) / 8 * 8; }

extern "C" const struct spak_fmha_info *spak_fmha_info(void) { return &g_info; }

extern "C" size_t spak_fmha_workspace(int B, int H, int Hkv, int S, int D, int causal, int dtype)
{
    (void)H, (void)causal, (void)dtype;
    if (VMN) /* no V^T; a token workspace (the entry point wants one) */
        return 256;
    return (size_t)B * Hkv * D * s8_of(S) * 2;
}

template <typename T, int D>
static int launch(int B, int H, int Hkv, int S, int causal, int dtype, const void *Q, const void *K, const void *V,
                  void *O, float *lse, float scale, void *ws, cudaStream_t st)
{
    static bool attr_set = false;
    constexpr int sm = plan<D>::BYTES, BLOCK_M = plan<D>::BLOCK_M;
    const long long S8 = (long long)s8_of(S);
    CUtensorMap mq, mk, mv;
    if (!attr_set) {
        SPAK_TRY(cudaFuncSetAttribute(fa3_kernel<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize, sm));
        attr_set = true;
    }
#if VMN
    (void)S8, (void)ws;
#else
    dim3 tg(spak_cdiv(S8, 32), spak_cdiv(D, 32), B * Hkv), tb(32, 8);
    transpose_v<T><<<tg, tb, 0, st>>>((const T *)V, (T *)ws, S, (int)S8, D);
    SPAK_TRY(cudaGetLastError());
#endif
    SPAK_TRY((cudaError_t)make_map3(&mq, Q, dtype, D, S, (long long)B * H, (long long)D * 2, (long long)S * D * 2, BLOCK_M));
    SPAK_TRY((cudaError_t)make_map3(&mk, K, dtype, D, S, (long long)B * Hkv, (long long)D * 2, (long long)S * D * 2, BLOCK_N));
#if VMN
    SPAK_TRY((cudaError_t)make_map3(&mv, V, dtype, D, S, (long long)B * Hkv, (long long)D * 2, (long long)S * D * 2, BLOCK_N));
#else
    SPAK_TRY((cudaError_t)make_map3(&mv, ws, dtype, S, D, (long long)B * Hkv, S8 * 2, S8 * D * 2, D));
#endif
    dim3 grid(spak_cdiv(S, BLOCK_M), H, B);
    fa3_kernel<T, D><<<grid, plan<D>::THREADS, sm, st>>>(mq, mk, mv, (T *)O, lse, H, Hkv, S, causal, scale);
    return (int)cudaGetLastError();
}

extern "C" int spak_fmha(int B, int H, int Hkv, int S, int D, int causal, int dtype, const void *Q, const void *K,
                         const void *V, void *O, float *lse, float scale, void *workspace, size_t workspace_bytes,
                         cudaStream_t stream)
{
    if (!spak_fmha_args_ok(&g_info, B, H, Hkv, S, D, causal, dtype) || B * Hkv > 65535 || !workspace ||
        workspace_bytes < spak_fmha_workspace(B, H, Hkv, S, D, causal, dtype))
        return (int)cudaErrorInvalidValue;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        return launch<typename decltype(t)::type, d>(B, H, Hkv, S, causal, dtype, Q, K, V, O, lse, scale, workspace,
                                                     stream);
    });
}

extern "C" int spak_fmha_kernel_info(int B, int H, int Hkv, int S, int D, int causal, int dtype,
                                     struct spak_fmha_kinfo *out)
{
    (void)Hkv, (void)causal;
    return spak_fmha_dispatch(dtype, D, [&](auto t, auto d) {
        typedef plan<d> P;
        const long long grid = (long long)spak_cdiv(S, P::BLOCK_M) * H * B;
        return spak_fill_kinfo(fa3_kernel<typename decltype(t)::type, d>, P::THREADS, P::BYTES, grid, out);
    });
}
