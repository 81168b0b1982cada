// Philox4x32-10, a counter-based RNG: the same (key, counter) gives the same numbers on CPU and GPU.
#pragma once

#include <cmath>
#include <cstdint>

#include "engine/host_device.h"

struct Philox4 {
  uint32_t v[4];
};

HOST_DEVICE inline void philox_mulhilo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

// Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11): ten rounds of a
// multiply-xor bijection over a 128-bit counter keyed by 64 bits. Stateless, so any element of
// any stream can be drawn independently, which is what lets CPU and GPU agree bit for bit.
HOST_DEVICE inline Philox4 philox(uint64_t key, uint64_t counter_hi, uint64_t counter_lo) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, &hi0, &lo0);
    philox_mulhilo(0xCD9E8D57u, c2, &hi1, &lo1);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// 24 random bits scaled into [0, 1): every value is exactly representable as a float.
HOST_DEVICE inline float uniform_from_bits(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}

// Sequential draws on the host (initialisation, permutations): a key and a running counter.
class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0) : key_(seed), stream_(stream) {}

  uint32_t next_u32() {
    if (buffered_ == 0) {
      block_ = philox(key_, stream_, counter_++);
      buffered_ = 4;
    }
    return block_.v[--buffered_];
  }
  float uniform() { return uniform_from_bits(next_u32()); }
  float uniform(float low, float high) { return low + (high - low) * uniform(); }
  // Box-Muller; the 1 - u keeps the logarithm finite.
  float normal() {
    const float u1 = 1.0f - uniform(), u2 = uniform();
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530718f * u2);
  }
  // Uniform integer in [0, bound) by rejection, so that no value is favoured.
  uint32_t below(uint32_t bound) {
    const uint32_t limit = UINT32_MAX - UINT32_MAX % bound;
    uint32_t x;
    do x = next_u32(); while (x >= limit);
    return x % bound;
  }

 private:
  uint64_t key_, stream_, counter_ = 0;
  Philox4 block_{};
  int buffered_ = 0;
};
