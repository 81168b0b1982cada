// CPU matrix product: loop orders chosen so the innermost loop walks contiguous memory.
#include "engine/gemm_cpu.h"

#include <algorithm>

#ifdef HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

#include "engine/check.h"
#endif

namespace {

constexpr int kColumnBlock = 256;  // columns of B and C kept hot in cache across rows

void scale_rows(int m, int n, float beta, float* c, int ldc) {
  for (int i = 0; i < m; ++i) {
    float* row = c + static_cast<long>(i) * ldc;
    if (beta == 0.0f)
      std::fill(row, row + n, 0.0f);  // beta = 0 must not propagate NaN from old contents
    else if (beta != 1.0f)
      for (int j = 0; j < n; ++j) row[j] *= beta;
  }
}

}  // namespace

void gemm_cpu(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a,
              int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  scale_rows(m, n, beta, c, ldc);
  if (!transpose_b) {
    // C[i, j] += op(A)[i, p] * B[p, j]: stream rows of B into rows of C.
    for (int j0 = 0; j0 < n; j0 += kColumnBlock) {
      const int j1 = std::min(n, j0 + kColumnBlock);
#pragma omp parallel for schedule(static)
      for (int i = 0; i < m; ++i) {
        float* c_row = c + static_cast<long>(i) * ldc;
        for (int p = 0; p < k; ++p) {
          const float a_ip =
              alpha * (transpose_a ? a[static_cast<long>(p) * lda + i] : a[static_cast<long>(i) * lda + p]);
          const float* b_row = b + static_cast<long>(p) * ldb;
#pragma omp simd
          for (int j = j0; j < j1; ++j) c_row[j] += a_ip * b_row[j];
        }
      }
    }
    return;
  }
  // C[i, j] += op(A)[i, p] * B[j, p]: a dot product over p of two contiguous rows.
#pragma omp parallel for schedule(static)
  for (int i = 0; i < m; ++i) {
    float* c_row = c + static_cast<long>(i) * ldc;
    for (int j = 0; j < n; ++j) {
      const float* b_row = b + static_cast<long>(j) * ldb;
      float sum = 0.0f;
      if (!transpose_a) {
        const float* a_row = a + static_cast<long>(i) * lda;
#pragma omp simd reduction(+ : sum)
        for (int p = 0; p < k; ++p) sum += a_row[p] * b_row[p];
      } else {
        for (int p = 0; p < k; ++p) sum += a[static_cast<long>(p) * lda + i] * b_row[p];
      }
      c_row[j] += alpha * sum;
    }
  }
}

void gemm_fast_cpu(bool transpose_a, bool transpose_b, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
#ifdef HAVE_ONEDNN
  const dnnl_status_t status = dnnl_sgemm(transpose_a ? 'T' : 'N', transpose_b ? 'T' : 'N', m, n, k, alpha, a, lda, b,
                                          ldb, beta, c, ldc);
  if (status != dnnl_success) fail_internal(__FILE__, __LINE__, "oneDNN: status %d (dnnl_sgemm)", static_cast<int>(status));
#else
  gemm_cpu(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}
