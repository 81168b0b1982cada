// 2-D convolution (no bias, square stride and padding): cuDNN on the GPU, oneDNN on the CPU
// (engine/conv_cpu.h), both tested against the plain reference (engine/conv_reference.h). Each
// library's plan is made once per shape and cached. Activations are
// float32 NCHW, or under --precision bf16 bf16 NHWC (engine/tensor.h); weights and their gradient
// are float32 [k][c][r][s] either way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>

#include <cudnn.h>

#include "engine/context.h"

struct ConvShape {
  int n, c, h, w;  // input batch, channels, height, width
  int k, r, s;     // k filters of c x r x s
  int stride, pad;

  int out_h() const { return (h + 2 * pad - r) / stride + 1; }
  int out_w() const { return (w + 2 * pad - s) / stride + 1; }
  size_t weight_count() const { return static_cast<size_t>(k) * c * r * s; }
  auto key() const { return std::make_tuple(n, c, h, w, k, r, s, stride, pad); }
  bool operator<(const ConvShape& other) const { return key() < other.key(); }
};

// What cuDNN needs for one shape: descriptors and the algorithm picked for each direction, each
// direction with its own convolution descriptor, set to the math type its algorithm was timed with.
struct ConvPlan {
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  cudnnConvolutionDescriptor_t forward_desc = nullptr, backward_data_desc = nullptr, backward_filter_desc = nullptr;
  cudnnConvolutionFwdAlgo_t forward_algo{};
  cudnnConvolutionBwdDataAlgo_t backward_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t backward_filter_algo{};
  size_t forward_workspace = 0, backward_data_workspace = 0, backward_filter_workspace = 0;
};

struct ConvAlgorithmCache {
  ConvAlgorithmCache() = default;
  ~ConvAlgorithmCache();
  ConvAlgorithmCache(const ConvAlgorithmCache&) = delete;
  ConvAlgorithmCache& operator=(const ConvAlgorithmCache&) = delete;
  std::map<ConvShape, ConvPlan> plans;
};

// Float32 activations (--precision fp32 and tf32).
// y[n, k, out_h, out_w] = conv(x[n, c, h, w], w[k, c, r, s]).
void conv2d_forward(Context& ctx, const ConvShape& shape, float* y, const float* x, const float* w);
// dx = gradient with respect to x (overwritten).
void conv2d_backward_data(Context& ctx, const ConvShape& shape, float* dx, const float* dy,
                          const float* w);
// dw = gradient with respect to w (overwritten).
void conv2d_backward_filter(Context& ctx, const ConvShape& shape, float* dw, const float* dy,
                            const float* x);

// bf16 NHWC activations (--precision bf16). cuDNN multiplies bf16 operands, sums in float32 and
// rounds the result to bf16; the weight gradient comes back as float32 holding bf16 values. The
// weights go in as a bf16 copy in cuDNN's NHWC filter layout [k][r][s][c], made once per step by
// conv2d_weights_to_bf16 and used by both the forward and the backward-data convolution. The CPU
// computes the same in float32 on the same operands; only the order of the float32 sums differs.
void conv2d_weights_to_bf16(Context& ctx, const ConvShape& shape, uint16_t* w_bf16, const float* w);
void conv2d_forward(Context& ctx, const ConvShape& shape, uint16_t* y, const uint16_t* x, const uint16_t* w_bf16);
void conv2d_backward_data(Context& ctx, const ConvShape& shape, uint16_t* dx, const uint16_t* dy,
                          const uint16_t* w_bf16);
void conv2d_backward_filter(Context& ctx, const ConvShape& shape, float* dw, const uint16_t* dy, const uint16_t* x);
