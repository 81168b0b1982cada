// Where an activation's elements live and how they are read and written, for code templated on
// the element type: float32 activations are NCHW, bf16 ones (uint16_t bits) NHWC (engine/tensor.h).
// Loads widen to float32 and stores round to nearest even, so the arithmetic is float32 either way.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "engine/bf16.h"
#include "engine/host_device.h"

HOST_DEVICE inline float load(const float* p, long i) { return p[i]; }
HOST_DEVICE inline float load(const uint16_t* p, long i) { return float_from_bf16(p[i]); }
HOST_DEVICE inline void store(float* p, long i, float value) { p[i] = value; }
HOST_DEVICE inline void store(uint16_t* p, long i, float value) { p[i] = bf16_from_float(value); }

// index(): the flat position of (image, channel, pixel) in a [n, c, hw] activation;
// channel(): which channel flat position i belongs to, in i's integer type (long on the CPU,
// unsigned in kernels, which keep to 32-bit arithmetic below 2^31 elements).
template <typename T>
struct ActivationLayout;

template <>
struct ActivationLayout<float> {  // NCHW: each channel's plane is contiguous
  HOST_DEVICE static long index(long image, int ch, long pixel, int c, long hw) { return (image * c + ch) * hw + pixel; }
  template <typename Index>
  HOST_DEVICE static int channel(Index i, int c, int hw) {
    return static_cast<int>((i / static_cast<Index>(hw)) % static_cast<Index>(c));
  }
};

template <>
struct ActivationLayout<uint16_t> {  // NHWC: each pixel's channels are contiguous
  HOST_DEVICE static long index(long image, int ch, long pixel, int c, long hw) { return (image * hw + pixel) * c + ch; }
  template <typename Index>
  HOST_DEVICE static int channel(Index i, int c, int) {
    return static_cast<int>(i % static_cast<Index>(c));
  }
};

// Eight bf16 values: one 16-byte load or store. The packed bf16 kernels move eight neighbouring
// channels of one pixel at a time (NHWC with c a multiple of 8), so that one thread's index
// arithmetic serves eight elements and every access is 16 bytes wide.
constexpr int kBf16Pack = 8;
struct alignas(16) Bf16Pack {
  uint16_t v[kBf16Pack];
};

// The `width` activations from flat position i on, widened: one element, or for bf16 one Bf16Pack
// (i a multiple of 8 from a 16-byte aligned pointer, NHWC's eight neighbouring channels).
template <int width, typename T>
HOST_DEVICE inline void load_values(const T* p, long i, float (&values)[width]) {
  static_assert(width == 1 || (width == kBf16Pack && std::is_same<T, uint16_t>::value), "packs are bf16 eights");
  if constexpr (width == 1) {
    values[0] = load(p, i);
  } else {
    const Bf16Pack pack = *reinterpret_cast<const Bf16Pack*>(p + i);
    for (int j = 0; j < width; ++j) values[j] = float_from_bf16(pack.v[j]);
  }
}

// Whether every given pointer (null ones aside) allows 16-byte accesses.
inline bool aligned_for_packs(std::initializer_list<const void*> pointers) {
  for (const void* p : pointers)
    if (reinterpret_cast<uintptr_t>(p) % sizeof(Bf16Pack) != 0) return false;
  return true;
}
