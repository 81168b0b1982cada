// Batch normalisation over (N, H, W) per channel: training mode with batch statistics and
// running averages (PyTorch's conventions: biased variance to normalise, unbiased for the
// running estimate), and evaluation mode with the running averages. What follows it in a residual
// network can be fused in, y = relu(batchnorm(x) + residual): the same bits as the separate ops,
// with fewer passes over the activations. Activations are float32 NCHW, or bf16 NHWC under
// --precision bf16 (engine/tensor.h); statistics, parameters and their gradients are float32, and
// so is the arithmetic, so bf16 only rounds what is stored.
#pragma once

#include <cstdint>

#include "engine/activation.h"
#include "engine/context.h"
#include "engine/host_device.h"

struct BatchNormShape {
  int n, c, hw;  // batch, channels, pixels per channel plane
  HOST_DEVICE long per_channel() const { return static_cast<long>(n) * hw; }
};

struct BatchNormParams {
  float momentum = 0.1f;  // weight of the new batch in the running averages
  float eps = 1e-5f;
  Activation activation = Activation::None;  // ReLU: y = relu(batchnorm(x))
};

// The activations' element type T is float (float32 NCHW) or uint16_t (bf16 NHWC, under
// --precision bf16); engine/batchnorm.cu instantiates both. An optional operand (residual, y,
// d_residual) takes T from the others, so that a null one needs no cast.
template <typename T>
struct TypeOfOthers {
  using type = T;
};
template <typename T>
using Optional = typename TypeOfOthers<T>::type*;

// y = gamma * (x - mean) / sqrt(var + eps) + beta with batch statistics, plus `residual` unless
// it is null, through the activation; saves mean and 1/sqrt(var + eps) per channel for the
// backward pass and updates the running averages.
template <typename T>
void batchnorm_forward_train(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* y,
                             const T* x, Optional<const T> residual, const float* gamma, const float* beta,
                             float* saved_mean, float* saved_inv_std, float* running_mean, float* running_var);

template <typename T>
void batchnorm_forward_eval(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* y,
                            const T* x, Optional<const T> residual, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var);

// Overwrites dx, dgamma and dbeta, and d_residual unless it is null (the gradient that reaches
// the residual: dy through the activation). With a fused ReLU, `y` is the forward output, through
// which dy passes first (null otherwise).
template <typename T>
void batchnorm_backward(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* dx, float* dgamma,
                        float* dbeta, Optional<T> d_residual, const T* dy, Optional<const T> y, const T* x,
                        const float* gamma, const float* saved_mean, const float* saved_inv_std);
