// Global average pooling: one warp per (image, channel) plane on the GPU.
#include "engine/pool.h"

#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void global_avg_pool_forward_kernel(float* y, const float* x, int planes, int hw) {
  const int plane = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (plane >= planes) return;
  const float* p = x + static_cast<long>(plane) * hw;
  float sum = 0.0f;
  for (int i = lane; i < hw; i += 32) sum += p[i];
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, offset);
  if (lane == 0) y[plane] = sum / hw;
}

__global__ void global_avg_pool_backward_kernel(float* dx, const float* dy, int planes, int hw) {
  const long total = static_cast<long>(planes) * hw;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x)
    dx[i] = dy[i / hw] / hw;
}

}  // namespace

void global_avg_pool_forward(Context& ctx, float* y, const float* x, int planes, int hw) {
  NVTX_RANGE("global_avg_pool_forward");
  if (!ctx.is_cuda()) {
    for (int plane = 0; plane < planes; ++plane) {
      float sum = 0.0f;
      for (int i = 0; i < hw; ++i) sum += x[static_cast<long>(plane) * hw + i];
      y[plane] = sum / hw;
    }
    return;
  }
  const int planes_per_block = kThreads / 32;
  global_avg_pool_forward_kernel<<<(planes + planes_per_block - 1) / planes_per_block, kThreads, 0, ctx.stream>>>(
      y, x, planes, hw);
  CUDA_CHECK_LAUNCH();
}

void global_avg_pool_backward(Context& ctx, float* dx, const float* dy, int planes, int hw) {
  NVTX_RANGE("global_avg_pool_backward");
  if (!ctx.is_cuda()) {
    for (long i = 0; i < static_cast<long>(planes) * hw; ++i) dx[i] = dy[i / hw] / hw;
    return;
  }
  global_avg_pool_backward_kernel<<<grid_size(static_cast<size_t>(planes) * hw), kThreads, 0, ctx.stream>>>(
      dx, dy, planes, hw);
  CUDA_CHECK_LAUNCH();
}
