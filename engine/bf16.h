// bfloat16 for --precision bf16: the rounding rule (to nearest, ties to even), shared by the CPU
// emulation and the kernels so that both round alike, and the conversions between float32 NCHW
// tensors and the bf16 NHWC layout that cuDNN's tensor-core convolutions want.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/context.h"
#include "engine/host_device.h"

// A bf16 value is the high half of a float32; it is stored as its 16 bits.
HOST_DEVICE inline uint16_t bf16_from_float(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round half to even on the dropped 16 bits
  return static_cast<uint16_t>(bits >> 16);
}

HOST_DEVICE inline float float_from_bf16(uint16_t half) {
  const uint32_t bits = static_cast<uint32_t>(half) << 16;
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

HOST_DEVICE inline float round_to_bf16(float value) { return float_from_bf16(bf16_from_float(value)); }

// Every element rounded to its nearest bf16 value, in place (host memory).
void round_to_bf16_cpu(float* x, size_t n);

// An operand of a convolution or matrix product as the CPU multiplies it: as given, or under
// --precision bf16 a copy rounded to bf16 (how the CPU emulates bf16 operands).
struct HostOperand {
  HostOperand(const Context& ctx, const float* values, size_t count);
  const float* data;
  std::vector<float> rounded;
};

// [n][c][hw] float32 -> [n][hw][c] bf16, rounded, and back (exact); on the GPU a transpose per
// image through shared memory. A filter [k][c][r][s] is converted with n = k and hw = r * s.
void nchw_to_nhwc_bf16(Context& ctx, uint16_t* dst, const float* src, int n, int c, int hw);
void nhwc_bf16_to_nchw(Context& ctx, float* dst, const uint16_t* src, int n, int c, int hw);
