// Walks a PNG's chunks (length, type, data, CRC) to drop the empty IDAT ones.
#include "data/png_chunks.h"

#include <algorithm>
#include <cstring>

namespace {

constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

uint32_t big_endian(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}

}  // namespace

bool drop_empty_png_data_chunks(const std::vector<uint8_t>& bytes, std::vector<uint8_t>* without) {
  if (bytes.size() < sizeof kSignature || std::memcmp(bytes.data(), kSignature, sizeof kSignature) != 0) return false;
  std::vector<std::pair<size_t, size_t>> dropped;  // [begin, end) of each empty IDAT chunk
  // A chunk: length (4 bytes), type (4), data, CRC (4). stb_image reads the length and type, then
  // the data, then the CRC: an empty IDAT at the very end, its CRC cut off, is copied all the same.
  for (size_t at = sizeof kSignature; bytes.size() - at >= 8;) {
    const uint32_t length = big_endian(&bytes[at]);
    if (length > bytes.size() - at - 8) break;  // data past the end: stb_image refuses it itself
    const size_t end = std::min(bytes.size(), at + 12 + length);
    if (length == 0 && std::memcmp(&bytes[at + 4], "IDAT", 4) == 0) dropped.emplace_back(at, end);
    at = end;
  }
  if (dropped.empty()) return false;
  without->clear();
  size_t kept_from = 0;
  for (const auto& [begin, end] : dropped) {
    without->insert(without->end(), bytes.begin() + static_cast<long>(kept_from), bytes.begin() + static_cast<long>(begin));
    kept_from = end;
  }
  without->insert(without->end(), bytes.begin() + static_cast<long>(kept_from), bytes.end());
  return true;
}
