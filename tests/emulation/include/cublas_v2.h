// Stand-in for <cublas_v2.h> in the emulated build: cublasGemmEx as a plain float loop, enough for engine/linear.cu's host code around its own kernels.
#pragma once

typedef struct cublasContext* cublasHandle_t;
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS,
  CUBLAS_STATUS_NOT_INITIALIZED,
  CUBLAS_STATUS_ALLOC_FAILED,
  CUBLAS_STATUS_INVALID_VALUE,
  CUBLAS_STATUS_ARCH_MISMATCH,
  CUBLAS_STATUS_MAPPING_ERROR,
  CUBLAS_STATUS_EXECUTION_FAILED,
  CUBLAS_STATUS_INTERNAL_ERROR,
  CUBLAS_STATUS_NOT_SUPPORTED
};
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cublasComputeType_t { CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_16BF };
enum cudaDataType { CUDA_R_32F };
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT };

// Column-major C = alpha op(A) op(B) + beta C on float32 data, summing k in ascending order. The
// real cuBLAS sums in another order, so tests give it integer-valued data, whose sums are exact.
inline cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k,
                                   const void* alpha, const void* a, cudaDataType, int lda, const void* b, cudaDataType,
                                   int ldb, const void* beta, void* c, cudaDataType, int ldc, cublasComputeType_t,
                                   cublasGemmAlgo_t) {
  const float* A = static_cast<const float*>(a);
  const float* B = static_cast<const float*>(b);
  float* C = static_cast<float*>(c);
  const float alpha_ = *static_cast<const float*>(alpha), beta_ = *static_cast<const float*>(beta);
  for (long j = 0; j < n; ++j)
    for (long i = 0; i < m; ++i) {
      float sum = 0.0f;
      for (long p = 0; p < k; ++p)
        sum += (op_a == CUBLAS_OP_N ? A[i + p * lda] : A[p + i * lda]) * (op_b == CUBLAS_OP_N ? B[p + j * ldb] : B[j + p * ldb]);
      C[i + j * ldc] = alpha_ * sum + (beta_ != 0.0f ? beta_ * C[i + j * ldc] : 0.0f);
    }
  return CUBLAS_STATUS_SUCCESS;
}
