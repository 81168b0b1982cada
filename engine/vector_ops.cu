// Flat-vector operations: one shared element rule per op, a CPU loop and a grid-stride kernel.
#include "engine/vector_ops.h"

#include <cmath>
#include <vector>

#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"
#include "engine/tensor.h"

namespace {

// Runs op(i) for every i < n: a loop on the CPU, a grid-stride kernel on the GPU.
template <typename Op>
__global__ void for_each_kernel(size_t n, Op op) {
  for (size_t i : grid_stride<size_t>(n))
    op(i);
}

template <typename Op>
void for_each(Context& ctx, size_t n, Op op) {
  if (n == 0) return;
  if (!ctx.is_cuda()) return cpu_for_each(n, op);
  for_each_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(n, op);
  CUDA_CHECK_LAUNCH();
}

// Per-block partial sums of f(x[i]) in float, then the partials in double on the host.
template <typename F>
__global__ void partial_sums_kernel(const float* x, size_t n, F f, float* partials) {
  __shared__ float scratch[32];
  float sum = 0.0f;
  for (size_t i : grid_stride<size_t>(n))
    sum += f(x[i]);
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

template <typename F>
double reduce(Context& ctx, const float* x, size_t n, F f) {
  if (!ctx.is_cuda()) {
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) sum += f(x[i]);
    return sum;
  }
  const unsigned blocks = grid_size(n, kThreads, 1024);
  Buffer<float> partials(ctx, blocks);
  partial_sums_kernel<<<blocks, kThreads, 0, ctx.stream>>>(x, n, f, partials.data());
  CUDA_CHECK_LAUNCH();
  std::vector<float> host(blocks);
  ctx.download(host.data(), partials.data(), blocks * sizeof(float));
  double sum = 0.0;
  for (float p : host) sum += p;
  return sum;
}

struct Square {
  __host__ __device__ float operator()(float v) const { return v * v; }
};
struct IsZero {
  __host__ __device__ float operator()(float v) const { return v == 0.0f ? 1.0f : 0.0f; }
};

}  // namespace

void axpy(Context& ctx, float* y, float alpha, const float* x, size_t n) {
  NVTX_FUNCTION();
  for_each(ctx, n, [=] __host__ __device__(size_t i) { y[i] += alpha * x[i]; });
}

void add_scaled(Context& ctx, float* out, const float* a, float alpha, const float* b, size_t n) {
  NVTX_FUNCTION();
  for_each(ctx, n, [=] __host__ __device__(size_t i) { out[i] = a[i] + alpha * b[i]; });
}

void scale(Context& ctx, float* x, float alpha, size_t n) {
  NVTX_FUNCTION();
  for_each(ctx, n, [=] __host__ __device__(size_t i) { x[i] *= alpha; });
}

void soft_threshold(Context& ctx, float* x, const float* lr, float lambda, size_t n) {
  NVTX_FUNCTION();
  for_each(ctx, n, [=] __host__ __device__(size_t i) {
    const float magnitude = fabsf(x[i]) - *lr * lambda;
    x[i] = magnitude > 0.0f ? copysignf(magnitude, x[i]) : 0.0f;
  });
}

double squared_norm(Context& ctx, const float* x, size_t n) { return reduce(ctx, x, n, Square{}); }

size_t count_zeros(Context& ctx, const float* x, size_t n) {
  return static_cast<size_t>(std::llround(reduce(ctx, x, n, IsZero{})));
}
