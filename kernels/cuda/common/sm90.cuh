/*
 * sm90.cuh - sm_90a building blocks that the wgmma kernels of every CUDA
 * family use (GEMM rungs 3-5 through gemm/hopper.cuh, FMHA rung 4): shared
 * addresses, mbarrier, wgmma descriptors, fences and waits, setmaxnreg; on
 * the host, the tensor-map encoder reached through the runtime (no -lcuda).
 * Builds on sm80.cuh (shared addresses, cp.async, ldmatrix).
 * Written from the PTX ISA description of these instructions.
 */
#ifndef SPAK_CUDA_SM90_CUH
#define SPAK_CUDA_SM90_CUH

#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "sm80.cuh"

/* ---- mbarrier (smem_u32: sm80.cuh) ------------------------------------- */
__device__ __forceinline__ void mbar_init(uint64_t *bar, unsigned count)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(count));
}
/* Make mbarrier.init visible to the async proxy (TMA) before first use. */
__device__ __forceinline__ void fence_barrier_init()
{
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint64_t *bar, unsigned bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_u32(bar)), "r"(bytes)
                 : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_u32(bar)) : "memory");
}
/* Wait until the phase of parity `parity` has completed. On a fresh barrier
 * (phase 0 running) parity 1 counts as completed: producers start there. */
__device__ __forceinline__ void mbar_wait(uint64_t *bar, unsigned parity)
{
    asm volatile("{\n"
                 ".reg .pred done;\n"
                 "WAIT_%=:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT_%=;\n"
                 "}\n" ::"r"(smem_u32(bar)),
                 "r"(parity)
                 : "memory");
}

/* ---- wgmma -------------------------------------------------------------- */
/* Shared-memory matrix descriptor for a K-major tile written by TMA with
 * 128-byte swizzle: rows of 128 B (64 x 16-bit), 8-row groups 1024 B apart
 * (stride byte offset), leading byte offset unused for this mode (1), mode
 * bits 62-63 = 1 (128B swizzle). Tile bases must be 1024-byte aligned; the
 * k16 steps inside a 64-wide tile advance the start address by 32 B. */
__device__ __forceinline__ uint64_t wgmma_desc(uint32_t saddr)
{
    return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) |
           ((uint64_t)1 << 62);
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait()
{
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Keep the compiler from moving accumulator reads/writes across async wgmma. */
template <int R> __device__ __forceinline__ void reg_fence(float *d)
{
#pragma unroll
    for (int i = 0; i < R; i++)
        asm volatile("" : "+f"(d[i])::"memory");
}

template <int R> __device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R)); }
template <int R> __device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R)); }

/* ---- host: cuTensorMapEncodeTiled through the runtime's driver entry point ---- */
static inline PFN_cuTensorMapEncodeTiled_v12000 spak_encode_fn(void)
{
    static PFN_cuTensorMapEncodeTiled_v12000 fn = NULL;
    if (!fn) {
        cudaDriverEntryPointQueryResult q;
        void *p = NULL;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q) ==
                cudaSuccess &&
            q == cudaDriverEntryPointSuccess)
            fn = (PFN_cuTensorMapEncodeTiled_v12000)p;
    }
    return fn;
}

#endif
