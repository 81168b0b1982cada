// What the fuzz harnesses share: the small readers that turn the fuzzer's bytes into a harness's inputs.
//
// A harness passes when the parser either accepts its input or refuses it with the one error type
// it promises (UserError for files and flags, MessageError for messages). Anything else is a
// defect libFuzzer reports: a sanitizer finding, another exception (an InternalError), a
// hang (-timeout), or memory past -rss_limit_mb.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/check.h"

// The fuzzer's bytes, read front to back; past the end every read gives zeros.
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t byte() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() {
    const uint16_t low = byte();
    return static_cast<uint16_t>(low | (byte() << 8));
  }
  // What is left, as bytes.
  std::vector<uint8_t> rest() const { return std::vector<uint8_t>(data_ + std::min(at_, size_), data_ + size_); }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

// The parts of a byte string cut at every `separator`.
inline std::vector<std::vector<uint8_t>> split_bytes(const std::vector<uint8_t>& bytes, uint8_t separator) {
  std::vector<std::vector<uint8_t>> parts(1);
  for (uint8_t b : bytes) {
    if (b == separator) parts.emplace_back();
    else parts.back().push_back(b);
  }
  return parts;
}
