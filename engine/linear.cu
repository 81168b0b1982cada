// Linear layer: CPU GEMM reference and cuBLAS. cuBLAS is column-major, so a row-major [rows, cols]
// matrix is seen by it as its transpose; each call below is the row-major formula transposed.
#include "engine/linear.h"

#include "engine/check.h"
#include "engine/gemm_cpu.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void add_bias_kernel(float* y, const float* b, int n, int out) {
  const long total = static_cast<long>(n) * out;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    y[i] += b[i % out];
}

// One thread per output feature sums its column of dy over the batch, in order.
__global__ void bias_grad_kernel(float* db, const float* dy, int n, int out) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= out) return;
  float sum = 0.0f;
  for (int row = 0; row < n; ++row) sum += dy[static_cast<long>(row) * out + o];
  db[o] = sum;
}

}  // namespace

void linear_forward(Context& ctx, const LinearShape& s, float* y, const float* x, const float* w, const float* b) {
  NVTX_RANGE("linear_forward");
  if (!ctx.is_cuda()) {
    gemm_cpu(false, true, s.n, s.out, s.in, 1.0f, x, s.in, w, s.in, 0.0f, y, s.out);
    for (int row = 0; row < s.n; ++row)
      for (int o = 0; o < s.out; ++o) y[static_cast<long>(row) * s.out + o] += b[o];
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  // y^T[out, n] = W[out, in] * x^T[in, n]
  CUBLAS_CHECK(cublasSgemm(ctx.cublas, CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.n, s.in, &one, w, s.in, x, s.in, &zero,
                           y, s.out));
  add_bias_kernel<<<grid_size(static_cast<size_t>(s.n) * s.out), kThreads, 0, ctx.stream>>>(y, b, s.n, s.out);
  CUDA_CHECK_LAUNCH();
}

void linear_backward(Context& ctx, const LinearShape& s, float* dx, float* dw, float* db, const float* dy,
                     const float* x, const float* w) {
  NVTX_RANGE("linear_backward");
  if (!ctx.is_cuda()) {
    gemm_cpu(true, false, s.out, s.in, s.n, 1.0f, dy, s.out, x, s.in, 0.0f, dw, s.in);  // dW = dy^T x
    if (dx != nullptr) gemm_cpu(false, false, s.n, s.in, s.out, 1.0f, dy, s.out, w, s.in, 0.0f, dx, s.in);
    for (int o = 0; o < s.out; ++o) {
      float sum = 0.0f;
      for (int row = 0; row < s.n; ++row) sum += dy[static_cast<long>(row) * s.out + o];
      db[o] = sum;
    }
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  // dW^T[in, out] = x^T[in, n] * dy[n, out]
  CUBLAS_CHECK(cublasSgemm(ctx.cublas, CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out, s.n, &one, x, s.in, dy, s.out, &zero,
                           dw, s.in));
  // dx^T[in, n] = W^T[in, out] * dy^T[out, n]
  if (dx != nullptr)
    CUBLAS_CHECK(cublasSgemm(ctx.cublas, CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.n, s.out, &one, w, s.in, dy, s.out,
                             &zero, dx, s.in));
  bias_grad_kernel<<<grid_size(s.out), kThreads, 0, ctx.stream>>>(db, dy, s.n, s.out);
  CUDA_CHECK_LAUNCH();
}
