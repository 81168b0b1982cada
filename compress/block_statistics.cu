// Block statistics: chunk partial sums (one CUDA block per chunk) and their in-order totals.
#include "compress/block_statistics.h"

#include <algorithm>
#include <cmath>

#include "engine/exact_math.h"
#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

HOST_DEVICE inline float term(BlockStatistic statistic, float v) {
  return statistic == BlockStatistic::MeanAbs ? fabsf(v) : mul_rn(v, v);
}

HOST_DEVICE inline float finish(BlockStatistic statistic, double sum, uint32_t length) {
  return statistic == BlockStatistic::MeanAbs ? static_cast<float>(sum / length) : static_cast<float>(sqrt(sum));
}

// The CPU's replay of block_sum() in engine/launch.h: a shuffle-down tree inside each warp,
// then the same tree over the warp sums (the missing lanes add zeros, which is exact).
float tree_sum_cpu(float* v) {
  for (int offset = 16; offset > 0; offset >>= 1)
    for (int lane = 0; lane < offset; ++lane) v[lane] = v[lane] + v[lane + offset];
  return v[0];
}

// Lane t sums elements begin + t, begin + t + 256, ... in that order, as CUDA thread t does; the
// lanes advance together a row of 256 at a time, which vectorises.
float chunk_sum_cpu(BlockStatistic statistic, const float* x, uint32_t begin, uint32_t end) {
  constexpr int threads = BlockStatistics::kThreads;
  float lanes[threads] = {};
  for (uint32_t row = begin; row < end; row += threads) {
    const int count = static_cast<int>(std::min<uint32_t>(threads, end - row));
#pragma omp simd
    for (int t = 0; t < count; ++t) lanes[t] = lanes[t] + term(statistic, x[row + t]);
  }
  float warps[32] = {};
  for (int w = 0; w < threads / 32; ++w) warps[w] = tree_sum_cpu(lanes + 32 * w);
  return tree_sum_cpu(warps);
}

__global__ void chunk_sums_kernel(BlockStatistic statistic, const float* x, const uint32_t* begin,
                                  const uint32_t* end, float* partials) {
  __shared__ float scratch[32];
  const uint32_t chunk = blockIdx.x;
  float sum = 0.0f;
  for (uint32_t i = begin[chunk] + threadIdx.x; i < end[chunk]; i += blockDim.x) sum = add_rn(sum, term(statistic, x[i]));
  sum = block_sum(sum, scratch);
  if (threadIdx.x == 0) partials[chunk] = sum;
}

__global__ void block_totals_kernel(BlockStatistic statistic, const float* partials, const uint32_t* first_chunk,
                                    const uint32_t* lengths, int blocks, float* out) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= blocks) return;
  double total = 0.0;
  for (uint32_t c = first_chunk[b]; c < first_chunk[b + 1]; ++c) total += partials[c];
  out[b] = finish(statistic, total, lengths[b]);
}

}  // namespace

BlockStatistics::BlockStatistics(Context& ctx, const std::vector<Block>& blocks) : blocks_(blocks) {
  std::vector<uint32_t> lengths;
  for (size_t b = 0; b < blocks.size(); ++b) {
    block_first_chunk_.push_back(static_cast<uint32_t>(chunk_block_.size()));
    lengths.push_back(static_cast<uint32_t>(blocks[b].length));
    const size_t end = blocks[b].offset + blocks[b].length;
    for (size_t start = blocks[b].offset; start < end; start += kChunk) {
      chunk_begin_.push_back(static_cast<uint32_t>(start));
      chunk_end_.push_back(static_cast<uint32_t>(std::min<size_t>(end, start + kChunk)));
      chunk_block_.push_back(static_cast<uint32_t>(b));
    }
  }
  block_first_chunk_.push_back(static_cast<uint32_t>(chunk_block_.size()));
  if (!ctx.is_cuda()) {
    cpu_partials_.resize(chunks());
    return;
  }
  const auto upload = [&](Buffer<uint32_t>& buffer, const std::vector<uint32_t>& values) {
    buffer = Buffer<uint32_t>(ctx, values.size());
    ctx.upload(buffer.data(), values.data(), values.size() * sizeof(uint32_t));
  };
  upload(device_begin_, chunk_begin_);
  upload(device_end_, chunk_end_);
  upload(device_first_chunk_, block_first_chunk_);
  upload(device_lengths_, lengths);
  partials_ = Buffer<float>(ctx, std::max<size_t>(1, chunks()));
}

void BlockStatistics::compute(Context& ctx, BlockStatistic statistic, const float* x, float* out) {
  NVTX_RANGE("block_statistics");
  if (!ctx.is_cuda()) {
    // Chunks over the threads, then each block's chunks in order: the same bits on any thread count.
    const long chunk_count = static_cast<long>(chunks());
#pragma omp parallel for schedule(static) if (chunk_count > 1)
    for (long c = 0; c < chunk_count; ++c) cpu_partials_[c] = chunk_sum_cpu(statistic, x, chunk_begin_[c], chunk_end_[c]);
    for (size_t b = 0; b < blocks_.size(); ++b) {
      double total = 0.0;
      for (uint32_t c = block_first_chunk_[b]; c < block_first_chunk_[b + 1]; ++c) total += cpu_partials_[c];
      out[b] = finish(statistic, total, static_cast<uint32_t>(blocks_[b].length));
    }
    return;
  }
  if (chunks() > 0) {
    chunk_sums_kernel<<<static_cast<unsigned>(chunks()), kThreads, 0, ctx.stream>>>(
        statistic, x, device_begin_.data(), device_end_.data(), partials_.data());
    CUDA_CHECK_LAUNCH();
  }
  const int blocks = static_cast<int>(blocks_.size());
  block_totals_kernel<<<grid_size(blocks), ::kThreads, 0, ctx.stream>>>(
      statistic, partials_.data(), device_first_chunk_.data(), device_lengths_.data(), blocks, out);
  CUDA_CHECK_LAUNCH();
}
