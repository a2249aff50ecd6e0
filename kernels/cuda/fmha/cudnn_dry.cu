/*
 * cudnn_dry.cu - builds cuDNN's SDPA graph (cudnn_sdpa.cuh) as far as it can
 * go without a GPU: every tensor and operation descriptor is created, set
 * and finalized, and the operation graph too (cuDNN 9.19 finalizes it
 * without a handle); the heuristics need a device, so without one it stops
 * there (exit 0 when every step before them succeeded).
 * On a GPU machine it goes on to heuristics and an execution plan.
 *
 *   cudnn-dry BxHxSxD[gN][c] fp16|bf16 [lse]
 *
 * Output: one line per stage; the last line is "DRY OK <how far>" or
 * "DRY FAIL <cuDNN's message>". Built by kernels/cuda/fmha/fmha.mk, run by
 * tests/suites/cuda_fmha_compile.sh.
 */
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "abi.h"
#include "fmha_core.h"
#include "cudnn_sdpa.cuh"

int main(int argc, char **argv)
{
    struct fc_shape sh[1];
    int n = 0, dt;
    char err[256];
    struct sdpa g;
    int ndev = 0;
    bool with_lse = argc > 3 && !strcmp(argv[3], "lse");
    if (argc < 3 || fc_parse_shapes(argv[1], false, sh, 1, &n, err, sizeof err) || (dt = fc_parse_dtype(argv[2])) < 0) {
        fprintf(stderr, "usage: cudnn-dry BxHxSxD[gN][c] fp16|bf16 [lse]\n");
        return 2;
    }
    memset(&g, 0, sizeof g);
    if (!sdpa_load(&g)) {
        printf("DRY FAIL %s\n", g.err);
        return 1;
    }
    printf("libcudnn %zu loaded\n", g.api.getVersion());
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        /* no handle: build up to the operation graph, whose finalize needs one */
        bool ok = sdpa_build_variant(&g, &sh[0], dt, with_lse, true, CUDNN_HEUR_MODE_A);
        if (ok) {
            printf("DRY OK plan without a device (unexpected but fine): %s\n", g.engine);
            return 0;
        }
        if (strstr(g.err, "heuristics")) {
            /* every tensor, operation and the operation graph finalized; the
             * heuristics need a device to offer engines */
            printf("DRY OK operation graph finalized (no device, so no engine: %s)\n", g.err);
            return 0;
        }
        printf("DRY FAIL %s\n", g.err);
        return 1;
    }
    if (!sdpa_build(&g, &sh[0], dt, with_lse, 0)) {
        printf("DRY FAIL %s\n", g.err);
        return 1;
    }
    printf("plan: %s, workspace %lld bytes\n", g.engine, (long long)g.ws_bytes);
    {
        void *q = NULL, *k = NULL, *v = NULL, *o = NULL, *ws = NULL;
        float *l = NULL;
        cudaError_t e;
        size_t qb = fc_q_elems(&sh[0]) * 2, kvb = fc_kv_elems(&sh[0]) * 2;
        if (cudaMalloc(&q, qb) || cudaMalloc(&k, kvb) || cudaMalloc(&v, kvb) || cudaMalloc(&o, qb) ||
            cudaMalloc(&l, fc_rows(&sh[0]) * sizeof(float)) ||
            (g.ws_bytes > 0 && cudaMalloc(&ws, (size_t)g.ws_bytes))) {
            printf("DRY FAIL cudaMalloc\n");
            return 1;
        }
        cudaMemset(q, 0, qb), cudaMemset(k, 0, kvb), cudaMemset(v, 0, kvb);
        if (!sdpa_exec(&g, q, k, v, o, with_lse ? l : NULL, sh[0].causal, ws, 0)) {
            printf("DRY FAIL %s\n", g.err);
            return 1;
        }
        e = cudaDeviceSynchronize();
        if (e != cudaSuccess) {
            printf("DRY FAIL execution: %s\n", cudaGetErrorString(e));
            return 1;
        }
        printf("DRY OK executed on the device\n");
    }
    sdpa_destroy(&g);
    return 0;
}
