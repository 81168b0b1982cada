// Batch normalisation's element rules, shared by the CPU loops and every kernel of both layouts
// (engine/batchnorm.cu, engine/batchnorm_channels_last.cuh): one expression each, so that they all
// compute the same bits.
#pragma once

#include <cmath>

#include "engine/activation_layout.h"
#include "engine/batchnorm.h"
#include "engine/host_device.h"

HOST_DEVICE inline float activate(Activation a, float v) { return a == Activation::ReLU ? relu(v) : v; }

// Evaluation's scale from the running variance, in correctly rounded float32 division and square
// root on both sides (not the GPU's approximate rsqrtf), so that the CPU and the GPU agree.
HOST_DEVICE inline float running_inv_std(float running_var, float eps) { return 1.0f / sqrtf(running_var + eps); }

// One output element: gamma * (x - mean) * scale + beta, plus the residual if there is one (not
// + 0, which would turn -0 into +0), through the activation. Every kernel and the CPU compute it
// by this one expression: the GPU kernels agree with each other to the bit, and with the CPU up to
// nvcc contracting a multiply and an add into one FMA (the host compiler does not).
HOST_DEVICE inline float normalized(float x, float mean, float scale, float gamma, float beta, bool has_residual,
                                    float residual, Activation a) {
  const float v = gamma * ((x - mean) * scale) + beta;
  return activate(a, has_residual ? v + residual : v);
}

// One input-gradient element: gamma * inv_std / m * (m * g - sum(g) - x_hat * sum(g * x_hat)).
HOST_DEVICE inline float input_gradient(float g, float x, float mean, float inv_std, float gamma, float m,
                                        float sum_g, float sum_g_x_hat) {
  const float x_hat = (x - mean) * inv_std;
  return gamma * inv_std / m * (m * g - sum_g - x_hat * sum_g_x_hat);
}

// The gradient reaching the normalisation: dy, through the fused ReLU when there is one (y is
// then the forward output).
HOST_DEVICE inline float normalized_gradient(bool fused_relu, float dy, float y) {
  return fused_relu ? relu_gradient(dy, y) : dy;
}

// The same for element i, the ReLU fused when y != null.
template <typename T>
HOST_DEVICE inline float normalized_gradient(const T* dy, const T* y, long i) {
  return normalized_gradient(y != nullptr, load(dy, i), y != nullptr ? load(y, i) : 0.0f);
}

// Element j of channel ch, counting over the (N, H*W) plane of that channel.
template <typename T>
HOST_DEVICE inline long channel_index(const BatchNormShape& s, int ch, long j) {
  return ActivationLayout<T>::index(j / s.hw, ch, j % s.hw, s.c, s.hw);
}
