// Element-wise operations on flat vectors, the vocabulary the distributed algorithms are written
// in: y += a x, out = a + b, soft thresholding, and the reductions their metrics need.
#pragma once

#include <cstddef>

#include "engine/context.h"

// y = y + alpha * x
void axpy(Context& ctx, float* y, float alpha, const float* x, size_t n);
// out = a + alpha * b (out may alias a or b)
void add_scaled(Context& ctx, float* out, const float* a, float alpha, const float* b, size_t n);
// x = alpha * x
void scale(Context& ctx, float* x, float alpha, size_t n);
// x = sign(x) * max(|x| - lr * lambda, 0): the proximal step of lr * lambda * ||x||_1, with lr
// read from the context's memory (the step's learning rate, engine/step_clock.h).
void soft_threshold(Context& ctx, float* x, const float* lr, float lambda, size_t n);

// ||x||_2^2 and the number of exact zeros, summed in double on the host side of the call (these
// feed metrics at log time only, so they may wait for the device).
double squared_norm(Context& ctx, const float* x, size_t n);
size_t count_zeros(Context& ctx, const float* x, size_t n);
