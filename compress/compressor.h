// One interface for every compression operator of docs/algorithms.md: a flat float32 vector, cut into
// blocks, becomes a packed message and back, on the CPU or the GPU, with the same bytes on both.
// The compression error x - C(x), which every error-feedback method needs, comes out of the same
// pass. Messages live in the context's memory so that transports can send them as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compress/wire.h"
#include "engine/host_device.h"
#include "engine/params.h"
#include "engine/tensor.h"

struct CompressorConfig {
  CompressorKind kind = CompressorKind::Identity;
  double ratio = 0.01;  // top-k, random-k: k = max(1, floor(ratio * d_b)) per block
  int levels = 16;      // dither: s
  uint64_t seed = 0;    // random-k indices, dither noise
};

// The randomness both ends of one message agree on: random-k's indices and the dither noise are
// drawn from (seed, step, rank, block), so only the kept values travel.
struct MessageKey {
  uint64_t step = 0;
  uint32_t rank = 0;
};

class Compressor {
 public:
  Compressor(Context& ctx, const CompressorConfig& config, const std::vector<Block>& blocks);
  virtual ~Compressor() = default;
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  CompressorKind kind() const { return config_.kind; }
  const CompressorConfig& config() const { return config_; }
  size_t count() const { return count_; }
  const std::vector<Block>& blocks() const { return blocks_; }

  // The size of every message (fixed-size operators) or an upper bound (dither).
  virtual size_t max_message_bytes() const = 0;
  virtual bool variable_size() const { return false; }
  // Whether compress and decompress launch the same kernels with the same arguments at every
  // step, whatever the key and the data, so that a CUDA graph can replay them (comm/step_graph.h).
  // Random-k and the dithered quantizer draw from the message key, the entropy coder works on the host.
  virtual bool capturable() const { return false; }

  // Packs C(x) into `message` (at least max_message_bytes()) and, unless `error` is null, writes
  // x - C(x) there. Returns the message's size in bytes.
  virtual size_t compress(Context& ctx, const float* x, uint8_t* message, float* error, const MessageKey& key) = 0;

  // Writes C(x) into `out`. A message whose header is not what this compressor would have sent
  // is refused: on the CPU at once (MessageError); on the GPU, where reading the header would
  // stall the step, the decoding kernels write zeros and flag it, and check_messages() reports it.
  virtual void decompress(Context& ctx, const uint8_t* message, size_t bytes, float* out, const MessageKey& key) = 0;

  // Waits for the device and throws MessageError if a message was refused since the last call.
  void check_messages(Context& ctx);

 protected:
  // The header this compressor writes for a payload of `payload_bytes`.
  MessageHeader header(size_t payload_bytes) const;
  virtual uint32_t header_parameter() const { return 0; }
  // Writes the header at the start of `message` (stream-ordered on the GPU).
  void write_header(Context& ctx, uint8_t* message, size_t payload_bytes);
  // Throws MessageError unless the header of this message, in host memory, is what we expect.
  void check_header(const uint8_t* host_message, size_t bytes) const;
  // Checks a received message's header. CPU: throws on mismatch. GPU: launches the check and
  // returns the device flag that the decoding kernels must honour (0 = accepted).
  int* validate(Context& ctx, const uint8_t* message, size_t bytes);
  // For a decoder that refuses on the host what it received on the GPU (the dithered quantizer's):
  // what a refusing kernel does, zeros in the n floats of `out` and the flags check_messages() reads.
  void refuse_on_device(Context& ctx, float* out, size_t n);

  // The block that element i belongs to (binary search over block_starts, B + 1 entries).
  std::vector<uint32_t> block_starts_;
  Buffer<uint32_t> device_block_starts_;
  CompressorConfig config_;
  std::vector<Block> blocks_;
  size_t count_;

 private:
  // [0]: the message being decoded was refused; [1]: some message was, since check_messages().
  Buffer<int> status_;
};

// The block holding element i, given the B + 1 block start offsets (the last is the length).
HOST_DEVICE inline uint32_t block_of(const uint32_t* starts, uint32_t blocks, uint32_t i) {
  uint32_t low = 0, high = blocks;  // starts[low] <= i < starts[high]
  while (high - low > 1) {
    const uint32_t mid = (low + high) / 2;
    if (starts[mid] <= i) low = mid; else high = mid;
  }
  return low;
}

// Dithered levels travel as int16.
constexpr int kMaxDitherLevels = 32767;

// One-line user errors: a top-k or random-k ratio outside (0, 1], dither levels outside
// [1, kMaxDitherLevels].
void validate_ratio(double ratio);
void validate_levels(int levels);

// Stops with a one-line error on an impossible configuration for its kind (the two above).
std::unique_ptr<Compressor> make_compressor(Context& ctx, const CompressorConfig& config,
                                            const std::vector<Block>& blocks);

// The packed size of a fixed-size operator's message for these blocks, from its closed form.
size_t closed_form_message_bytes(const CompressorConfig& config, const std::vector<Block>& blocks);

CompressorKind parse_compressor(const std::string& name);

// Kept elements per block for top-k and random-k: max(1, floor(ratio * d_b)).
size_t kept_per_block(double ratio, size_t length);
