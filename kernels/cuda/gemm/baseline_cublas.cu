/*
 * baseline_cublas.cu - the GEMM family's baseline as a kernel .so:
 * cublasGemmEx computing exactly the ABI's function (abi.h) in the
 * candidate's dtype with fp32 accumulation. The judge (spak-harness-cuda)
 * loads it into a runner identical to the candidate's, so both sides are
 * timed the same way (the judge's clock, the same protocol, the same
 * sandbox) and neither pays a cost the other does not. Built as
 * $(O)/cuda/gemm/baseline-cublas.so (gemm.mk).
 */
#include <cublas_v2.h>

#include "abi.h"

static const struct spak_gemm_info info = {SPAK_GEMM_ABI_VERSION, "cuBLAS cublasGemmEx (baseline)",
                                           SPAK_DT_BIT(SPAK_DT_F32) | SPAK_DT_BIT(SPAK_DT_F16) |
                                               SPAK_DT_BIT(SPAK_DT_BF16),
                                           1, 1, 1, 0};

extern "C" const struct spak_gemm_info *spak_gemm_info(void)
{
    return &info;
}

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t stream)
{
    static cublasHandle_t h;
    if (!h && (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS || cublasSetMathMode(h, CUBLAS_DEFAULT_MATH)))
        return (int)cudaErrorInitializationError;
    if (cublasSetStream(h, stream) != CUBLAS_STATUS_SUCCESS)
        return (int)cudaErrorInvalidResourceHandle;
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t t = dtype == SPAK_DT_F32 ? CUDA_R_32F : dtype == SPAK_DT_F16 ? CUDA_R_16F : CUDA_R_16BF;
    cublasStatus_t s = cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, t, K, A, t, K, &zero, C, t, N,
                                    CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    return s == CUBLAS_STATUS_SUCCESS ? 0 : (int)cudaErrorLaunchFailure;
}
