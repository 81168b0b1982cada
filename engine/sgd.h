// SGD with momentum, optional Nesterov and weight decay, as PyTorch defines it, in one fused pass
// over the flat parameter, gradient and momentum vectors.
#pragma once

#include <cstddef>

#include "engine/context.h"

// The rate is not here: it changes every step, so the update reads it from the context's memory
// (engine/step_clock.h), where a captured step finds the current one.
struct SgdConfig {
  float momentum = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

// d = g + wd * x; if momentum: m = momentum * m + d, d = nesterov ? d + momentum * m : m;
// x -= lr * d, with lr read from `lr` (one float in the context's memory). `grad` is read, never
// written; `momentum_buffer` may be null when momentum is 0.
void sgd_update(Context& ctx, const SgdConfig& config, const float* lr, float* params, const float* grad,
                float* momentum_buffer, size_t n);
