// Where an activation's elements live and how they are read and written, for code templated on
// the element type: float32 activations are NCHW, bf16 ones (uint16_t bits) NHWC (engine/tensor.h).
// Loads widen to float32 and stores round to nearest even, so the arithmetic is float32 either way.
#pragma once

#include <cstdint>

#include "engine/bf16.h"
#include "engine/host_device.h"

HOST_DEVICE inline float load(const float* p, long i) { return p[i]; }
HOST_DEVICE inline float load(const uint16_t* p, long i) { return float_from_bf16(p[i]); }
HOST_DEVICE inline void store(float* p, long i, float value) { p[i] = value; }
HOST_DEVICE inline void store(uint16_t* p, long i, float value) { p[i] = bf16_from_float(value); }

// index(): the flat position of (image, channel, pixel) in a [n, c, hw] activation;
// channel(): which channel flat position i belongs to.
template <typename T>
struct ActivationLayout;

template <>
struct ActivationLayout<float> {  // NCHW: each channel's plane is contiguous
  HOST_DEVICE static long index(long image, int ch, long pixel, int c, long hw) { return (image * c + ch) * hw + pixel; }
  HOST_DEVICE static int channel(long i, int c, long hw) { return static_cast<int>((i / hw) % c); }
};

template <>
struct ActivationLayout<uint16_t> {  // NHWC: each pixel's channels are contiguous
  HOST_DEVICE static long index(long image, int ch, long pixel, int c, long hw) { return (image * hw + pixel) * c + ch; }
  HOST_DEVICE static int channel(long i, int c, long) { return static_cast<int>(i % c); }
};
