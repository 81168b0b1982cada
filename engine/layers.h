// Layers with explicit forward and backward: each keeps what its backward needs (its input, its
// output, batch statistics) and owns its output and input-gradient buffers, allocated on the
// first step and reused after. A layer's forward returns a reference to its own output.
// Activations are float32 NCHW, or under --precision bf16 bf16 NHWC from the first convolution's
// output to the pooling, whose output (and the head) is float32 again.
#pragma once

#include <string>

#include "engine/batchnorm.h"
#include "engine/conv.h"
#include "engine/linear.h"
#include "engine/params.h"

class Conv2d {
 public:
  Conv2d(ParamStore& store, const std::string& name, int in_channels, int out_channels, int kernel, int stride,
         int pad);
  const Tensor& forward(Context& ctx, const Tensor& x);
  // Gradients at the forward pass's weights: under bf16 the input gradient multiplies the bf16
  // copy that forward() made, so weights changed in between do not reach it (the training step
  // changes them only after backward).
  // Writes the weight gradient; returns the input gradient unless need_input_grad is false
  // (the stem, whose input is the image), in which case the returned tensor is empty.
  const Tensor& backward(Context& ctx, const Tensor& dy, bool need_input_grad = true);
  // Multiply-adds of the forward pass on one image of side `size`, which becomes the output's side.
  double forward_macs(int& size) const;

 private:
  ConvShape shape_for(const Tensor& x) const;
  Param* weight_;
  int in_channels_, out_channels_, kernel_, stride_, pad_;
  DType input_dtype_ = DType::F32;
  Tensor x_, y_, dx_;
  // Under bf16, a float32 input's bf16 copy (what x_ then holds) and its gradient in float32.
  Tensor converted_input_, converted_input_grad_;
  Buffer<uint16_t> weight_bf16_;  // under bf16: the weights as cuDNN multiplies them, for this step
};

// With Activation::ReLU the layer is relu(batchnorm(x)), and with a residual given to forward()
// relu(batchnorm(x) + residual), in one pass each way (engine/batchnorm.h).
class BatchNorm2d {
 public:
  BatchNorm2d(ParamStore& store, const std::string& name, int channels, Activation activation = Activation::None);
  const Tensor& forward(Context& ctx, const Tensor& x, bool training, const Tensor* residual = nullptr);
  const Tensor& backward(Context& ctx, const Tensor& dy);
  // After backward() of a forward() with a residual: the gradient that reaches the residual.
  const Tensor& residual_grad() const { return d_residual_; }

 private:
  BatchNormShape shape_for(const Tensor& x) const;
  Param *weight_, *bias_, *running_mean_, *running_var_;
  int channels_;
  BatchNormParams params_;
  bool has_residual_ = false;
  Tensor x_, y_, dx_, d_residual_, saved_mean_, saved_inv_std_;
};

class GlobalAvgPool {
 public:
  const Tensor& forward(Context& ctx, const Tensor& x);  // [n, c, h, w] -> [n, c]
  const Tensor& backward(Context& ctx, const Tensor& dy);

 private:
  Shape input_shape_;
  DType input_dtype_ = DType::F32;
  Tensor y_, dx_;
};

class Linear {
 public:
  Linear(ParamStore& store, const std::string& name, int in_features, int out_features);
  double macs() const { return static_cast<double>(in_features_) * out_features_; }  // per image
  const Tensor& forward(Context& ctx, const Tensor& x);
  const Tensor& backward(Context& ctx, const Tensor& dy);

 private:
  Param *weight_, *bias_;
  int in_features_, out_features_;
  Tensor x_, y_, dx_;
};

// Two gradients meeting where a tensor fanned out (a residual connection): dx = a + b.
const Tensor& sum_into(Context& ctx, Tensor& out, const Tensor& a, const Tensor& b);
