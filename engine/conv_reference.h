// The plain C++ convolution (im2col + gemm_cpu, one image at a time): the ground truth the oneDNN
// CPU path and the cuDNN path are tested against. Float32 NCHW activations, [k][c][r][s] weights.
#pragma once

#include "engine/conv.h"

void conv2d_forward_reference(const ConvShape& shape, float* y, const float* x, const float* w);
void conv2d_backward_data_reference(const ConvShape& shape, float* dx, const float* dy, const float* w);
void conv2d_backward_filter_reference(const ConvShape& shape, float* dw, const float* dy, const float* x);
