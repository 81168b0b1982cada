// What the op tests share: an op run on host data (OpRun), its gradients against central
// differences, a CUDA op against its CPU reference, and the bf16 helpers that feed bf16 NHWC
// activations and compare bf16 results.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "engine/bf16.h"
#include "engine/context.h"
#include "engine/tensor.h"
#include "tests/helpers.h"

using Vectors = std::vector<std::vector<float>>;

// An op under test, run on host data: returns {y, d/d(input 0), d/d(input 1), ..., extras...}
// where the gradients are those of sum(dy * y).
using OpRun = std::function<Vectors(Context&, const Vectors& inputs, const std::vector<float>& dy)>;

inline Context& cpu_context() {
  static Context ctx(ContextOptions{Device::CPU});
  return ctx;
}

inline void check_gradients(const OpRun& run, Vectors inputs, size_t output_size, const std::vector<int>& checked,
                     float eps, double tolerance) {
  Context& ctx = cpu_context();
  const std::vector<float> dy = random_vector(output_size, 99);
  const Vectors analytic = run(ctx, inputs, dy);
  for (int i : checked) {
    const auto loss = [&] { return weighted_sum(run(ctx, inputs, dy)[0], dy); };
    const std::vector<float> numeric = numerical_gradient(inputs[i], loss, eps);
    INFO("input " << i);
    CHECK(relative_error(analytic[1 + i], numeric) < tolerance);
  }
}

inline void check_cuda_matches_cpu(const OpRun& run, const Vectors& inputs, size_t output_size, double tolerance = 1e-4,
                            Precision precision = Precision::FP32) {
  ContextOptions options;
  options.precision = precision;
  Context cpu(options);
  options.device = Device::CUDA;
  Context gpu(options);
  const std::vector<float> dy = random_vector(output_size, 99);
  const Vectors expected = run(cpu, inputs, dy), actual = run(gpu, inputs, dy);
  REQUIRE(actual.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    CHECK(relative_error(actual[i], expected[i]) < tolerance);
  }
}

// ---------------------------------------------------------------------------------------------

// bf16 NHWC activations from float32 NCHW values (rounded), and back: how the tests feed and read
// the bf16 ops.
inline Tensor bf16_activation(Context& ctx, const std::vector<float>& nchw, int n, int c, int hw) {
  const Tensor wide = tensor_from(ctx, {n, c, hw}, nchw);
  Tensor t = Tensor::empty(ctx, {n, c, hw}, DType::BF16);
  nchw_to_nhwc_bf16(ctx, t.bf16_data(), wide.data(), n, c, hw);
  return t;
}

inline std::vector<float> widened_to_host(Context& ctx, const Tensor& t, int n, int c, int hw) {
  Tensor wide = Tensor::empty(ctx, {n, c, hw});
  nhwc_bf16_to_nchw(ctx, wide.data(), t.bf16_data(), n, c, hw);
  return wide.to_host(ctx);
}

inline std::vector<float> rounded_to_bf16(std::vector<float> values) {
  round_to_bf16_cpu(values.data(), values.size());
  return values;
}

// The bits of two float vectors agree (NaN and -0 included).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// conv_run with bf16 NHWC activations (--precision bf16): the same outputs, widened to float32 NCHW.

inline Context& bf16_cpu_context() {
  static Context ctx([] {
    ContextOptions options;
    options.precision = Precision::BF16;
    return options;
  }());
  return ctx;
}


// A bf16 result of the GPU against the CPU emulation. Both round the same operands and then the
// result once; only the order of the float32 sums differs. So: every GPU value is a bf16 value,
// each is within one bf16 step (the gap to the next bf16 value) of the emulation, plus a floor
// of 1e-5 of the largest, at most 1% differ at all, and the 2-norm relative error stays under 1e-3.
// A GPU that skipped a rounding fails the first or the last check.
// The gap between |v| (a bf16 value) and the next bf16 value above it.
inline double bf16_step(float v) {
  const uint16_t bits = bf16_from_float(std::fabs(v));
  return static_cast<double>(float_from_bf16(static_cast<uint16_t>(bits + 1))) - float_from_bf16(bits);
}

inline void check_bf16_result(const std::vector<float>& gpu, const std::vector<float>& cpu) {
  REQUIRE(gpu.size() == cpu.size());
  double largest = 0.0, difference = 0.0, norm = 0.0;
  for (float v : cpu) largest = std::max(largest, std::fabs(static_cast<double>(v)));
  size_t differing = 0, far = 0, unrounded = 0;
  for (size_t i = 0; i < gpu.size(); ++i) {
    const double d = std::fabs(static_cast<double>(gpu[i]) - cpu[i]);
    unrounded += gpu[i] != round_to_bf16(gpu[i]);
    differing += d != 0.0;
    far += d > bf16_step(cpu[i]) + 1e-5 * largest;
    difference += d * d;
    norm += static_cast<double>(cpu[i]) * cpu[i];
  }
  CHECK(unrounded == 0);
  CHECK(far == 0);
  CHECK(differing <= gpu.size() / 100);
  CHECK(std::sqrt(difference / norm) < 1e-3);
}
