// bf16 conversions: CPU loops, and tiled transposes for the GPU.
#include "engine/bf16.h"

#include "engine/check.h"
#include "engine/nvtx.h"

namespace {

constexpr int kTile = 32;
constexpr int kRows = 8;  // threads per tile column: each thread moves kTile / kRows elements

// One image's [c][hw] plane, tile by tile: reads along hw and writes along c are both coalesced.
__global__ void nchw_to_nhwc_bf16_kernel(uint16_t* dst, const float* src, int c, int hw) {
  __shared__ float tile[kTile][kTile + 1];  // +1: no bank conflicts on the transposed read
  const size_t image = static_cast<size_t>(blockIdx.z) * c * hw;
  const int p0 = blockIdx.x * kTile, c0 = blockIdx.y * kTile;
  for (int row = threadIdx.y; row < kTile; row += kRows) {
    const int ch = c0 + row, p = p0 + threadIdx.x;
    if (ch < c && p < hw) tile[row][threadIdx.x] = src[image + static_cast<size_t>(ch) * hw + p];
  }
  __syncthreads();
  for (int row = threadIdx.y; row < kTile; row += kRows) {
    const int p = p0 + row, ch = c0 + threadIdx.x;
    if (ch < c && p < hw) dst[image + static_cast<size_t>(p) * c + ch] = bf16_from_float(tile[threadIdx.x][row]);
  }
}

__global__ void nhwc_bf16_to_nchw_kernel(float* dst, const uint16_t* src, int c, int hw) {
  __shared__ float tile[kTile][kTile + 1];
  const size_t image = static_cast<size_t>(blockIdx.z) * c * hw;
  const int p0 = blockIdx.x * kTile, c0 = blockIdx.y * kTile;
  for (int row = threadIdx.y; row < kTile; row += kRows) {
    const int p = p0 + row, ch = c0 + threadIdx.x;
    if (ch < c && p < hw) tile[row][threadIdx.x] = float_from_bf16(src[image + static_cast<size_t>(p) * c + ch]);
  }
  __syncthreads();
  for (int row = threadIdx.y; row < kTile; row += kRows) {
    const int ch = c0 + row, p = p0 + threadIdx.x;
    if (ch < c && p < hw) dst[image + static_cast<size_t>(ch) * hw + p] = tile[threadIdx.x][row];
  }
}

dim3 transpose_grid(int n, int c, int hw) {
  CHECK(n >= 1 && n <= 65535, "bf16 conversion of %d images: over the grid limit", n);
  return dim3((hw + kTile - 1) / kTile, (c + kTile - 1) / kTile, n);
}

}  // namespace

void round_to_bf16_cpu(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = round_to_bf16(x[i]);
}

HostOperand::HostOperand(const Context& ctx, const float* values, size_t count) : data(values) {
  if (ctx.precision != Precision::BF16) return;
  rounded.assign(values, values + count);
  round_to_bf16_cpu(rounded.data(), count);
  data = rounded.data();
}

void nchw_to_nhwc_bf16(Context& ctx, uint16_t* dst, const float* src, int n, int c, int hw) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    for (long image = 0; image < n; ++image)
      for (int ch = 0; ch < c; ++ch)
        for (long p = 0; p < hw; ++p)
          dst[(image * hw + p) * c + ch] = bf16_from_float(src[(image * c + ch) * hw + p]);
    return;
  }
  nchw_to_nhwc_bf16_kernel<<<transpose_grid(n, c, hw), dim3(kTile, kRows), 0, ctx.stream>>>(dst, src, c, hw);
  CUDA_CHECK_LAUNCH();
}

void nhwc_bf16_to_nchw(Context& ctx, float* dst, const uint16_t* src, int n, int c, int hw) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    for (long image = 0; image < n; ++image)
      for (int ch = 0; ch < c; ++ch)
        for (long p = 0; p < hw; ++p)
          dst[(image * c + ch) * hw + p] = float_from_bf16(src[(image * hw + p) * c + ch]);
    return;
  }
  nhwc_bf16_to_nchw_kernel<<<transpose_grid(n, c, hw), dim3(kTile, kRows), 0, ctx.stream>>>(dst, src, c, hw);
  CUDA_CHECK_LAUNCH();
}
