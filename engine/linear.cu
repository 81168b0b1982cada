// Linear layer: the CPU's fast GEMM (engine/gemm_cpu.h) and cuBLAS. cuBLAS is column-major, so a row-major [rows, cols]
// matrix is seen by it as its transpose; each call below is the row-major formula transposed.
// --precision tf32 and bf16 let cuBLAS round the float32 operands to TF32 or bf16 and accumulate
// in float32 (its "fast" compute types); the CPU emulates bf16 by rounding the operands.
#include "engine/linear.h"

#include "engine/bf16.h"
#include "engine/check.h"
#include "engine/gemm_cpu.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void add_bias_kernel(float* y, const float* b, int n, int out) {
  const long total = static_cast<long>(n) * out;
  for (long i : grid_stride<long>(total))
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

cublasComputeType_t compute_type(Precision precision) {
  switch (precision) {
    case Precision::TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case Precision::BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case Precision::FP32: break;
  }
  return CUBLAS_COMPUTE_32F;
}

// Column-major C[m, n] = op(A) op(B) on float32 buffers, in the context's precision.
void gemm_gpu(Context& ctx, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, const float* a,
              int lda, const float* b, int ldb, float* c, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  CUBLAS_CHECK(cublasGemmEx(ctx.cublas, op_a, op_b, m, n, k, &one, a, CUDA_R_32F, lda, b, CUDA_R_32F, ldb, &zero, c,
                            CUDA_R_32F, ldc, compute_type(ctx.precision), CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void linear_forward(Context& ctx, const LinearShape& s, float* y, const float* x, const float* w, const float* b) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    const HostOperand x_op(ctx, x, static_cast<size_t>(s.n) * s.in), w_op(ctx, w, static_cast<size_t>(s.out) * s.in);
    gemm_fast_cpu(false, true, s.n, s.out, s.in, 1.0f, x_op.data, s.in, w_op.data, s.in, 0.0f, y, s.out);
    for (int row = 0; row < s.n; ++row)
      for (int o = 0; o < s.out; ++o) y[static_cast<long>(row) * s.out + o] += b[o];
    return;
  }
  // y^T[out, n] = W[out, in] * x^T[in, n]
  gemm_gpu(ctx, CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.n, s.in, w, s.in, x, s.in, y, s.out);
  add_bias_kernel<<<grid_size(static_cast<size_t>(s.n) * s.out), kThreads, 0, ctx.stream>>>(y, b, s.n, s.out);
  CUDA_CHECK_LAUNCH();
}

void linear_backward(Context& ctx, const LinearShape& s, float* dx, float* dw, float* db, const float* dy,
                     const float* x, const float* w) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    const HostOperand dy_op(ctx, dy, static_cast<size_t>(s.n) * s.out), x_op(ctx, x, static_cast<size_t>(s.n) * s.in),
        w_op(ctx, w, static_cast<size_t>(s.out) * s.in);
    gemm_fast_cpu(true, false, s.out, s.in, s.n, 1.0f, dy_op.data, s.out, x_op.data, s.in, 0.0f, dw, s.in);  // dW = dy^T x
    if (dx != nullptr)
      gemm_fast_cpu(false, false, s.n, s.in, s.out, 1.0f, dy_op.data, s.out, w_op.data, s.in, 0.0f, dx, s.in);
    for (int o = 0; o < s.out; ++o) {
      float sum = 0.0f;
      for (int row = 0; row < s.n; ++row) sum += dy[static_cast<long>(row) * s.out + o];
      db[o] = sum;
    }
    return;
  }
  // dW^T[in, out] = x^T[in, n] * dy[n, out]
  gemm_gpu(ctx, CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out, s.n, x, s.in, dy, s.out, dw, s.in);
  // dx^T[in, n] = W^T[in, out] * dy^T[out, n]
  if (dx != nullptr) gemm_gpu(ctx, CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.n, s.out, w, s.in, dy, s.out, dx, s.in);
  bias_grad_kernel<<<grid_size(s.out), kThreads, 0, ctx.stream>>>(db, dy, s.n, s.out);
  CUDA_CHECK_LAUNCH();
}
