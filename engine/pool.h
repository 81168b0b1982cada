// Global average pooling: [n, c, h, w] activations (float32 NCHW or bf16 NHWC) -> float32 [n, c].
#pragma once

#include <cstdint>

#include "engine/context.h"

void global_avg_pool_forward(Context& ctx, float* y, const float* x, int n, int c, int hw);
void global_avg_pool_forward(Context& ctx, float* y, const uint16_t* x, int n, int c, int hw);
// dx[image, ch, pixel] = dy[image, ch] / hw for every pixel of the plane.
void global_avg_pool_backward(Context& ctx, float* dx, const float* dy, int n, int c, int hw);
void global_avg_pool_backward(Context& ctx, uint16_t* dx, const float* dy, int n, int c, int hw);
