// The packed wire format shared by every compressor: a 32-byte header (what the operator is, how
// long the vector is, how it is cut into blocks, how many payload bytes follow), then the payload.
// A receiver checks the header against what it expects before it decodes a single byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

// Dither: the dithered quantizer with the entropy coder (Malcom-PSGD); DitherFixed: the same
// quantizer with a fixed-length code, a sign bit and ceil(log2(s + 1)) level bits (CHOCO-SGD).
enum class CompressorKind : uint8_t { Identity = 1, Sign = 2, TopK = 3, RandomK = 4, Dither = 5, DitherFixed = 6 };

const char* compressor_name(CompressorKind kind);

constexpr uint32_t kMessageMagic = 0x4753534du;  // "MSSG" in little-endian bytes
constexpr uint8_t kWireVersion = 1;
constexpr size_t kHeaderBytes = 32;

struct MessageHeader {
  uint32_t magic;
  uint8_t kind;
  uint8_t version;
  uint16_t reserved;
  uint32_t count;          // elements of the vector
  uint32_t blocks;         // blocks it is cut into
  uint32_t payload_bytes;  // bytes after the header
  uint32_t parameter;      // kept elements (top-k, random-k), levels (dither), else 0
  uint64_t reserved2;
};
static_assert(sizeof(MessageHeader) == kHeaderBytes, "the header is 32 bytes on the wire");

// What decoding a refused message throws (on the CPU; the GPU flags it, see Compressor).
struct MessageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

MessageHeader make_header(CompressorKind kind, size_t count, size_t blocks, size_t payload_bytes, uint32_t parameter);

// Empty if `got`, the header of a message of `message_bytes` bytes, is what `expected` says
// (payload size included unless `variable_payload`), else the reason it is refused.
std::string header_mismatch(const MessageHeader& got, const MessageHeader& expected, size_t message_bytes,
                            bool variable_payload);
