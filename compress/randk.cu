// Random-k per block: keep k = max(1, floor(ratio * d_b)) entries chosen uniformly without
// replacement (unscaled). The indices come from a permutation keyed by (seed, step, rank, block)
// that sender and receiver both compute, so the payload is the k values alone.
#include <memory>

#include "compress/operators.h"
#include "compress/permutation.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

// Element index of slot s (the j-th pick of block b).
HOST_DEVICE inline uint32_t pick(uint64_t seed, const MessageKey& key, const uint32_t* block_starts,
                                 const uint32_t* kept_starts, uint32_t blocks, uint32_t s) {
  const uint32_t b = block_of(kept_starts, blocks, s);
  const uint32_t length = block_starts[b + 1] - block_starts[b];
  const FeistelPermutation permutation(seed, key.step, key.rank, b, length);
  return block_starts[b] + permutation(s - kept_starts[b]);
}

__global__ void gather_kernel(const float* x, uint64_t seed, MessageKey key, const uint32_t* block_starts,
                              const uint32_t* kept_starts, uint32_t blocks, uint32_t kept, float* values, float* error) {
  for (uint32_t s : grid_stride<uint32_t>(kept)) {
    const uint32_t i = pick(seed, key, block_starts, kept_starts, blocks, s);
    values[s] = x[i];
    if (error != nullptr) error[i] = 0.0f;
  }
}

__global__ void scatter_kernel(const float* values, uint64_t seed, MessageKey key, const uint32_t* block_starts,
                               const uint32_t* kept_starts, uint32_t blocks, uint32_t kept, float* out,
                               const int* status) {
  if (status[0] != 0) return;  // refused: `out` stays all zeros
  for (uint32_t s : grid_stride<uint32_t>(kept))
    out[pick(seed, key, block_starts, kept_starts, blocks, s)] = values[s];
}

class RandomKCompressor : public Compressor {
 public:
  RandomKCompressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks)
      : Compressor(ctx, config, blocks), layout_(ctx, config.ratio, blocks), kept_(layout_.total()),
        kept_starts_(layout_.starts) {}

  size_t max_message_bytes() const override { return kHeaderBytes + 4 * kept_; }
  uint32_t header_parameter() const override { return static_cast<uint32_t>(kept_); }

  size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey& key) override {
    NVTX_RANGE("randk_compress");
    write_header(ctx, message, 4 * kept_);
    float* values = reinterpret_cast<float*>(message + kHeaderBytes);
    if (error != nullptr) ctx.copy(error, x, 4 * count_);  // the kept entries are zeroed below
    const uint32_t kept = static_cast<uint32_t>(kept_), blocks = static_cast<uint32_t>(blocks_.size());
    if (!ctx.is_cuda()) {
#pragma omp parallel for schedule(static) if (kept >= kCpuParallelFrom)  // the picks of a block are distinct
      for (uint32_t s = 0; s < kept; ++s) {
        const uint32_t i = pick(config_.seed, key, block_starts_.data(), kept_starts_.data(), blocks, s);
        values[s] = x[i];
        if (error != nullptr) error[i] = 0.0f;
      }
      return max_message_bytes();
    }
    gather_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(x, config_.seed, key, device_block_starts_.data(),
                                                                 layout_.device_starts.data(), blocks, kept, values, error);
    CUDA_CHECK_LAUNCH();
    return max_message_bytes();
  }

  void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey& key) override {
    NVTX_RANGE("randk_decompress");
    int* status = validate(ctx, message, bytes);
    const float* values = reinterpret_cast<const float*>(message + kHeaderBytes);
    ctx.fill_zero(out, 4 * count_);
    const uint32_t kept = static_cast<uint32_t>(kept_), blocks = static_cast<uint32_t>(blocks_.size());
    if (!ctx.is_cuda()) {
#pragma omp parallel for schedule(static) if (kept >= kCpuParallelFrom)
      for (uint32_t s = 0; s < kept; ++s)
        out[pick(config_.seed, key, block_starts_.data(), kept_starts_.data(), blocks, s)] = values[s];
      return;
    }
    scatter_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(values, config_.seed, key, device_block_starts_.data(),
                                                                  layout_.device_starts.data(), blocks, kept, out, status);
    CUDA_CHECK_LAUNCH();
  }

 private:
  KeptLayout layout_;
  const size_t kept_;
  const std::vector<uint32_t>& kept_starts_;
};

}  // namespace

std::unique_ptr<Compressor> make_randk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b) {
  return std::make_unique<RandomKCompressor>(ctx, c, b);
}
