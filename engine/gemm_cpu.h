// CPU matrix products: the plain reference (the reference convolution's), and the fast one the
// linear layer runs (oneDNN's sgemm where the build has oneDNN, the reference otherwise).
#pragma once

// Row-major C = alpha * op(A) * op(B) + beta * C, with op(A) m x k and op(B) k x n.
// Rows of C are split over OpenMP threads, and each element sums over k in order, so the result
// does not depend on the number of threads.
void gemm_cpu(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
              int lda, const float* b, int ldb, float beta, float* c, int ldc);

// The same product, as fast as the build allows: oneDNN's sgemm on omp_get_max_threads() threads
// of the caller (deterministic for a given thread count), or gemm_cpu without oneDNN.
void gemm_fast_cpu(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc);
