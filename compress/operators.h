// The operators behind make_compressor(), one file each.
#pragma once

#include <memory>

#include "compress/compressor.h"

// How many entries top-k and random-k keep per block: slot s of the K kept entries belongs to the
// block b with starts[b] <= s < starts[b + 1] (on the host, and on the device for GPU contexts).
struct KeptLayout {
  KeptLayout(Context& ctx, double ratio, const std::vector<Block>& blocks);
  std::vector<uint32_t> starts;
  Buffer<uint32_t> device_starts;
  size_t total() const { return starts.back(); }
};

std::unique_ptr<Compressor> make_identity_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_sign_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_topk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_randk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_dither_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
