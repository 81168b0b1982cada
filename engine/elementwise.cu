// ReLU and residual add: CPU loops and grid-stride CUDA kernels.
#include "engine/elementwise.h"

#include <type_traits>

#include "engine/activation.h"
#include "engine/activation_layout.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void relu_forward_kernel(float* y, const float* x, size_t n) {
  for (size_t i : grid_stride<size_t>(n)) y[i] = relu(x[i]);
}

__global__ void relu_backward_kernel(float* dx, const float* dy, const float* y, size_t n) {
  for (size_t i : grid_stride<size_t>(n)) dx[i] = relu_gradient(dy[i], y[i]);
}

template <typename T>
__global__ void add_kernel(T* y, const T* a, const T* b, size_t n) {
  for (size_t i : grid_stride<size_t>(n)) store(y, i, load(a, i) + load(b, i));
}

// bf16 in 16-byte packs of eight (see Bf16Pack): one load of each operand and one store per thread.
__global__ void add_packed_kernel(uint16_t* y, const uint16_t* a, const uint16_t* b, size_t packs) {
  for (size_t k : grid_stride<size_t>(packs)) {
    const Bf16Pack as = reinterpret_cast<const Bf16Pack*>(a)[k], bs = reinterpret_cast<const Bf16Pack*>(b)[k];
    Bf16Pack sum;
#pragma unroll
    for (int j = 0; j < kBf16Pack; ++j) sum.v[j] = bf16_from_float(float_from_bf16(as.v[j]) + float_from_bf16(bs.v[j]));
    reinterpret_cast<Bf16Pack*>(y)[k] = sum;
  }
}

}  // namespace

void relu_forward(Context& ctx, float* y, const float* x, size_t n) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    cpu_for_each(n, [=](size_t i) { y[i] = relu(x[i]); });
    return;
  }
  relu_forward_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(y, x, n);
  CUDA_CHECK_LAUNCH();
}

void relu_backward(Context& ctx, float* dx, const float* dy, const float* y, size_t n) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    cpu_for_each(n, [=](size_t i) { dx[i] = relu_gradient(dy[i], y[i]); });
    return;
  }
  relu_backward_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(dx, dy, y, n);
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void add_forward(Context& ctx, T* y, const T* a, const T* b, size_t n) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    cpu_for_each(n, [=](size_t i) { store(y, i, load(a, i) + load(b, i)); });
    return;
  }
  if constexpr (std::is_same<T, uint16_t>::value) {
    if (n % kBf16Pack == 0 && aligned_for_packs({y, a, b})) {
      add_packed_kernel<<<grid_size(n / kBf16Pack), kThreads, 0, ctx.stream>>>(y, a, b, n / kBf16Pack);
      CUDA_CHECK_LAUNCH();
      return;
    }
  }
  add_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(y, a, b, n);
  CUDA_CHECK_LAUNCH();
}

template void add_forward<float>(Context&, float*, const float*, const float*, size_t);
template void add_forward<uint16_t>(Context&, uint16_t*, const uint16_t*, const uint16_t*, size_t);
