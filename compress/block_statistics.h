// Per-block statistics of a flat vector (the scale of scaled sign, the norm of the dithered
// quantizer), reduced in a fixed order so that the CPU reference and the GPU agree to the bit:
// each block is cut into chunks of kChunk elements; a chunk is summed as a 256-thread CUDA
// block sums it (thread t takes elements t, t+256, ..., then a warp-shuffle tree), which the CPU
// emulates step by step; chunk sums are added in order, in double.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/params.h"
#include "engine/tensor.h"

enum class BlockStatistic {
  MeanAbs,  // ||v||_1 / d_b
  Norm2,    // ||v||_2
};

class BlockStatistics {
 public:
  static constexpr uint32_t kChunk = 8192;
  static constexpr int kThreads = 256;

  BlockStatistics(Context& ctx, const std::vector<Block>& blocks);

  // out[b] = the statistic of block b of x. x and out live on the context's device.
  void compute(Context& ctx, BlockStatistic statistic, const float* x, float* out);

  size_t chunks() const { return chunk_block_.size(); }

 private:
  std::vector<Block> blocks_;
  std::vector<uint32_t> chunk_begin_, chunk_end_, chunk_block_, block_first_chunk_;
  Buffer<uint32_t> device_begin_, device_end_, device_first_chunk_, device_lengths_;
  Buffer<float> partials_;
  std::vector<float> cpu_partials_;  // the CPU's chunk sums, one per chunk
};
