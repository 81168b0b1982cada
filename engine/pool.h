// Global average pooling: [n, c, h, w] -> [n, c].
#pragma once

#include "engine/context.h"

void global_avg_pool_forward(Context& ctx, float* y, const float* x, int planes, int hw);
// dx[plane, i] = dy[plane] / hw for every pixel i of the plane.
void global_avg_pool_backward(Context& ctx, float* dx, const float* dy, int planes, int hw);
