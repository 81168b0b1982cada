// Top-k per block: keep the k = max(1, floor(ratio * d_b)) entries of largest magnitude (ties: the
// lower index), zero the rest. Payload: all kept indices (uint32, ascending), then their values.
// GPU: one stable radix sort (CUB) over the whole vector, descending on the key (block, |v|) with
// the element index as value: every block's entries come out together, largest first, and equal
// magnitudes keep their index order, which is exactly the tie rule. A second, small sort of the
// winners on (block, index) puts them back in index order. Both sorts use every SM, where a
// segmented sort would give each (large) block to a single thread block.
#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>

#include <cub/device/device_radix_sort.cuh>

#include "compress/operators.h"
#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

// Bits needed for block ids below `blocks`: the sorts skip the key bits that are always zero.
int block_bits(size_t blocks) {
  int bits = 0;
  while ((size_t(1) << bits) < blocks) ++bits;
  return bits;
}

__global__ void make_keys_kernel(const float* x, uint32_t n, const uint32_t* block_starts, uint32_t blocks,
                                 uint64_t* keys, uint32_t* indices) {
  for (uint32_t i : grid_stride<uint32_t>(n)) {
    const uint64_t block = block_of(block_starts, blocks, i);
    keys[i] = (block << 32) | __float_as_uint(fabsf(x[i]));
    indices[i] = i;
  }
}

// Slot s of the K kept entries: the (s - kept_starts[b])-th best of block b, which sits after the
// blocks above b in the descending order. Its new key orders the winners by (block, index).
__global__ void take_winners_kernel(const uint32_t* sorted_indices, const uint32_t* block_starts,
                                    const uint32_t* kept_starts, uint32_t blocks, uint32_t n, uint32_t kept,
                                    uint64_t* winners) {
  for (uint32_t s : grid_stride<uint32_t>(kept)) {
    const uint32_t b = block_of(kept_starts, blocks, s);
    const uint32_t index = sorted_indices[(n - block_starts[b + 1]) + (s - kept_starts[b])];
    winners[s] = (static_cast<uint64_t>(b) << 32) | index;
  }
}

__global__ void write_values_kernel(const float* x, const uint64_t* winners, uint32_t kept, uint32_t* indices,
                                    float* values, float* error) {
  for (uint32_t s : grid_stride<uint32_t>(kept)) {
    const uint32_t i = static_cast<uint32_t>(winners[s]);
    indices[s] = i;
    values[s] = x[i];
    if (error != nullptr) error[i] = 0.0f;
  }
}

// Whether kept index s may stand where it does: inside the vector, and above the one before it
// (the payload's indices ascend, so none repeats: a repeated one would make the decoded value
// depend on which thread's store lands last).
HOST_DEVICE inline bool index_in_order(const uint32_t* indices, uint32_t s, uint32_t n) {
  return indices[s] < n && (s == 0 || indices[s] > indices[s - 1]);
}

// An index out of range or out of order refuses the whole message, like a bad header.
__global__ void check_indices_kernel(const uint32_t* indices, uint32_t kept, uint32_t n, int* status) {
  if (status[0] != 0) return;
  for (uint32_t s : grid_stride<uint32_t>(kept))
    if (!index_in_order(indices, s, n)) status[0] = status[1] = 1;
}

__global__ void scatter_kernel(const uint32_t* indices, const float* values, uint32_t kept, float* out,
                               const int* status) {
  if (status[0] != 0) return;  // refused: `out` stays all zeros
  for (uint32_t s : grid_stride<uint32_t>(kept))
    out[indices[s]] = values[s];
}

class TopKCompressor : public Compressor {
 public:
  TopKCompressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks)
      : Compressor(ctx, config, blocks), layout_(ctx, config.ratio, blocks), kept_(layout_.total()),
        kept_starts_(layout_.starts) {
    if (!ctx.is_cuda()) return;
    keys_ = Buffer<uint64_t>(ctx, count_);
    sorted_keys_ = Buffer<uint64_t>(ctx, count_);
    order_ = Buffer<uint32_t>(ctx, count_);
    sorted_order_ = Buffer<uint32_t>(ctx, count_);
    winners_ = Buffer<uint64_t>(ctx, kept_);
    sorted_winners_ = Buffer<uint64_t>(ctx, kept_);
    key_bits_ = 32 + block_bits(blocks.size());
    // Both sorts' scratch sizes are fixed by the shapes: ask once, allocate once.
    size_t by_magnitude = 0, by_index = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, by_magnitude, keys_.data(), sorted_keys_.data(),
                                                         order_.data(), sorted_order_.data(), static_cast<int>(count_),
                                                         0, key_bits_, ctx.stream));
    CUDA_CHECK(cub::DeviceRadixSort::SortKeys(nullptr, by_index, winners_.data(), sorted_winners_.data(),
                                              static_cast<int>(kept_), 0, key_bits_, ctx.stream));
    sort_scratch_ = Buffer<uint8_t>(ctx, std::max(by_magnitude, by_index));
  }

  size_t max_message_bytes() const override { return kHeaderBytes + 8 * kept_; }
  bool capturable() const override { return true; }
  uint32_t header_parameter() const override { return static_cast<uint32_t>(kept_); }

  size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey&) override {
    NVTX_RANGE("topk_compress");
    write_header(ctx, message, 8 * kept_);
    uint32_t* indices = reinterpret_cast<uint32_t*>(message + kHeaderBytes);
    float* values = reinterpret_cast<float*>(message + kHeaderBytes + 4 * kept_);
    if (error != nullptr) ctx.copy(error, x, 4 * count_);  // the kept entries are zeroed below
    if (!ctx.is_cuda()) {
      compress_cpu(x, indices, values, error);
      return max_message_bytes();
    }
    const uint32_t n = static_cast<uint32_t>(count_), kept = static_cast<uint32_t>(kept_),
                   blocks = static_cast<uint32_t>(blocks_.size());
    make_keys_kernel<<<grid_size(count_), kThreads, 0, ctx.stream>>>(x, n, device_block_starts_.data(), blocks,
                                                                     keys_.data(), order_.data());
    CUDA_CHECK_LAUNCH();
    size_t scratch = sort_scratch_.bytes();
    CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(sort_scratch_.data(), scratch, keys_.data(),
                                                         sorted_keys_.data(), order_.data(), sorted_order_.data(),
                                                         static_cast<int>(n), 0, key_bits_, ctx.stream));
    take_winners_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(
        sorted_order_.data(), device_block_starts_.data(), layout_.device_starts.data(), blocks, n, kept,
        winners_.data());
    CUDA_CHECK_LAUNCH();
    scratch = sort_scratch_.bytes();
    CUDA_CHECK(cub::DeviceRadixSort::SortKeys(sort_scratch_.data(), scratch, winners_.data(), sorted_winners_.data(),
                                              static_cast<int>(kept), 0, key_bits_, ctx.stream));
    write_values_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(x, sorted_winners_.data(), kept, indices, values,
                                                                      error);
    CUDA_CHECK_LAUNCH();
    return max_message_bytes();
  }

  void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey&) override {
    NVTX_RANGE("topk_decompress");
    int* status = validate(ctx, message, bytes);
    const uint32_t* indices = reinterpret_cast<const uint32_t*>(message + kHeaderBytes);
    const float* values = reinterpret_cast<const float*>(message + kHeaderBytes + 4 * kept_);
    ctx.fill_zero(out, 4 * count_);
    if (!ctx.is_cuda()) {
      for (uint32_t s = 0; s < kept_; ++s)  // all checked before any is written, as on the GPU
        if (!index_in_order(indices, s, static_cast<uint32_t>(count_)))
          throw MessageError("topk message refused: an index out of range or not above the one before it");
      for (size_t s = 0; s < kept_; ++s) out[indices[s]] = values[s];
      return;
    }
    const uint32_t kept = static_cast<uint32_t>(kept_);
    check_indices_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(indices, kept, static_cast<uint32_t>(count_),
                                                                        status);
    CUDA_CHECK_LAUNCH();
    scatter_kernel<<<grid_size(kept_), kThreads, 0, ctx.stream>>>(indices, values, kept, out, status);
    CUDA_CHECK_LAUNCH();
  }

 private:
  // Blocks over the threads, each selecting in its own stretch of cpu_order_ (one index per element).
  void compress_cpu(const float* x, uint32_t* indices, float* values, float* error) {
    cpu_order_.resize(count_);  // once: the size never changes
    const long block_count = static_cast<long>(blocks_.size());
#pragma omp parallel for schedule(dynamic) if (block_count > 1)
    for (long b = 0; b < block_count; ++b) {
      const uint32_t start = block_starts_[b], end = block_starts_[b + 1];
      const size_t k = kept_starts_[b + 1] - kept_starts_[b];
      const auto order_begin = cpu_order_.begin() + start, order_end = cpu_order_.begin() + end;
      std::iota(order_begin, order_end, start);
      const auto better = [x](uint32_t i, uint32_t j) {
        const float a = std::fabs(x[i]), c = std::fabs(x[j]);
        return a > c || (a == c && i < j);
      };
      std::nth_element(order_begin, order_begin + (k - 1), order_end, better);
      std::sort(order_begin, order_begin + k);
      for (size_t s = 0; s < k; ++s) {
        const uint32_t i = order_begin[s];
        indices[kept_starts_[b] + s] = i;
        values[kept_starts_[b] + s] = x[i];
        if (error != nullptr) error[i] = 0.0f;
      }
    }
  }

  KeptLayout layout_;
  const size_t kept_;
  const std::vector<uint32_t>& kept_starts_;
  int key_bits_ = 64;
  Buffer<uint64_t> keys_, sorted_keys_, winners_, sorted_winners_;
  Buffer<uint32_t> order_, sorted_order_;
  std::vector<uint32_t> cpu_order_;
  Buffer<uint8_t> sort_scratch_;
};

}  // namespace

std::unique_ptr<Compressor> make_topk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b) {
  return std::make_unique<TopKCompressor>(ctx, c, b);
}
