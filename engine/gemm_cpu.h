// The CPU reference matrix product used by the CPU convolution and linear layers.
#pragma once

// Row-major C = alpha * op(A) * op(B) + beta * C, with op(A) m x k and op(B) k x n.
// Rows of C are split over OpenMP threads, and each element sums over k in order, so the result
// does not depend on the number of threads.
void gemm_cpu(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
              int lda, const float* b, int ldb, float beta, float* c, int ldc);
