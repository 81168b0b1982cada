// The entropy coder for the dithered quantizer's levels (our choice, after the vector source
// coding Malcom-PSGD cites): for each non-zero level, the run of zeros before it as a
// Golomb-Rice code (parameter chosen from the block's measured density), its sign bit, and its
// magnitude as an Elias-gamma code. Bits are written most significant first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

class BitWriter {
 public:
  void put(uint32_t value, int bits);  // the low `bits` bits of value, MSB first
  void put_unary(uint32_t count);      // count ones, then a zero
  size_t bits() const { return bits_; }
  // The code so far, zero-padded to a whole byte.
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
  size_t bits_ = 0;
};

// Reads what BitWriter wrote; running past the end throws MessageError.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t bits) : data_(data), bits_(bits) {}
  uint32_t get(int bits);
  uint32_t get_unary(uint32_t limit);  // throws if more than `limit` ones
  size_t position() const { return position_; }

 private:
  const uint8_t* data_;
  size_t bits_, position_ = 0;
};

// The Golomb-Rice parameter for runs of zeros in a block of n levels with `nonzeros` non-zero ones:
// floor(log2) of the mean run, so a typical run costs about parameter + 2 bits.
uint8_t rice_parameter(uint32_t n, uint32_t nonzeros);

// Codes the non-zero levels of levels[0..n) (each in [-max_level, max_level]).
void encode_levels(const int16_t* levels, uint32_t n, uint8_t rice, BitWriter& out);
// Fills levels[0..n) back; a code that is malformed or inconsistent with n, nonzeros or
// max_level throws MessageError.
void decode_levels(BitReader& in, uint32_t n, uint32_t nonzeros, uint8_t rice, int max_level, int16_t* levels);

// Bits of the code for these levels with this parameter, counted from the formula without coding:
// sum over non-zeros of (run >> rice) + 1 + rice, + 1 sign bit, + 2 floor(log2 level) + 1.
size_t level_code_bits(const int16_t* levels, uint32_t n, uint8_t rice);

// QSGD's closed-form bound (Alistarh et al. 2017, Theorem 3.2) on the expected bits of an
// Elias-coded s-level quantization of a d-vector: (3 + 1.5 log2(2 (s^2 + d) / (s (s + sqrt d))))
// * s (s + sqrt d) + 32, meaningful when s (s + sqrt d) < d, i.e. in the sparse regime.
double qsgd_bits_bound(size_t d, int s);
