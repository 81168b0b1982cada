// Fully connected layer, PyTorch layout: y[n, out] = x[n, in] * W[out, in]^T + b[out].
#pragma once

#include "engine/context.h"

struct LinearShape {
  int n, in, out;
};

void linear_forward(Context& ctx, const LinearShape& shape, float* y, const float* x, const float* w,
                    const float* b);
// Overwrites dx (unless null), dw and db.
void linear_backward(Context& ctx, const LinearShape& shape, float* dx, float* dw, float* db, const float* dy,
                     const float* x, const float* w);
