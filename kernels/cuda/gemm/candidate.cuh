/*
 * candidate.cuh - helpers shared by the GEMM rungs (candidate side): what
 * every CUDA family shares (../common/common.cuh: element types, the kernel-info
 * helper), the grouped tile raster and the bounds-checked pair store of the
 * epilogues. Candidates
 * written by the loop may include it or not; the contract is abi.h alone.
 */
#ifndef SPAK_GEMM_CANDIDATE_CUH
#define SPAK_GEMM_CANDIDATE_CUH

#include <type_traits>

#include "../common/common.cuh"
#include "abi.h"

/* Grouped raster: `group` row-tiles walk the column-tiles together, so the B
 * tiles they share stay in L2. Block bid's tile is (tm, tn). */
__device__ __forceinline__ void grouped_tile(int bid, int tiles_m, int tiles_n, int group, int &tm, int &tn)
{
    int per_group = group * tiles_n;
    int first_m = (bid / per_group) * group;
    int gm = min(tiles_m - first_m, group);
    tm = first_m + (bid % per_group) % gm;
    tn = (bid % per_group) / gm;
}

/* Two adjacent outputs C[r][c], C[r][c+1] (c+1 may be out of range), with a
 * 4-byte store when the pair is aligned. */
template <typename T>
__device__ __forceinline__ void store2(T *C, int M, int N, int r, int c, float v0, float v1)
{
    if (r >= M || c >= N)
        return;
    T *p = C + (size_t)r * N + c;
    if (sizeof(T) == 2 && c + 1 < N && ((N & 1) == 0)) {
        if constexpr (sizeof(T) == 2) {
            typedef typename std::conditional<std::is_same<T, __half>::value, __half2, __nv_bfloat162>::type T2;
            T2 t;
            t.x = elem<T>::from_f(v0);
            t.y = elem<T>::from_f(v1);
            *reinterpret_cast<T2 *>(p) = t;
        }
        return;
    }
    p[0] = elem<T>::from_f(v0);
    if (c + 1 < N)
        p[1] = elem<T>::from_f(v1);
}

#endif
