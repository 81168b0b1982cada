// Message headers.
#include "compress/wire.h"

const char* compressor_name(CompressorKind kind) {
  switch (kind) {
    case CompressorKind::Identity: return "identity";
    case CompressorKind::Sign: return "sign";
    case CompressorKind::TopK: return "topk";
    case CompressorKind::RandomK: return "randk";
    case CompressorKind::Dither: return "dither";
    case CompressorKind::DitherFixed: return "dither-fixed";
  }
  return "unknown";
}

MessageHeader make_header(CompressorKind kind, size_t count, size_t blocks, size_t payload_bytes, uint32_t parameter) {
  MessageHeader h{};
  h.magic = kMessageMagic;
  h.kind = static_cast<uint8_t>(kind);
  h.version = kWireVersion;
  h.count = static_cast<uint32_t>(count);
  h.blocks = static_cast<uint32_t>(blocks);
  h.payload_bytes = static_cast<uint32_t>(payload_bytes);
  h.parameter = parameter;
  return h;
}

std::string header_mismatch(const MessageHeader& got, const MessageHeader& expected, size_t message_bytes,
                            bool variable_payload) {
  if (message_bytes < kHeaderBytes) return "message of " + std::to_string(message_bytes) + " bytes has no header";
  if (got.magic != kMessageMagic) return "not a message (bad magic number)";
  if (got.version != expected.version)
    return "wire version " + std::to_string(got.version) + ", expected " + std::to_string(expected.version);
  if (got.kind != expected.kind)
    return std::string("a ") + compressor_name(static_cast<CompressorKind>(got.kind)) + " message, expected " +
           compressor_name(static_cast<CompressorKind>(expected.kind));
  if (got.count != expected.count)
    return "a vector of " + std::to_string(got.count) + " elements, expected " + std::to_string(expected.count);
  if (got.blocks != expected.blocks)
    return std::to_string(got.blocks) + " blocks, expected " + std::to_string(expected.blocks);
  if (got.parameter != expected.parameter)
    return "parameter " + std::to_string(got.parameter) + ", expected " + std::to_string(expected.parameter);
  if (kHeaderBytes + got.payload_bytes != message_bytes)
    return "header says " + std::to_string(got.payload_bytes) + " payload bytes, message has " +
           std::to_string(message_bytes - kHeaderBytes);
  if (!variable_payload && got.payload_bytes != expected.payload_bytes)
    return std::to_string(got.payload_bytes) + " payload bytes, expected " + std::to_string(expected.payload_bytes);
  return "";
}
