// The first 8 bytes of a fuzz_wire input: which compressor, on which blocks, with which key. Shared
// with make_corpus.cpp, which writes real messages behind the same prefix.
#pragma once

#include <vector>

#include "compress/compressor.h"
#include "engine/rng.h"
#include "fuzz_support.h"

constexpr size_t kWirePrefixBytes = 8;

struct WireCase {
  CompressorConfig config;
  std::vector<Block> blocks;
  MessageKey key;
};

// byte 0: the compressor (mod 6); 1-2: elements - 1 (mod 2048); 3: 0 for one block, else the
// longest block (blocks of seeded random lengths up to it); 4: that seed; 5: the top-k/random-k
// ratio (1 + b) / 256 or the dither levels 1 + b; 6: the key's step; 7: its rank.
inline WireCase read_wire_case(FuzzInput& input) {
  static const CompressorKind kinds[] = {CompressorKind::Identity, CompressorKind::Sign,   CompressorKind::TopK,
                                         CompressorKind::RandomK,  CompressorKind::Dither, CompressorKind::DitherFixed};
  WireCase c;
  c.config.kind = kinds[input.byte() % 6];
  const size_t n = 1 + input.u16() % 2048;
  const uint8_t longest = input.byte(), layout_seed = input.byte(), parameter = input.byte();
  c.config.ratio = (1.0 + parameter) / 256.0;
  c.config.levels = 1 + parameter;
  c.config.seed = 5;
  c.key.step = input.byte();
  c.key.rank = input.byte();
  Rng rng(layout_seed, 1);
  for (size_t offset = 0; offset < n;) {
    const size_t length = longest == 0 ? n : std::min<size_t>(n - offset, 1 + rng.below(longest));
    c.blocks.push_back(Block{offset, length});
    offset += length;
  }
  return c;
}

// The prefix that read_wire_case reads back as this case's choices (kind index 0-5).
inline std::vector<uint8_t> wire_prefix(int kind_index, size_t n, uint8_t longest, uint8_t layout_seed,
                                        uint8_t parameter, uint8_t step, uint8_t rank) {
  const size_t stored = n - 1;
  return {static_cast<uint8_t>(kind_index), static_cast<uint8_t>(stored & 0xff), static_cast<uint8_t>(stored >> 8),
          longest, layout_seed, parameter, step, rank};
}
