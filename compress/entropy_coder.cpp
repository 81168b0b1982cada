// Golomb-Rice and Elias-gamma bit codes.
#include "compress/entropy_coder.h"

#include <cmath>

#include "compress/wire.h"

void BitWriter::put(uint32_t value, int bits) {
  for (int b = bits - 1; b >= 0; --b) {
    if (bits_ % 8 == 0) bytes_.push_back(0);
    if ((value >> b) & 1u) bytes_.back() |= static_cast<uint8_t>(0x80u >> (bits_ % 8));
    ++bits_;
  }
}

void BitWriter::put_unary(uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) put(1, 1);
  put(0, 1);
}

uint32_t BitReader::get(int bits) {
  if (position_ + bits > bits_) throw MessageError("dither message refused: the code ends early");
  uint32_t value = 0;
  for (int b = 0; b < bits; ++b, ++position_) value = (value << 1) | ((data_[position_ / 8] >> (7 - position_ % 8)) & 1u);
  return value;
}

uint32_t BitReader::get_unary(uint32_t limit) {
  uint32_t count = 0;
  while (get(1) == 1)
    if (++count > limit) throw MessageError("dither message refused: a run is longer than its block");
  return count;
}

uint8_t rice_parameter(uint32_t n, uint32_t nonzeros) {
  if (nonzeros == 0) return 0;
  const double mean_run = static_cast<double>(n - nonzeros) / nonzeros;
  uint8_t parameter = 0;
  while (parameter < 31 && (2.0 * (1u << parameter)) <= mean_run) ++parameter;
  return parameter;
}

namespace {
int floor_log2(uint32_t v) {
  int bits = 0;
  while (v >>= 1) ++bits;
  return bits;
}
}  // namespace

void encode_levels(const int16_t* levels, uint32_t n, uint8_t rice, BitWriter& out) {
  uint32_t run = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (levels[i] == 0) {
      ++run;
      continue;
    }
    out.put_unary(run >> rice);
    out.put(run & ((1u << rice) - 1u), rice);
    out.put(levels[i] < 0 ? 1u : 0u, 1);
    const uint32_t magnitude = static_cast<uint32_t>(levels[i] < 0 ? -levels[i] : levels[i]);
    const int top = floor_log2(magnitude);
    out.put(0, top);  // Elias gamma: as many zeros as bits after the leading one, then the number
    out.put(magnitude, top + 1);
    run = 0;
  }
}

void decode_levels(BitReader& in, uint32_t n, uint32_t nonzeros, uint8_t rice, int max_level, int16_t* levels) {
  if (rice > 31) throw MessageError("dither message refused: bad Golomb parameter");
  uint32_t position = 0;
  for (uint32_t k = 0; k < nonzeros; ++k) {
    const uint32_t run = (in.get_unary(n >> rice) << rice) | in.get(rice);
    if (run >= n - position) throw MessageError("dither message refused: a run passes the end of its block");
    for (uint32_t z = 0; z < run; ++z) levels[position++] = 0;
    const bool negative = in.get(1) == 1;
    int zeros = 0;
    while (in.get(1) == 0)
      if (++zeros > 15) throw MessageError("dither message refused: a level is too large");
    const uint32_t magnitude = (1u << zeros) | in.get(zeros);
    if (magnitude > static_cast<uint32_t>(max_level)) throw MessageError("dither message refused: level above s");
    levels[position++] = static_cast<int16_t>(negative ? -static_cast<int>(magnitude) : static_cast<int>(magnitude));
  }
  while (position < n) levels[position++] = 0;
}

size_t level_code_bits(const int16_t* levels, uint32_t n, uint8_t rice) {
  size_t bits = 0;
  uint32_t run = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (levels[i] == 0) {
      ++run;
      continue;
    }
    const uint32_t magnitude = static_cast<uint32_t>(levels[i] < 0 ? -levels[i] : levels[i]);
    bits += (run >> rice) + 1 + rice + 1 + 2 * floor_log2(magnitude) + 1;
    run = 0;
  }
  return bits;
}

double qsgd_bits_bound(size_t d, int s) {
  const double sd = s * (s + std::sqrt(static_cast<double>(d)));
  return (3.0 + 1.5 * std::log2(2.0 * (static_cast<double>(s) * s + d) / sd)) * sd + 32.0;
}
