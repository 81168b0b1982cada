// What the emulated-kernel tests share: the two contexts, exact-size buffers, random data and the comparisons.
//
// Each test runs one operation twice, on a CPU context (the repository's CPU reference) and on a
// CUDA context (the same source's kernels under the emulator), and compares the outputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/bf16.h"
#include "engine/context.h"
#include "engine/rng.h"
#include "emulator.h"

// engine/check.h's CHECK(condition, format, ...) would hide doctest's CHECK; the tests use doctest's.
#undef CHECK
#include <doctest/doctest.h>

inline Context& cpu() {
  static Context context(ContextOptions{Device::CPU});
  return context;
}
inline Context& gpu() {  // its kernels run under the emulator
  static Context context(ContextOptions{Device::CUDA});
  return context;
}

// n elements in a block of exactly that size, starting `offset_bytes` past a 16-byte boundary
// (to reach a kernel's fallback for misaligned data). Filled with 0xFF bytes, NaN as float and
// bf16, so that an output element nobody writes shows up.
template <typename T>
class ExactBuffer {
 public:
  explicit ExactBuffer(size_t n, size_t offset_bytes = 0) : n_(n) {
    if (posix_memalign(&block_, 16, n * sizeof(T) + offset_bytes) != 0) std::abort();
    data_ = reinterpret_cast<T*>(static_cast<char*>(block_) + offset_bytes);
    std::memset(data_, 0xFF, n * sizeof(T));
  }
  ~ExactBuffer() { std::free(block_); }
  ExactBuffer(const ExactBuffer&) = delete;
  ExactBuffer& operator=(const ExactBuffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  void* block_ = nullptr;
  T* data_ = nullptr;
  size_t n_;
};

// An element's value for messages and tolerances; uint16_t elements are bf16 bits in these tests.
template <typename T>
double as_number(T v) {
  if constexpr (std::is_same_v<T, uint16_t>) return float_from_bf16(v);
  else return static_cast<double>(v);
}
template <typename T>
T from_float(float v) {
  if constexpr (std::is_same_v<T, uint16_t>) return bf16_from_float(v);
  else return v;
}

// Uniform values in [low, high), as T (float or bf16).
template <typename T>
void fill_uniform(ExactBuffer<T>& buffer, Rng& rng, float low, float high) {
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = from_float<T>(rng.uniform(low, high));
}

// The index of the first element whose bytes differ, or n.
template <typename T>
size_t first_difference(const T* a, const T* b, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return i;
  return n;
}

// Bit for bit: the kernel computes exactly what the CPU reference computes.
template <typename T>
void expect_exact(const char* what, const T* got, const T* want, size_t n) {
  const size_t i = first_difference(got, want, n);
  if (i < n)
    FAIL_CHECK(std::string(what), ": element ", i, " of ", n, " is ", as_number(got[i]), ", the reference's ", as_number(want[i]));
}

// Within abs_tol + rel_tol * |want| everywhere, for results whose rounding order differs on
// purpose (tree reductions on the GPU, sequential ones on the CPU). NaN matches only NaN.
template <typename T>
void expect_close(const char* what, const T* got, const T* want, size_t n, double abs_tol, double rel_tol) {
  for (size_t i = 0; i < n; ++i) {
    const double g = as_number(got[i]), w = as_number(want[i]);
    if (std::isnan(g) && std::isnan(w)) continue;
    if (!(std::fabs(g - w) <= abs_tol + rel_tol * std::fabs(w))) {  // also true when one is NaN
      FAIL_CHECK(std::string(what), ": element ", i, " of ", n, " is ", g, ", the reference's ", w);
      return;
    }
  }
}

// Every test case ends with this: the kernels hit no divergent barrier, bad mask or bad launch.
inline void expect_no_findings() { CHECK(emu::take_findings() == ""); }
