// Global average pooling. The GPU sums an NCHW plane with one warp (its pixels are contiguous: each
// lane adds every 32nd pixel, then the lanes' sums are added by shuffles, an order the CPU's
// ascending sum does not share, so the two agree to rounding) and an NHWC one with one thread per
// (image, channel), neighbouring threads reading neighbouring channels, adding each plane's pixels
// in ascending order as the CPU does.
#include "engine/pool.h"

#include <type_traits>

#include "engine/activation_layout.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void global_avg_pool_nchw_kernel(float* y, const float* x, int planes, int hw) {
  const int plane = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (plane >= planes) return;
  const float* p = x + static_cast<long>(plane) * hw;
  float sum = 0.0f;
  for (int i = lane; i < hw; i += 32) sum += p[i];
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) y[plane] = sum / hw;
}

__global__ void global_avg_pool_nhwc_kernel(float* y, const uint16_t* x, int n, int c, int hw) {
  const long plane = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x;
  if (plane >= static_cast<long>(n) * c) return;
  const long image = plane / c;
  const int ch = static_cast<int>(plane % c);
  float sum = 0.0f;
  for (long pixel = 0; pixel < hw; ++pixel) sum += load(x, ActivationLayout<uint16_t>::index(image, ch, pixel, c, hw));
  y[plane] = sum / hw;
}

// 32-bit index arithmetic (the caller checks the size): no 64-bit divisions per element.
template <typename T>
__global__ void global_avg_pool_backward_kernel(T* dx, const float* dy, int n, int c, int hw) {
  const unsigned total = static_cast<unsigned>(n) * c * hw, plane = static_cast<unsigned>(c) * hw;
  for (unsigned i : grid_stride<unsigned>(total)) {
    store(dx, i, dy[i / plane * c + ActivationLayout<T>::channel(i, c, hw)] / hw);
  }
}

template <typename T>
void forward(Context& ctx, float* y, const T* x, int n, int c, int hw) {
  NVTX_RANGE("global_avg_pool_forward");
  if (!ctx.is_cuda()) {
#pragma omp parallel for schedule(static) if (n * c * hw >= static_cast<long>(kCpuParallelFrom))
    for (long image = 0; image < n; ++image)
      for (int ch = 0; ch < c; ++ch) {
        float sum = 0.0f;
        for (long pixel = 0; pixel < hw; ++pixel) sum += load(x, ActivationLayout<T>::index(image, ch, pixel, c, hw));
        y[image * c + ch] = sum / hw;
      }
    return;
  }
  if constexpr (std::is_same<T, float>::value) {
    const int planes = n * c, planes_per_block = kThreads / 32;
    global_avg_pool_nchw_kernel<<<(planes + planes_per_block - 1) / planes_per_block, kThreads, 0, ctx.stream>>>(
        y, x, planes, hw);
  } else {
    global_avg_pool_nhwc_kernel<<<grid_size(static_cast<size_t>(n) * c), kThreads, 0, ctx.stream>>>(y, x, n, c, hw);
  }
  CUDA_CHECK_LAUNCH();
}

template <typename T>
void backward(Context& ctx, T* dx, const float* dy, int n, int c, int hw) {
  NVTX_RANGE("global_avg_pool_backward");
  const long total = static_cast<long>(n) * c * hw;
  if (!ctx.is_cuda()) {
    cpu_for_each(total, [=](size_t i) {
      store(dx, i, dy[i / (static_cast<long>(c) * hw) * c + ActivationLayout<T>::channel(static_cast<long>(i), c, hw)] / hw);
    });
    return;
  }
  CHECK(total < 2147483648L, "global average pool of %d x %d x %d: over 2^31 elements", n, c, hw);
  global_avg_pool_backward_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(dx, dy, n, c, hw);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void global_avg_pool_forward(Context& ctx, float* y, const float* x, int n, int c, int hw) { forward(ctx, y, x, n, c, hw); }
void global_avg_pool_forward(Context& ctx, float* y, const uint16_t* x, int n, int c, int hw) { forward(ctx, y, x, n, c, hw); }
void global_avg_pool_backward(Context& ctx, float* dx, const float* dy, int n, int c, int hw) { backward(ctx, dx, dy, n, c, hw); }
void global_avg_pool_backward(Context& ctx, uint16_t* dx, const float* dy, int n, int c, int hw) { backward(ctx, dx, dy, n, c, hw); }
