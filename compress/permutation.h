// A keyed pseudo-random permutation of [0, domain): a four-round Feistel network on the smallest
// even number of bits that covers the domain, with cycle walking back into it. Random-k takes
// the images of 0..k-1 as its k distinct indices: any element computes its own index with no
// shared state, on the CPU or the GPU, and both ends derive the same key from (seed, step,
// rank, block), so the indices never travel.
#pragma once

#include <cstdint>

#include "engine/host_device.h"
#include "engine/rng.h"

struct FeistelPermutation {
  uint32_t domain, half_bits, mask;
  uint32_t keys[4];

  HOST_DEVICE FeistelPermutation(uint64_t seed, uint64_t step, uint32_t rank, uint32_t block, uint32_t domain_size)
      : domain(domain_size) {
    uint32_t bits = 2;
    while (bits < 32 && (1ull << bits) < domain_size) bits += 2;
    half_bits = bits / 2;
    mask = (1u << half_bits) - 1u;
    const Philox4 r = philox(seed, step, (static_cast<uint64_t>(rank) << 32) | block);
    for (int i = 0; i < 4; ++i) keys[i] = r.v[i];
  }

  // A 32-bit integer hash (xor-shift-multiply), the Feistel round function.
  HOST_DEVICE static uint32_t mix(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
  }

  HOST_DEVICE uint32_t encrypt(uint32_t x) const {
    uint32_t left = x >> half_bits, right = x & mask;
    for (int round = 0; round < 4; ++round) {
      const uint32_t next = left ^ (mix(right ^ keys[round]) & mask);
      left = right;
      right = next;
    }
    return (left << half_bits) | right;
  }

  // The image of j < domain; walking the cycle stays a permutation of [0, domain).
  HOST_DEVICE uint32_t operator()(uint32_t j) const {
    uint32_t x = encrypt(j);
    while (x >= domain) x = encrypt(x);
    return x;
  }
};
