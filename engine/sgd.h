// SGD with momentum, optional Nesterov and weight decay, as PyTorch defines it, in one fused pass
// over the flat parameter, gradient and momentum vectors.
#pragma once

#include <cstddef>

#include "engine/context.h"

struct SgdConfig {
  float lr = 0.1f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// d = g + wd * x; if momentum: m = momentum * m + d, d = nesterov ? d + momentum * m : m;
// x -= lr * d. `grad` is read, never written; `momentum_buffer` may be null when momentum is 0.
void sgd_update(Context& ctx, const SgdConfig& config, float* params, const float* grad, float* momentum_buffer,
                size_t n);
