// ReLU and residual add: CPU loops and grid-stride CUDA kernels.
#include "engine/elementwise.h"

#include "engine/activation.h"
#include "engine/activation_layout.h"
#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

#define GRID_STRIDE_LOOP(i, n)                                                      \
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<size_t>(gridDim.x) * blockDim.x)

__global__ void relu_forward_kernel(float* y, const float* x, size_t n) {
  GRID_STRIDE_LOOP(i, n) y[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(float* dx, const float* dy, const float* y, size_t n) {
  GRID_STRIDE_LOOP(i, n) dx[i] = relu_gradient(dy[i], y[i]);
}

template <typename T>
__global__ void add_kernel(T* y, const T* a, const T* b, size_t n) {
  GRID_STRIDE_LOOP(i, n) store(y, i, load(a, i) + load(b, i));
}

template <typename T>
void add(Context& ctx, T* y, const T* a, const T* b, size_t n) {
  NVTX_RANGE("add_forward");
  if (!ctx.is_cuda()) {
    for (size_t i = 0; i < n; ++i) store(y, i, load(a, i) + load(b, i));
    return;
  }
  add_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(y, a, b, n);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void relu_forward(Context& ctx, float* y, const float* x, size_t n) {
  NVTX_RANGE("relu_forward");
  if (!ctx.is_cuda()) {
    for (size_t i = 0; i < n; ++i) y[i] = relu(x[i]);
    return;
  }
  relu_forward_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(y, x, n);
  CUDA_CHECK_LAUNCH();
}

void relu_backward(Context& ctx, float* dx, const float* dy, const float* y, size_t n) {
  NVTX_RANGE("relu_backward");
  if (!ctx.is_cuda()) {
    for (size_t i = 0; i < n; ++i) dx[i] = relu_gradient(dy[i], y[i]);
    return;
  }
  relu_backward_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(dx, dy, y, n);
  CUDA_CHECK_LAUNCH();
}

void add_forward(Context& ctx, float* y, const float* a, const float* b, size_t n) { add(ctx, y, a, b, n); }
void add_forward(Context& ctx, uint16_t* y, const uint16_t* a, const uint16_t* b, size_t n) { add(ctx, y, a, b, n); }
