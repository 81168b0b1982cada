// The dithered quantizer with its entropy coder. Quantisation is element-wise (a kernel on the
// GPU); the variable-length coding runs on the host, so on the GPU the levels travel to the host
// and the coded message back: Malcom-PSGD's gossip pays a device round trip per message.
#include "compress/dither.h"

#include <cstring>
#include <memory>

#include "compress/block_statistics.h"
#include "compress/entropy_coder.h"
#include "compress/operators.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

struct BlockCodeHeader {
  uint32_t length;
  float norm;
  uint32_t nonzeros;
  uint32_t bits;
  uint8_t rice;
  uint8_t padding[3];
};
static_assert(sizeof(BlockCodeHeader) == kDitherBlockHeaderBytes, "20 bytes per block on the wire");

__global__ void quantize_kernel(const float* x, uint32_t n, const float* norms, const uint32_t* block_starts,
                                uint32_t blocks, int levels, uint64_t seed, MessageKey key, int16_t* out,
                                float* error) {
  for (uint32_t i : grid_stride<uint32_t>(n)) {
    const float norm = norms[block_of(block_starts, blocks, i)];
    const int16_t level = dither_level(x[i], norm, levels, dither_noise(seed, key.step, key.rank, i));
    out[i] = level;
    if (error != nullptr) error[i] = sub_rn(x[i], dither_value(level, norm, levels));
  }
}

int floor_log2(int v) {
  int bits = 0;
  while (v >>= 1) ++bits;
  return bits;
}

class DitherCompressor : public Compressor {
 public:
  DitherCompressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks)
      : Compressor(ctx, config, blocks), statistics_(ctx, blocks), levels_(count_), norms_(blocks.size()) {
    if (!ctx.is_cuda()) return;
    device_levels_ = Buffer<int16_t>(ctx, count_);
    device_norms_ = Buffer<float>(ctx, blocks.size());
  }

  bool variable_size() const override { return !fixed(); }
  uint32_t header_parameter() const override { return static_cast<uint32_t>(config_.levels); }

  size_t max_message_bytes() const override {
    if (fixed()) return closed_form_message_bytes(config_, blocks_);
    // Per element at most: the run's unary part and stop bit, the Rice remainder amortised over the
    // run, the sign and the Elias-gamma code: 5 + 2 floor(log2 s) bits.
    size_t bytes = kHeaderBytes;
    for (const Block& b : blocks_) bytes += kDitherBlockHeaderBytes + (b.length * (5 + 2 * floor_log2(config_.levels)) + 7) / 8;
    return bytes;
  }

  size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey& key) override {
    NVTX_RANGE("dither_compress");
    const uint32_t n = static_cast<uint32_t>(count_), blocks = static_cast<uint32_t>(blocks_.size());
    if (ctx.is_cuda()) {
      statistics_.compute(ctx, BlockStatistic::Norm2, x, device_norms_.data());
      quantize_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(x, n, device_norms_.data(), device_block_starts_.data(),
                                                                 blocks, config_.levels, config_.seed, key,
                                                                 device_levels_.data(), error);
      CUDA_CHECK_LAUNCH();
      ctx.download(norms_.data(), device_norms_.data(), norms_.size() * sizeof(float));
      ctx.download(levels_.data(), device_levels_.data(), levels_.size() * sizeof(int16_t));
    } else {
      statistics_.compute(ctx, BlockStatistic::Norm2, x, norms_.data());
      const uint32_t* starts = block_starts_.data();
      const float* norms = norms_.data();
      int16_t* levels = levels_.data();
      const int s = config_.levels;
      const uint64_t seed = config_.seed;
      cpu_for_each(n, [=](size_t j) {
        const uint32_t i = static_cast<uint32_t>(j);
        const float norm = norms[block_of(starts, blocks, i)];
        levels[i] = dither_level(x[i], norm, s, dither_noise(seed, key.step, key.rank, i));
        if (error != nullptr) error[i] = sub_rn(x[i], dither_value(levels[i], norm, s));
      });
    }
    encode();
    const size_t bytes = staged_.size();
    CHECK(bytes <= max_message_bytes(), "dither message of %zu bytes exceeds its bound %zu", bytes, max_message_bytes());
    if (ctx.is_cuda())
      ctx.upload(message, staged_.data(), bytes);  // staged by the driver before this returns
    else
      std::memcpy(message, staged_.data(), bytes);
    return bytes;
  }

  void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey&) override {
    NVTX_RANGE("dither_decompress");
    // The decoder runs on the host either way, so on the GPU the header is checked there too;
    // a refusal there still looks like a GPU decoder's (zeros, and check_messages() throws).
    if (!ctx.is_cuda()) {
      check_header(message, bytes);
      decode(message, bytes, out);
      return;
    }
    received_.resize(bytes);
    ctx.download(received_.data(), message, bytes);
    decoded_.resize(count_);
    try {
      check_header(received_.data(), bytes);
      decode(received_.data(), bytes, decoded_.data());
    } catch (const MessageError&) {
      refuse_on_device(ctx, out, count_);
      return;
    }
    ctx.upload(out, decoded_.data(), count_ * sizeof(float));
  }

 private:
  bool fixed() const { return config_.kind == CompressorKind::DitherFixed; }

  void encode() {
    staged_.assign(kHeaderBytes, 0);
    if (fixed()) {
      const int bits = dither_level_bits(config_.levels);
      for (size_t b = 0; b < blocks_.size(); ++b) {
        const auto* raw = reinterpret_cast<const uint8_t*>(&norms_[b]);
        staged_.insert(staged_.end(), raw, raw + sizeof(float));
        BitWriter code;
        for (size_t i = blocks_[b].offset; i < blocks_[b].offset + blocks_[b].length; ++i) {
          code.put(levels_[i] < 0 ? 1u : 0u, 1);
          code.put(static_cast<uint32_t>(levels_[i] < 0 ? -levels_[i] : levels_[i]), bits);
        }
        staged_.insert(staged_.end(), code.bytes().begin(), code.bytes().end());
      }
      const MessageHeader h = header(staged_.size() - kHeaderBytes);
      std::memcpy(staged_.data(), &h, sizeof h);
      return;
    }
    for (size_t b = 0; b < blocks_.size(); ++b) {
      const int16_t* levels = levels_.data() + blocks_[b].offset;
      const uint32_t length = static_cast<uint32_t>(blocks_[b].length);
      uint32_t nonzeros = 0;
      for (uint32_t i = 0; i < length; ++i) nonzeros += levels[i] != 0;
      BitWriter code;
      const uint8_t rice = rice_parameter(length, nonzeros);
      encode_levels(levels, length, rice, code);
      const BlockCodeHeader h{length, norms_[b], nonzeros, static_cast<uint32_t>(code.bits()), rice, {0, 0, 0}};
      const auto* raw = reinterpret_cast<const uint8_t*>(&h);
      staged_.insert(staged_.end(), raw, raw + sizeof h);
      staged_.insert(staged_.end(), code.bytes().begin(), code.bytes().end());
    }
    const MessageHeader h = header(staged_.size() - kHeaderBytes);
    std::memcpy(staged_.data(), &h, sizeof h);
  }

  void decode(const uint8_t* message, size_t bytes, float* out) {
    size_t at = kHeaderBytes;
    if (fixed()) {  // the size was checked with the header
      const int bits = dither_level_bits(config_.levels);
      for (const Block& b : blocks_) {
        float norm;
        std::memcpy(&norm, message + at, sizeof norm);
        at += sizeof norm;
        const size_t code_bytes = (b.length * (1 + bits) + 7) / 8;
        BitReader in(message + at, 8 * code_bytes);
        for (size_t i = b.offset; i < b.offset + b.length; ++i) {
          const bool negative = in.get(1) == 1;
          const uint32_t magnitude = in.get(bits);
          if (magnitude > static_cast<uint32_t>(config_.levels))
            throw MessageError("dither-fixed message refused: level above s");
          out[i] = dither_value(static_cast<int16_t>(negative ? -static_cast<int>(magnitude) : static_cast<int>(magnitude)),
                                norm, config_.levels);
        }
        at += code_bytes;
      }
      return;
    }
    for (size_t b = 0; b < blocks_.size(); ++b) {
      BlockCodeHeader h;
      if (at + sizeof h > bytes) throw MessageError("dither message refused: it ends inside a block header");
      std::memcpy(&h, message + at, sizeof h);
      at += sizeof h;
      if (h.length != blocks_[b].length || h.nonzeros > h.length || !std::isfinite(h.norm) ||
          at + (h.bits + 7) / 8 > bytes)
        throw MessageError("dither message refused: block " + std::to_string(b) + " does not fit its header");
      BitReader in(message + at, h.bits);
      int16_t* levels = levels_.data() + blocks_[b].offset;
      decode_levels(in, h.length, h.nonzeros, h.rice, config_.levels, levels);
      for (uint32_t i = 0; i < h.length; ++i) out[blocks_[b].offset + i] = dither_value(levels[i], h.norm, config_.levels);
      at += (h.bits + 7) / 8;
    }
    if (at != bytes) throw MessageError("dither message refused: bytes left after the last block");
  }

  BlockStatistics statistics_;
  std::vector<int16_t> levels_;
  std::vector<float> norms_, decoded_;
  std::vector<uint8_t> staged_, received_;
  Buffer<int16_t> device_levels_;
  Buffer<float> device_norms_;
};

}  // namespace

DitherCodeStats dither_code_stats(const uint8_t* message, size_t bytes, int levels) {
  DitherCodeStats stats;
  stats.message_bits = 8 * bytes;
  for (size_t at = kHeaderBytes; at < bytes;) {
    BlockCodeHeader h;
    if (at + sizeof h > bytes) throw MessageError("dither message ends inside a block header");
    std::memcpy(&h, message + at, sizeof h);
    stats.nonzeros += h.nonzeros;
    stats.code_bits += h.bits;
    stats.qsgd_bound_bits += qsgd_bits_bound(h.length, levels);
    at += sizeof h + (h.bits + 7) / 8;
  }
  return stats;
}

std::unique_ptr<Compressor> make_dither_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b) {
  return std::make_unique<DitherCompressor>(ctx, c, b);
}
