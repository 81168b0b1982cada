// Element-wise ops: ReLU (float32) and the residual add (float32 or bf16, any layout).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/context.h"

void relu_forward(Context& ctx, float* y, const float* x, size_t n);
// dx = dy where the output was positive, else 0 (ReLU's gradient at 0 is taken as 0).
void relu_backward(Context& ctx, float* dx, const float* dy, const float* y, size_t n);
// y = a + b (also the backward of a fan-out: two gradients meeting at one tensor); the bf16 one
// adds in float32 and rounds the sum.
void add_forward(Context& ctx, float* y, const float* a, const float* b, size_t n);
void add_forward(Context& ctx, uint16_t* y, const uint16_t* a, const uint16_t* b, size_t n);
