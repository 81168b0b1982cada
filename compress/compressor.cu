// The Compressor base: headers written and checked, block lookup tables, and the factory.
#include "compress/compressor.h"

#include <cmath>
#include <cstring>

#include "compress/dither.h"
#include "compress/operators.h"
#include "engine/check.h"

namespace {

__global__ void write_header_kernel(uint8_t* message, MessageHeader header) {
  if (threadIdx.x == 0) *reinterpret_cast<MessageHeader*>(message) = header;
}

// Device twin of header_mismatch(): only whether, not why (the host side says why on the CPU).
__global__ void check_header_kernel(const uint8_t* message, size_t bytes, MessageHeader expected, bool variable,
                                    int* status) {
  if (threadIdx.x != 0) return;
  MessageHeader got{};
  if (bytes >= kHeaderBytes) got = *reinterpret_cast<const MessageHeader*>(message);  // never read past the end
  const bool accepted = bytes >= kHeaderBytes && got.magic == kMessageMagic && got.version == expected.version &&
                        got.kind == expected.kind && got.count == expected.count && got.blocks == expected.blocks &&
                        got.parameter == expected.parameter && kHeaderBytes + got.payload_bytes == bytes &&
                        (variable || got.payload_bytes == expected.payload_bytes);
  status[0] = accepted ? 0 : 1;
  if (!accepted) status[1] = 1;
}

}  // namespace

Compressor::Compressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks)
    : config_(config), blocks_(blocks), count_(0) {
  CHECK(!blocks.empty(), "a compressor needs at least one block");
  for (const Block& b : blocks) {
    CHECK(b.offset == count_ && b.length > 0, "blocks must tile the vector in order without gaps");
    block_starts_.push_back(static_cast<uint32_t>(count_));
    count_ += b.length;
  }
  // The kernels' grid-stride loops count in 32 bits (one past the end plus a grid's stride must
  // not wrap) and CUB's sorts take int counts: 2^31 elements, 8 GiB of float32, is the limit.
  CHECK(count_ < (1ull << 31), "vectors of 2^31 elements or more are not supported");
  block_starts_.push_back(static_cast<uint32_t>(count_));
  if (ctx.is_cuda()) {
    device_block_starts_ = Buffer<uint32_t>(ctx, block_starts_.size());
    ctx.upload(device_block_starts_.data(), block_starts_.data(), block_starts_.size() * sizeof(uint32_t));
    status_ = Buffer<int>(ctx, 2);
    ctx.fill_zero(status_.data(), status_.bytes());
  }
}

MessageHeader Compressor::header(size_t payload_bytes) const {
  return make_header(config_.kind, count_, blocks_.size(), payload_bytes, header_parameter());
}

void Compressor::write_header(Context& ctx, uint8_t* message, size_t payload_bytes) {
  const MessageHeader h = header(payload_bytes);
  if (!ctx.is_cuda()) {
    std::memcpy(message, &h, sizeof h);
    return;
  }
  write_header_kernel<<<1, 32, 0, ctx.stream>>>(message, h);  // by value: no host-device copy to wait for
  CUDA_CHECK_LAUNCH();
}

void Compressor::check_header(const uint8_t* host_message, size_t bytes) const {
  MessageHeader got{};
  if (bytes >= kHeaderBytes) std::memcpy(&got, host_message, sizeof got);
  const std::string why = header_mismatch(got, header(variable_size() ? 0 : max_message_bytes() - kHeaderBytes),
                                          bytes, variable_size());
  if (!why.empty()) throw MessageError(std::string(compressor_name(kind())) + " message refused: " + why);
}

int* Compressor::validate(Context& ctx, const uint8_t* message, size_t bytes) {
  if (!ctx.is_cuda()) {
    check_header(message, bytes);
    return nullptr;
  }
  const MessageHeader expected = header(variable_size() ? 0 : max_message_bytes() - kHeaderBytes);
  check_header_kernel<<<1, 32, 0, ctx.stream>>>(message, bytes, expected, variable_size(), status_.data());
  CUDA_CHECK_LAUNCH();
  return status_.data();
}

void Compressor::refuse_on_device(Context& ctx, float* out, size_t n) {
  const int refused[2] = {1, 1};
  ctx.upload(status_.data(), refused, sizeof refused);
  ctx.fill_zero(out, n * sizeof(float));
}

void Compressor::check_messages(Context& ctx) {
  if (!ctx.is_cuda()) return;  // the CPU refuses at once
  int status[2];
  ctx.download(status, status_.data(), sizeof status);
  if (status[1] == 0) return;
  ctx.fill_zero(status_.data(), status_.bytes());
  throw MessageError(std::string(compressor_name(kind())) + " message refused: its header does not match");
}

KeptLayout::KeptLayout(Context& ctx, double ratio, const std::vector<Block>& blocks) : starts{0} {
  for (const Block& b : blocks) starts.push_back(starts.back() + static_cast<uint32_t>(kept_per_block(ratio, b.length)));
  if (!ctx.is_cuda()) return;
  device_starts = Buffer<uint32_t>(ctx, starts.size());
  ctx.upload(device_starts.data(), starts.data(), starts.size() * sizeof(uint32_t));
}

size_t kept_per_block(double ratio, size_t length) {
  const size_t k = static_cast<size_t>(std::floor(ratio * static_cast<double>(length)));
  return std::min(length, std::max<size_t>(1, k));
}

size_t closed_form_message_bytes(const CompressorConfig& config, const std::vector<Block>& blocks) {
  size_t count = 0, kept = 0;
  for (const Block& b : blocks) {
    count += b.length;
    kept += kept_per_block(config.ratio, b.length);
  }
  switch (config.kind) {
    case CompressorKind::Identity: return kHeaderBytes + 4 * count;
    case CompressorKind::Sign: return kHeaderBytes + 4 * blocks.size() + 4 * ((count + 31) / 32);
    case CompressorKind::TopK: return kHeaderBytes + 8 * kept;
    case CompressorKind::RandomK: return kHeaderBytes + 4 * kept;
    case CompressorKind::DitherFixed: {
      size_t bytes = kHeaderBytes;
      for (const Block& b : blocks) bytes += 4 + (b.length * (1 + dither_level_bits(config.levels)) + 7) / 8;
      return bytes;
    }
    case CompressorKind::Dither: break;
  }
  fail_internal(__FILE__, __LINE__, "%s messages have no fixed size", compressor_name(config.kind));
}

CompressorKind parse_compressor(const std::string& name) {
  for (CompressorKind k : {CompressorKind::Identity, CompressorKind::Sign, CompressorKind::TopK, CompressorKind::RandomK,
                           CompressorKind::Dither, CompressorKind::DitherFixed})
    if (name == compressor_name(k)) return k;
  fail_input("unknown --compressor '%s' (expected identity, sign, topk, randk, dither or dither-fixed)", name.c_str());
}

void validate_ratio(double ratio) {
  if (!(ratio > 0.0 && ratio <= 1.0)) fail_input("--ratio must be in (0, 1], got %g", ratio);
}

void validate_levels(int levels) {
  if (levels < 1 || levels > kMaxDitherLevels) fail_input("--levels must be in [1, %d], got %d", kMaxDitherLevels, levels);
}

std::unique_ptr<Compressor> make_compressor(Context& ctx, const CompressorConfig& config,
                                            const std::vector<Block>& blocks) {
  switch (config.kind) {
    case CompressorKind::Identity: return make_identity_compressor(ctx, config, blocks);
    case CompressorKind::Sign: return make_sign_compressor(ctx, config, blocks);
    case CompressorKind::TopK:
      validate_ratio(config.ratio);
      return make_topk_compressor(ctx, config, blocks);
    case CompressorKind::RandomK:
      validate_ratio(config.ratio);
      return make_randk_compressor(ctx, config, blocks);
    case CompressorKind::Dither:
    case CompressorKind::DitherFixed:
      validate_levels(config.levels);
      return make_dither_compressor(ctx, config, blocks);
  }
  fail_input("unknown compressor kind %d", static_cast<int>(config.kind));
}
