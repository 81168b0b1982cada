// The dithered quantizer Q_s of Malcom-PSGD and CHOCO-SGD (QSGD's random dithering), per block:
// Q(v)_j = ||v||_2 * sign(v_j) * l_j / s, l_j = floor(s |v_j| / ||v||_2 + u_j), u_j uniform in
// [0, 1) from Philox keyed by (seed, step, rank, element). Entropy-coded ("dither"), a message
// holds per block a 20-byte block header (length, ||v||_2, non-zero count, code bits, Golomb
// parameter) and the coded levels (compress/entropy_coder.h). Fixed-length ("dither-fixed"), per
// block ||v||_2 as float32, then per element a sign bit and ceil(log2(s + 1)) level bits.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "compress/compressor.h"
#include "engine/exact_math.h"
#include "engine/rng.h"

constexpr uint64_t kDitherStream = 0xd17e4ed17e4e0001ull;  // keeps the noise apart from random-k's keys
constexpr size_t kDitherBlockHeaderBytes = 20;

HOST_DEVICE inline float dither_noise(uint64_t seed, uint64_t step, uint32_t rank, uint32_t element) {
  return uniform_from_bits(philox(seed ^ kDitherStream, step, (static_cast<uint64_t>(rank) << 32) | element).v[0]);
}

// The signed level of v in a block of norm `norm`.
HOST_DEVICE inline int16_t dither_level(float v, float norm, int levels, float noise) {
  if (norm == 0.0f) return 0;
  const float scaled = div_rn(mul_rn(static_cast<float>(levels), fabsf(v)), norm);
  float level = floorf(add_rn(scaled, noise));
  level = level > levels ? static_cast<float>(levels) : level;  // |v| <= norm up to rounding
  return static_cast<int16_t>(v < 0.0f ? -level : level);
}

HOST_DEVICE inline float dither_value(int16_t level, float norm, int levels) {
  const float magnitude = div_rn(mul_rn(norm, static_cast<float>(level < 0 ? -level : level)), static_cast<float>(levels));
  return level < 0 ? -magnitude : magnitude;
}

// Bits of one level in the fixed-length code: ceil(log2(s + 1)).
inline int dither_level_bits(int levels) {
  int bits = 0;
  while ((1 << bits) < levels + 1) ++bits;
  return bits;
}

// What a dither message's block headers say, summed over its blocks.
struct DitherCodeStats {
  size_t nonzeros = 0;
  size_t code_bits = 0;      // the entropy code alone
  size_t message_bits = 0;   // everything sent, headers included
  double qsgd_bound_bits = 0.0;
};
// Reads the block headers of a message in host memory (throws MessageError if malformed).
DitherCodeStats dither_code_stats(const uint8_t* message, size_t bytes, int levels);
