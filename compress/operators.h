// The operators behind make_compressor(), one file each.
#pragma once

#include <memory>

#include "compress/compressor.h"

std::unique_ptr<Compressor> make_identity_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_sign_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_topk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_randk_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
std::unique_ptr<Compressor> make_dither_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b);
