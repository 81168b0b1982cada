// Scaled sign, one scale per block: C(v) = (||v||_1 / d_b) * sign(v), sign(0) = +1. The payload
// is the B block scales (float32), then the signs packed 32 to a word over the whole vector
// (bit i % 32 of word i / 32 is set when element i is >= 0). One block is "SignSGD", 5 MiB
// buckets "Blockwise-SignSGD". On the GPU each warp packs its 32 signs with one ballot, and the
// same pass writes the compression error.
#include <algorithm>
#include <memory>

#include "compress/block_statistics.h"
#include "engine/exact_math.h"
#include "compress/operators.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

HOST_DEVICE inline float signed_scale(float x, float scale) { return x >= 0.0f ? scale : -scale; }

// Threads walk whole warps of elements so that every ballot has all 32 lanes; lanes past the end
// vote 0. Lane 0 stores the word; every in-range lane writes its error.
__global__ void pack_signs_kernel(const float* x, uint32_t n, const float* scales, const uint32_t* block_starts,
                                  uint32_t blocks, uint32_t* words, float* error) {
  const size_t padded = (static_cast<size_t>(n) + 31) / 32 * 32;
  for (size_t i : grid_stride<size_t>(padded)) {
    const bool inside = i < n;
    const float v = inside ? x[i] : 0.0f;
    const uint32_t word = __ballot_sync(0xffffffffu, inside && v >= 0.0f);
    if (threadIdx.x % 32 == 0) words[i / 32] = word;
    if (inside && error != nullptr)
      error[i] = sub_rn(v, signed_scale(v, scales[block_of(block_starts, blocks, static_cast<uint32_t>(i))]));
  }
}

__global__ void unpack_signs_kernel(const uint32_t* words, const float* scales, const uint32_t* block_starts,
                                    uint32_t blocks, uint32_t n, float* out, const int* status) {
  const bool refused = status[0] != 0;  // then the message may be shorter: never read it
  for (size_t i : grid_stride<size_t>(n)) {
    if (refused) {
      out[i] = 0.0f;
      continue;
    }
    const bool positive = (words[i / 32] >> (i % 32)) & 1u;
    const float scale = scales[block_of(block_starts, blocks, static_cast<uint32_t>(i))];
    out[i] = positive ? scale : -scale;
  }
}

class SignCompressor : public Compressor {
 public:
  SignCompressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks)
      : Compressor(ctx, config, blocks), statistics_(ctx, blocks) {}

  size_t max_message_bytes() const override { return kHeaderBytes + scale_bytes() + 4 * words(); }
  bool capturable() const override { return true; }

  size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey&) override {
    NVTX_RANGE("sign_compress");
    float* scales = reinterpret_cast<float*>(message + kHeaderBytes);
    uint32_t* packed = reinterpret_cast<uint32_t*>(message + kHeaderBytes + scale_bytes());
    write_header(ctx, message, max_message_bytes() - kHeaderBytes);
    statistics_.compute(ctx, BlockStatistic::MeanAbs, x, scales);
    const uint32_t n = static_cast<uint32_t>(count_), b = static_cast<uint32_t>(blocks_.size());
    if (ctx.is_cuda()) {
      pack_signs_kernel<<<grid_size(words() * 32), kThreads, 0, ctx.stream>>>(x, n, scales,
                                                                              device_block_starts_.data(), b, packed, error);
      CUDA_CHECK_LAUNCH();
      return max_message_bytes();
    }
    const long word_count = static_cast<long>(words());
#pragma omp parallel for schedule(static) if (n >= kCpuParallelFrom)
    for (long w = 0; w < word_count; ++w) {
      const uint32_t lanes = std::min<uint32_t>(32, n - static_cast<uint32_t>(w) * 32);
      uint32_t word = 0;
#pragma omp simd reduction(| : word)
      for (uint32_t lane = 0; lane < lanes; ++lane) word |= uint32_t(x[w * 32 + lane] >= 0.0f) << lane;
      packed[w] = word;
    }
    if (error != nullptr)
      for (uint32_t block = 0; block < b; ++block) {
        const uint32_t start = block_starts_[block];
        const float scale = scales[block];
        cpu_for_each(block_starts_[block + 1] - start, [=](size_t j) {
          error[start + j] = sub_rn(x[start + j], signed_scale(x[start + j], scale));
        });
      }
    return max_message_bytes();
  }

  void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey&) override {
    NVTX_RANGE("sign_decompress");
    int* status = validate(ctx, message, bytes);
    const float* scales = reinterpret_cast<const float*>(message + kHeaderBytes);
    const uint32_t* packed = reinterpret_cast<const uint32_t*>(message + kHeaderBytes + scale_bytes());
    const uint32_t n = static_cast<uint32_t>(count_), b = static_cast<uint32_t>(blocks_.size());
    if (ctx.is_cuda()) {
      unpack_signs_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(packed, scales, device_block_starts_.data(), b, n,
                                                                     out, status);
      CUDA_CHECK_LAUNCH();
      return;
    }
    // Word by word (one load per 32 elements), clipped to the block at its two ends.
    for (uint32_t block = 0; block < b; ++block) {
      const uint32_t start = block_starts_[block], end = block_starts_[block + 1];
      if (start == end) continue;
      const float scale = scales[block];
      const long first = start / 32, last = (end - 1) / 32;
#pragma omp parallel for schedule(static) if (end - start >= kCpuParallelFrom)
      for (long w = first; w <= last; ++w) {
        const uint32_t word = packed[w], base = static_cast<uint32_t>(w) * 32;
        const uint32_t lo = std::max(start, base), hi = std::min(end, base + 32);
#pragma omp simd
        for (uint32_t i = lo; i < hi; ++i) out[i] = (word >> (i - base)) & 1u ? scale : -scale;
      }
    }
  }

 private:
  size_t scale_bytes() const { return 4 * blocks_.size(); }
  size_t words() const { return (count_ + 31) / 32; }
  BlockStatistics statistics_;
};

}  // namespace

std::unique_ptr<Compressor> make_sign_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b) {
  return std::make_unique<SignCompressor>(ctx, c, b);
}
