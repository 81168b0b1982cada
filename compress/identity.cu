// The identity operator: the float32 vector itself, the uncompressed baseline (32 bits/element).
#include <cstring>

#include "compress/operators.h"
#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__global__ void copy_payload_kernel(float* out, const float* payload, size_t n, const int* status) {
  const bool refused = status[0] != 0;  // then the payload may be shorter than n: never read it
  for (size_t i : grid_stride<size_t>(n))
    if (refused)
      out[i] = 0.0f;
    else
      out[i] = payload[i];
}

class IdentityCompressor : public Compressor {
 public:
  using Compressor::Compressor;

  size_t max_message_bytes() const override { return kHeaderBytes + 4 * count_; }
  bool capturable() const override { return true; }

  size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey&) override {
    NVTX_RANGE("identity_compress");
    write_header(ctx, message, 4 * count_);
    ctx.copy(message + kHeaderBytes, x, 4 * count_);
    if (error != nullptr) ctx.fill_zero(error, 4 * count_);  // x - C(x) = 0
    return max_message_bytes();
  }

  void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey&) override {
    NVTX_RANGE("identity_decompress");
    int* status = validate(ctx, message, bytes);
    const auto* payload = reinterpret_cast<const float*>(message + kHeaderBytes);
    if (!ctx.is_cuda()) {
      std::memcpy(out, payload, 4 * count_);
      return;
    }
    copy_payload_kernel<<<grid_size(count_), kThreads, 0, ctx.stream>>>(out, payload, count_, status);
    CUDA_CHECK_LAUNCH();
  }
};

}  // namespace

std::unique_ptr<Compressor> make_identity_compressor(Context& ctx, const CompressorConfig& c, const std::vector<Block>& b) {
  return std::make_unique<IdentityCompressor>(ctx, c, b);
}
