// CPU convolution on oneDNN, the library PyTorch itself runs on the CPU: per shape and context, the
// three directions' primitives in the layouts oneDNN finds fastest (channels in blocks), with
// reorders from and to our NCHW tensors. A build without oneDNN (the Makefile's report says so)
// runs the reference convolution (engine/conv_reference.h) instead, slowly.
#pragma once

#include "engine/conv.h"

// y = conv(x, w); dx and dw overwritten. Float32 NCHW activations, [k][c][r][s] weights.
void conv2d_forward_cpu(Context& ctx, const ConvShape& shape, float* y, const float* x, const float* w);
void conv2d_backward_data_cpu(Context& ctx, const ConvShape& shape, float* dx, const float* dy, const float* w);
void conv2d_backward_filter_cpu(Context& ctx, const ConvShape& shape, float* dw, const float* dy, const float* x);

// "oneDNN <version>" or "the reference (no oneDNN in this build)": what runs the CPU convolutions.
const char* cpu_convolution_library();
