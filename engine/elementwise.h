// Element-wise ops: ReLU (float32) and the residual add (float32 or bf16, any layout).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/context.h"

// The plain ReLU ops: what the tests check the fused BatchNorm + ReLU layer against.
void relu_forward(Context& ctx, float* y, const float* x, size_t n);
// dx = dy where the output was positive, else 0 (ReLU's gradient at 0 is taken as 0).
void relu_backward(Context& ctx, float* dx, const float* dy, const float* y, size_t n);
// y = a + b (also the backward of a fan-out: two gradients meeting at one tensor), for T = float
// or uint16_t (bf16, added in float32 and the sum rounded), both instantiated in elementwise.cu.
template <typename T>
void add_forward(Context& ctx, T* y, const T* a, const T* b, size_t n);
