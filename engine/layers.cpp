// Layers: shape bookkeeping and buffers around the ops in engine/*.cu.
#include "engine/layers.h"

#include "engine/bf16.h"
#include "engine/check.h"
#include "engine/elementwise.h"
#include "engine/pool.h"

Conv2d::Conv2d(ParamStore& store, const std::string& name, int in_channels, int out_channels, int kernel,
               int stride, int pad)
    : weight_(store.add_param(name + ".weight", {out_channels, in_channels, kernel, kernel}, Init::UniformFanIn,
                              in_channels * kernel * kernel)),
      in_channels_(in_channels),
      out_channels_(out_channels),
      kernel_(kernel),
      stride_(stride),
      pad_(pad) {}

ConvShape Conv2d::shape_for(const Tensor& x) const {
  CHECK(x.shape().rank == 4 && x.dim(1) == in_channels_, "%s: input %s, expected [n, %d, h, w]",
        weight_->name.c_str(), x.shape().str().c_str(), in_channels_);
  return ConvShape{x.dim(0), in_channels_, x.dim(2), x.dim(3), out_channels_, kernel_, kernel_, stride_, pad_};
}

const Tensor& Conv2d::forward(Context& ctx, const Tensor& x) {
  const ConvShape s = shape_for(x);
  const bool bf16 = ctx.precision == Precision::BF16;
  input_dtype_ = x.dtype();
  x_ = x;
  if (bf16 && x.dtype() == DType::F32) {
    // A float32 input under bf16 (the images, into the stem) is converted once; the backward pass
    // convolves the same copy.
    converted_input_.ensure(ctx, x.shape(), DType::BF16);
    nchw_to_nhwc_bf16(ctx, converted_input_.bf16_data(), x.data(), s.n, s.c, s.h * s.w);
    x_ = converted_input_;
  }
  y_.ensure(ctx, {s.n, s.k, s.out_h(), s.out_w()}, bf16 ? DType::BF16 : DType::F32);
  if (!bf16) {
    conv2d_forward(ctx, s, y_.data(), x_.data(), weight_->value.data());
    return y_;
  }
  // The weights' bf16 copy, made once a step here and used again by the backward pass.
  weight_bf16_.ensure(ctx, s.weight_count());
  conv2d_weights_to_bf16(ctx, s, weight_bf16_.data(), weight_->value.data());
  conv2d_forward(ctx, s, y_.bf16_data(), x_.bf16_data(), weight_bf16_.data());
  return y_;
}

const Tensor& Conv2d::backward(Context& ctx, const Tensor& dy, bool need_input_grad) {
  const ConvShape s = shape_for(x_);
  CHECK(dy.dtype() == x_.dtype(), "%s: a %s gradient for %s activations", weight_->name.c_str(),
        dtype_name(dy.dtype()), dtype_name(x_.dtype()));
  const bool bf16 = x_.dtype() == DType::BF16;
  if (bf16)
    conv2d_backward_filter(ctx, s, weight_->grad.data(), dy.bf16_data(), x_.bf16_data());
  else
    conv2d_backward_filter(ctx, s, weight_->grad.data(), dy.data(), x_.data());
  if (!need_input_grad) {
    dx_ = Tensor();
    return dx_;
  }
  dx_.ensure(ctx, x_.shape(), x_.dtype());
  if (!bf16) {
    conv2d_backward_data(ctx, s, dx_.data(), dy.data(), weight_->value.data());
    return dx_;
  }
  CHECK(weight_bf16_.size() == s.weight_count(), "%s: bf16 backward without its forward", weight_->name.c_str());
  conv2d_backward_data(ctx, s, dx_.bf16_data(), dy.bf16_data(), weight_bf16_.data());
  if (input_dtype_ == DType::BF16) return dx_;
  // The input was converted to bf16: its gradient goes back to float32.
  converted_input_grad_.ensure(ctx, x_.shape());
  nhwc_bf16_to_nchw(ctx, converted_input_grad_.data(), dx_.bf16_data(), s.n, s.c, s.h * s.w);
  return converted_input_grad_;
}

double Conv2d::forward_macs(int& size) const {
  size = (size + 2 * pad_ - kernel_) / stride_ + 1;
  return static_cast<double>(size) * size * out_channels_ * in_channels_ * kernel_ * kernel_;
}

BatchNorm2d::BatchNorm2d(ParamStore& store, const std::string& name, int channels, Activation activation)
    : weight_(store.add_param(name + ".weight", {channels}, Init::Ones)),
      bias_(store.add_param(name + ".bias", {channels}, Init::Zeros)),
      running_mean_(store.add_buffer(name + ".running_mean", {channels}, Init::Zeros)),
      running_var_(store.add_buffer(name + ".running_var", {channels}, Init::Ones)),
      channels_(channels) {
  params_.activation = activation;
}

BatchNormShape BatchNorm2d::shape_for(const Tensor& x) const {
  CHECK(x.shape().rank == 4 && x.dim(1) == channels_, "%s: input %s, expected [n, %d, h, w]",
        weight_->name.c_str(), x.shape().str().c_str(), channels_);
  return BatchNormShape{x.dim(0), channels_, x.dim(2) * x.dim(3)};
}

const Tensor& BatchNorm2d::forward(Context& ctx, const Tensor& x, bool training, const Tensor* residual) {
  const BatchNormShape s = shape_for(x);
  CHECK(residual == nullptr || residual->shape() == x.shape(), "%s: residual %s for input %s", weight_->name.c_str(),
        residual->shape().str().c_str(), x.shape().str().c_str());
  CHECK(residual == nullptr || residual->dtype() == x.dtype(), "%s: a %s residual for a %s input",
        weight_->name.c_str(), dtype_name(residual->dtype()), dtype_name(x.dtype()));
  x_ = x;
  has_residual_ = residual != nullptr;
  y_.ensure(ctx, x.shape(), x.dtype());
  if (training) {
    saved_mean_.ensure(ctx, {channels_});
    saved_inv_std_.ensure(ctx, {channels_});
  }
  visit_dtype(x.dtype(), [&](auto element) {
    using T = decltype(element);
    const T* r = has_residual_ ? residual->elements<T>() : nullptr;
    if (training)
      batchnorm_forward_train(ctx, s, params_, y_.elements<T>(), x.elements<T>(), r, weight_->value.data(),
                              bias_->value.data(), saved_mean_.data(), saved_inv_std_.data(),
                              running_mean_->value.data(), running_var_->value.data());
    else
      batchnorm_forward_eval(ctx, s, params_, y_.elements<T>(), x.elements<T>(), r, weight_->value.data(),
                             bias_->value.data(), running_mean_->value.data(), running_var_->value.data());
  });
  return y_;
}

const Tensor& BatchNorm2d::backward(Context& ctx, const Tensor& dy) {
  CHECK(dy.dtype() == x_.dtype(), "%s: a %s gradient for %s activations", weight_->name.c_str(),
        dtype_name(dy.dtype()), dtype_name(x_.dtype()));
  dx_.ensure(ctx, x_.shape(), x_.dtype());
  if (has_residual_) d_residual_.ensure(ctx, x_.shape(), x_.dtype());
  visit_dtype(x_.dtype(), [&](auto element) {
    using T = decltype(element);
    const T* y = params_.activation == Activation::ReLU ? y_.elements<T>() : nullptr;
    batchnorm_backward(ctx, shape_for(x_), params_, dx_.elements<T>(), weight_->grad.data(), bias_->grad.data(),
                       has_residual_ ? d_residual_.elements<T>() : nullptr, dy.elements<T>(), y, x_.elements<T>(),
                       weight_->value.data(), saved_mean_.data(), saved_inv_std_.data());
  });
  return dx_;
}

const Tensor& GlobalAvgPool::forward(Context& ctx, const Tensor& x) {
  CHECK(x.shape().rank == 4, "global average pool of a %s tensor", x.shape().str().c_str());
  input_shape_ = x.shape();
  input_dtype_ = x.dtype();
  y_.ensure(ctx, {x.dim(0), x.dim(1)});
  visit_dtype(x.dtype(), [&](auto element) {
    using T = decltype(element);
    global_avg_pool_forward(ctx, y_.data(), x.elements<T>(), x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
  });
  return y_;
}

const Tensor& GlobalAvgPool::backward(Context& ctx, const Tensor& dy) {
  dx_.ensure(ctx, input_shape_, input_dtype_);
  visit_dtype(input_dtype_, [&](auto element) {
    using T = decltype(element);
    global_avg_pool_backward(ctx, dx_.elements<T>(), dy.data(), input_shape_[0], input_shape_[1],
                             input_shape_[2] * input_shape_[3]);
  });
  return dx_;
}

Linear::Linear(ParamStore& store, const std::string& name, int in_features, int out_features)
    : weight_(store.add_param(name + ".weight", {out_features, in_features}, Init::UniformFanIn, in_features)),
      bias_(store.add_param(name + ".bias", {out_features}, Init::UniformFanIn, in_features)),
      in_features_(in_features),
      out_features_(out_features) {}

const Tensor& Linear::forward(Context& ctx, const Tensor& x) {
  CHECK(x.shape().rank == 2 && x.dim(1) == in_features_, "%s: input %s, expected [n, %d]", weight_->name.c_str(),
        x.shape().str().c_str(), in_features_);
  x_ = x;
  y_.ensure(ctx, {x.dim(0), out_features_});
  linear_forward(ctx, LinearShape{x.dim(0), in_features_, out_features_}, y_.data(), x.data(),
                 weight_->value.data(), bias_->value.data());
  return y_;
}

const Tensor& Linear::backward(Context& ctx, const Tensor& dy) {
  dx_.ensure(ctx, x_.shape());
  linear_backward(ctx, LinearShape{x_.dim(0), in_features_, out_features_}, dx_.data(), weight_->grad.data(),
                  bias_->grad.data(), dy.data(), x_.data(), weight_->value.data());
  return dx_;
}

const Tensor& sum_into(Context& ctx, Tensor& out, const Tensor& a, const Tensor& b) {
  CHECK(a.shape() == b.shape() && a.dtype() == b.dtype(), "sum of %s %s and %s %s", dtype_name(a.dtype()),
        a.shape().str().c_str(), dtype_name(b.dtype()), b.shape().str().c_str());
  out.ensure(ctx, a.shape(), a.dtype());
  visit_dtype(a.dtype(), [&](auto element) {
    using T = decltype(element);
    add_forward(ctx, out.elements<T>(), a.elements<T>(), b.elements<T>(), a.numel());
  });
  return out;
}
