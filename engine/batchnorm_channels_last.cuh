// Batch normalisation's bf16 NHWC (channels-last) kernels, for engine/batchnorm.cu alone (which
// includes this file; its names stay in that file's anonymous namespace): the channel sums over a
// [rows, c] matrix tiled as ChannelsLastTiling says, and the element-wise kernels that read eight
// channels of a pixel at once. The float32 NCHW kernels and the dispatch between the two are in
// engine/batchnorm.cu.
#pragma once

#include <initializer_list>

#include "engine/activation_layout.h"
#include "engine/batchnorm_rules.h"
#include "engine/channels_last_tiling.h"
#include "engine/check.h"
#include "engine/context.h"
#include "engine/launch.h"

namespace {

// Rows (pixels) each thread of an NHWC reduction reads, at least: enough loads in flight per
// thread that a few blocks per SM keep HBM busy, few enough that small tensors still spread over
// the SMs. A chunk reads 2 bytes per row and channel and writes an 8-byte partial per channel, so
// chunks of at least 64 rows keep the partials within 6% of the bytes read (with many lanes,
// 16 rows a thread already make that; with 1 or 2 lanes, wide channels, they would not).
constexpr int kRowsPerThread = 16, kMinChunkRows = 64;

template <int width>
ChannelsLastTiling channels_last_tiling(const BatchNormShape& s) {
  return ChannelsLastTiling(s.per_channel(), s.c, width, kThreads, kRowsPerThread, kMinChunkRows);
}

// blockDim = kThreads; grid = (t.chunks, t.groups).
template <int width, typename Term>
__global__ void channel_partials_nhwc_kernel(BatchNormShape s, ChannelsLastTiling t, Term term, float2* partials) {
  __shared__ float2 lane_sums[width][kThreads];
  const int chunk = blockIdx.x, group = blockIdx.y, thread = threadIdx.x;
  const int pack = t.pack(group, thread);
  float2 sums[width];
  for (int j = 0; j < width; ++j) sums[j] = make_float2(0.0f, 0.0f);
  if (t.reads(group, thread)) {
    const auto k = term.template channels<width>(s, pack * width);
    const unsigned end = static_cast<unsigned>(t.end_row(chunk)), packs = static_cast<unsigned>(t.packs);
#pragma unroll 4
    for (unsigned row = static_cast<unsigned>(t.first_row(chunk)) + t.lane(thread); row < end; row += t.lanes)
      term.accumulate(k, (row * packs + pack) * width, sums);
  }
  for (int j = 0; j < width; ++j) lane_sums[j][thread] = sums[j];
  __syncthreads();
  for (int k = thread; k < t.group_packs * width; k += blockDim.x) {
    const int ch = t.sum_channel(group, k);
    if (ch < 0) continue;
    float2 total = lane_sums[t.sum_offset(k)][t.sum_thread(0, k)];
    for (int lane = 1; lane < t.lanes; ++lane) {
      const float2 v = lane_sums[t.sum_offset(k)][t.sum_thread(lane, k)];
      total.x += v.x;
      total.y += v.y;
    }
    partials[ch * t.chunks + chunk] = total;
  }
}

// The element-wise kernels for bf16 NHWC with c a multiple of 8, one Bf16Pack (eight channels of
// one pixel) per thread. The scalar kernels spend a 32-bit remainder, 64-bit addressing and a
// 2-byte access on every element: about 47 PTX instructions (more in SASS, where the remainder
// expands) for 6 to 10 bytes of traffic, near the SMs' issue rate rather than memory bandwidth.
// Packed, an element costs about 28 (its four parameter loads, the math and the rounding).
__global__ void batchnorm_normalize_packed_kernel(BatchNormShape s, uint16_t* y, const uint16_t* x,
                                                  const uint16_t* residual, const float* gamma, const float* beta,
                                                  const float* mean, const float* inv_std, const float* running_var,
                                                  float eps, Activation activation) {
  const unsigned packs = static_cast<unsigned>(s.n) * s.c * s.hw / kBf16Pack;
  for (unsigned k : grid_stride<unsigned>(packs)) {
    const int ch0 = static_cast<int>(k * kBf16Pack % s.c);
    const Bf16Pack xs = reinterpret_cast<const Bf16Pack*>(x)[k];
    const Bf16Pack rs = residual != nullptr ? reinterpret_cast<const Bf16Pack*>(residual)[k] : Bf16Pack{};
    Bf16Pack ys;
#pragma unroll
    for (int j = 0; j < kBf16Pack; ++j) {
      const int ch = ch0 + j;
      const float scale = inv_std != nullptr ? inv_std[ch] : running_inv_std(running_var[ch], eps);
      ys.v[j] = bf16_from_float(normalized(float_from_bf16(xs.v[j]), mean[ch], scale, gamma[ch], beta[ch],
                                           residual != nullptr, float_from_bf16(rs.v[j]), activation));
    }
    reinterpret_cast<Bf16Pack*>(y)[k] = ys;
  }
}

__global__ void batchnorm_input_gradient_packed_kernel(BatchNormShape s, uint16_t* dx, uint16_t* d_residual,
                                                       const uint16_t* dy, const uint16_t* y, const uint16_t* x,
                                                       const float* gamma, const float* mean, const float* inv_std,
                                                       const float* dgamma, const float* dbeta) {
  const unsigned packs = static_cast<unsigned>(s.n) * s.c * s.hw / kBf16Pack;
  const float m = static_cast<float>(s.per_channel());
  for (unsigned k : grid_stride<unsigned>(packs)) {
    const int ch0 = static_cast<int>(k * kBf16Pack % s.c);
    const Bf16Pack xs = reinterpret_cast<const Bf16Pack*>(x)[k], dys = reinterpret_cast<const Bf16Pack*>(dy)[k];
    const Bf16Pack ys = y != nullptr ? reinterpret_cast<const Bf16Pack*>(y)[k] : Bf16Pack{};
    Bf16Pack dxs, gs;
#pragma unroll
    for (int j = 0; j < kBf16Pack; ++j) {
      const int ch = ch0 + j;
      const float g = normalized_gradient(y != nullptr, float_from_bf16(dys.v[j]), float_from_bf16(ys.v[j]));
      dxs.v[j] = bf16_from_float(input_gradient(g, float_from_bf16(xs.v[j]), mean[ch], inv_std[ch], gamma[ch], m,
                                                dbeta[ch], dgamma[ch]));
      gs.v[j] = bf16_from_float(g);
    }
    reinterpret_cast<Bf16Pack*>(dx)[k] = dxs;
    if (d_residual != nullptr) reinterpret_cast<Bf16Pack*>(d_residual)[k] = gs;
  }
}

// Whether a bf16 call can take the packed kernels.
bool packed(const BatchNormShape& s, std::initializer_list<const void*> activations) {
  return s.c % kBf16Pack == 0 && aligned_for_packs(activations);
}

// Each channel's partial sums of `term`, chunks of them, laid out [c][chunks] in the workspace.
struct ChannelPartials {
  const float2* sums;
  int chunks;
};

template <int width, typename Term>
ChannelPartials channels_last_partials(Context& ctx, const BatchNormShape& s, const Term& term) {
  const ChannelsLastTiling t = channels_last_tiling<width>(s);
  auto* sums = static_cast<float2*>(ctx.workspace(sizeof(float2) * t.chunks * s.c));
  channel_partials_nhwc_kernel<width><<<dim3(t.chunks, t.groups), kThreads, 0, ctx.stream>>>(s, t, term, sums);
  CUDA_CHECK_LAUNCH();
  return {sums, static_cast<int>(t.chunks)};
}

}  // namespace
