// The engine: every op's backward against central differences on the CPU, every CUDA op against its
// CPU reference (on a GPU), the SGD update against its formula; and its services: flags, error
// lines, checkpoints and their folder, RNG, learning-rate schedules, the caching allocator; and
// that the activation benchmark still runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>
#include <tuple>

#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "comm/local.h"
#include "engine/batchnorm.h"
#include "engine/bf16.h"
#include "engine/channels_last_tiling.h"
#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/conv.h"
#include "engine/conv_cpu.h"
#include "engine/conv_reference.h"
#include "engine/cross_entropy.h"
#include "engine/elementwise.h"
#include "engine/flags.h"
#include "engine/host_wait.h"
#include "engine/linear.h"
#include "engine/lr_schedule.h"
#include "engine/pool.h"
#include "engine/sgd.h"
#include "tests/helpers.h"

namespace {

using Vectors = std::vector<std::vector<float>>;

// An op under test, run on host data: returns {y, d/d(input 0), d/d(input 1), ..., extras...}
// where the gradients are those of sum(dy * y).
using OpRun = std::function<Vectors(Context&, const Vectors& inputs, const std::vector<float>& dy)>;

Context& cpu_context() {
  static Context ctx(ContextOptions{Device::CPU});
  return ctx;
}

void check_gradients(const OpRun& run, Vectors inputs, size_t output_size, const std::vector<int>& checked,
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

void check_cuda_matches_cpu(const OpRun& run, const Vectors& inputs, size_t output_size, double tolerance = 1e-4,
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

std::vector<ConvShape> conv_cases() {
  return {
      ConvShape{2, 3, 7, 5, 4, 3, 3, 2, 1},  // stride 2, padding, non-square input
      ConvShape{1, 2, 6, 9, 3, 1, 1, 2, 0},  // 1x1 projection, stride 2
      ConvShape{2, 2, 5, 4, 2, 3, 3, 1, 1},  // same-size 3x3
      ConvShape{3, 4, 8, 8, 5, 3, 3, 1, 0},  // no padding
  };
}

OpRun conv_run(const ConvShape& s) {
  return [s](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {s.n, s.c, s.h, s.w}, in[0]);
    const Tensor w = tensor_from(ctx, {s.k, s.c, s.r, s.s}, in[1]);
    const Tensor g = tensor_from(ctx, {s.n, s.k, s.out_h(), s.out_w()}, dy);
    Tensor y = Tensor::empty(ctx, g.shape()), dx = Tensor::empty(ctx, x.shape()), dw = Tensor::empty(ctx, w.shape());
    conv2d_forward(ctx, s, y.data(), x.data(), w.data());
    conv2d_backward_data(ctx, s, dx.data(), g.data(), w.data());
    conv2d_backward_filter(ctx, s, dw.data(), g.data(), x.data());
    return Vectors{y.to_host(ctx), dx.to_host(ctx), dw.to_host(ctx)};
  };
}

size_t conv_output_size(const ConvShape& s) { return static_cast<size_t>(s.n) * s.k * s.out_h() * s.out_w(); }

// bf16 NHWC activations from float32 NCHW values (rounded), and back: how the tests feed and read
// the bf16 ops.
Tensor bf16_activation(Context& ctx, const std::vector<float>& nchw, int n, int c, int hw) {
  const Tensor wide = tensor_from(ctx, {n, c, hw}, nchw);
  Tensor t = Tensor::empty(ctx, {n, c, hw}, DType::BF16);
  nchw_to_nhwc_bf16(ctx, t.bf16_data(), wide.data(), n, c, hw);
  return t;
}

std::vector<float> widened_to_host(Context& ctx, const Tensor& t, int n, int c, int hw) {
  Tensor wide = Tensor::empty(ctx, {n, c, hw});
  nhwc_bf16_to_nchw(ctx, wide.data(), t.bf16_data(), n, c, hw);
  return wide.to_host(ctx);
}

std::vector<float> rounded_to_bf16(std::vector<float> values) {
  round_to_bf16_cpu(values.data(), values.size());
  return values;
}

// The bits of two float vectors agree (NaN and -0 included).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// conv_run with bf16 NHWC activations (--precision bf16): the same outputs, widened to float32 NCHW.
OpRun conv_run_bf16(const ConvShape& s) {
  return [s](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const int in_hw = s.h * s.w, out_hw = s.out_h() * s.out_w();
    const Tensor x = bf16_activation(ctx, in[0], s.n, s.c, in_hw), g = bf16_activation(ctx, dy, s.n, s.k, out_hw);
    const Tensor w = tensor_from(ctx, {s.k, s.c, s.r, s.s}, in[1]);
    Buffer<uint16_t> w_bf16(ctx, s.weight_count());
    conv2d_weights_to_bf16(ctx, s, w_bf16.data(), w.data());
    Tensor y = Tensor::empty(ctx, {s.n, s.k, out_hw}, DType::BF16), dx = Tensor::empty(ctx, x.shape(), DType::BF16);
    Tensor dw = Tensor::empty(ctx, w.shape());
    conv2d_forward(ctx, s, y.bf16_data(), x.bf16_data(), w_bf16.data());
    conv2d_backward_data(ctx, s, dx.bf16_data(), g.bf16_data(), w_bf16.data());
    conv2d_backward_filter(ctx, s, dw.data(), g.bf16_data(), x.bf16_data());
    return Vectors{widened_to_host(ctx, y, s.n, s.k, out_hw), widened_to_host(ctx, dx, s.n, s.c, in_hw),
                   dw.to_host(ctx)};
  };
}

Context& bf16_cpu_context() {
  static Context ctx([] {
    ContextOptions options;
    options.precision = Precision::BF16;
    return options;
  }());
  return ctx;
}

TEST_CASE("conv2d: backward data and filter match central differences") {
  for (const ConvShape& s : conv_cases()) {
    INFO("shape n" << s.n << " c" << s.c << " " << s.h << "x" << s.w << " k" << s.k << " stride " << s.stride);
    const Vectors inputs = {random_vector(static_cast<size_t>(s.n) * s.c * s.h * s.w, 1),
                            random_vector(s.weight_count(), 2)};
    // Convolution is linear in each input, so a large step has no truncation error.
    check_gradients(conv_run(s), inputs, conv_output_size(s), {0, 1}, 0.05f, 1e-3);
  }
}

TEST_CASE("conv2d: forward matches a direct loop") {
  const ConvShape s{1, 2, 5, 4, 3, 3, 3, 2, 1};
  const std::vector<float> x = random_vector(2 * 5 * 4, 3), w = random_vector(s.weight_count(), 4);
  const Vectors out = conv_run(s)(cpu_context(), {x, w}, random_vector(conv_output_size(s), 5));
  for (int k = 0; k < s.k; ++k)
    for (int oy = 0; oy < s.out_h(); ++oy)
      for (int ox = 0; ox < s.out_w(); ++ox) {
        double sum = 0.0;
        for (int c = 0; c < s.c; ++c)
          for (int r = 0; r < 3; ++r)
            for (int q = 0; q < 3; ++q) {
              const int iy = oy * 2 - 1 + r, ix = ox * 2 - 1 + q;
              if (iy >= 0 && iy < s.h && ix >= 0 && ix < s.w)
                sum += static_cast<double>(x[(c * s.h + iy) * s.w + ix]) * w[((k * s.c + c) * 3 + r) * 3 + q];
            }
        CHECK(out[0][(k * s.out_h() + oy) * s.out_w() + ox] == doctest::Approx(sum).epsilon(1e-5));
      }
}

// The plain reference convolution (engine/conv_reference.h) on host vectors: y, dx, dw.
Vectors conv_reference(const ConvShape& s, const Vectors& in, const std::vector<float>& dy) {
  std::vector<float> y(conv_output_size(s)), dx(in[0].size()), dw(in[1].size());
  conv2d_forward_reference(s, y.data(), in[0].data(), in[1].data());
  conv2d_backward_data_reference(s, dx.data(), dy.data(), in[1].data());
  conv2d_backward_filter_reference(s, dw.data(), dy.data(), in[0].data());
  return Vectors{y, dx, dw};
}

Vectors conv_inputs(const ConvShape& s) {
  return {random_vector(static_cast<size_t>(s.n) * s.c * s.h * s.w, 1), random_vector(s.weight_count(), 2)};
}

// The reference's shapes, two real ResNet18 layers, and ones oneDNN treats apart: the 3-channel
// stem, a channel count no block size divides, a 1x1 projection with stride 2, a 4x4 plane.
std::vector<ConvShape> library_conv_cases() {
  std::vector<ConvShape> shapes = conv_cases();
  shapes.push_back(ConvShape{8, 64, 32, 32, 64, 3, 3, 1, 1});
  shapes.push_back(ConvShape{8, 128, 16, 16, 256, 3, 3, 2, 1});
  shapes.push_back(ConvShape{4, 3, 32, 32, 16, 3, 3, 1, 1});
  shapes.push_back(ConvShape{3, 20, 9, 9, 36, 3, 3, 1, 1});
  shapes.push_back(ConvShape{4, 32, 16, 16, 64, 1, 1, 2, 0});
  shapes.push_back(ConvShape{16, 64, 4, 4, 64, 3, 3, 1, 1});
  return shapes;
}

// A library's result against the reference's: they differ only in the order (and fusing) of the
// float32 sums, which moves a result by a few units in the last place of the largest term, so
// 1e-5 of the largest result bounds it with room to spare; a wrong index or a lost term is O(1).
void check_conv_library(Context& ctx, const ConvShape& s, double tolerance) {
  INFO("shape n" << s.n << " c" << s.c << " " << s.h << "x" << s.w << " k" << s.k << " " << s.r << "x" << s.s
                 << " stride " << s.stride << " pad " << s.pad);
  const Vectors inputs = conv_inputs(s);
  const std::vector<float> dy = random_vector(conv_output_size(s), 99);
  const Vectors expected = conv_reference(s, inputs, dy), actual = conv_run(s)(ctx, inputs, dy);
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);  // y, dx, dw
    CHECK(relative_error(actual[i], expected[i]) < tolerance);
  }
}

TEST_CASE("conv2d: the CPU's library convolutions match the reference") {
  INFO(cpu_convolution_library());
  for (const ConvShape& s : library_conv_cases()) check_conv_library(cpu_context(), s, 1e-5);
}

TEST_CASE("conv2d: CUDA matches the CPU reference" * REQUIRES_GPU) {
  Context gpu(ContextOptions{Device::CUDA});
  for (const ConvShape& s : library_conv_cases()) check_conv_library(gpu, s, 1e-4);
}

// Ranks that are threads of one process each run their own context's convolutions at once: the
// results must be those of one context alone, bit for bit (oneDNN with per-context scratchpads).
TEST_CASE("conv2d on the CPU: contexts on several threads at once give one context's bits") {
  const ConvShape s{4, 16, 16, 16, 32, 3, 3, 1, 1};
  const Vectors inputs = conv_inputs(s);
  const std::vector<float> dy = random_vector(conv_output_size(s), 99);
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(1);  // what each of the ranks below gets
  const Vectors alone = [&] {
    Context ctx(ContextOptions{Device::CPU});
    return conv_run(s)(ctx, inputs, dy);
  }();
  omp_set_num_threads(saved_threads);
  constexpr int kRanks = 4;
  std::vector<Vectors> results(kRanks);
  std::vector<std::thread> ranks;
  for (int rank = 0; rank < kRanks; ++rank)
    ranks.emplace_back([&, rank] {
      omp_set_num_threads(1);
      Context ctx(ContextOptions{Device::CPU});
      for (int repeat = 0; repeat < 3; ++repeat) results[rank] = conv_run(s)(ctx, inputs, dy);
    });
  for (std::thread& t : ranks) t.join();
  for (int rank = 0; rank < kRanks; ++rank)
    for (size_t i = 0; i < alone.size(); ++i) {
      INFO("rank " << rank << ", output " << i);
      CHECK(same_bits(results[rank][i], alone[i]));
    }
}

TEST_CASE("bf16: round to nearest even, infinities and NaN kept") {
  CHECK(bf16_from_float(1.0f) == 0x3f80);
  CHECK(bf16_from_float(-2.0f) == 0xc000);
  CHECK(round_to_bf16(1.0f + 1.0f / 256) == 1.0f);                       // a tie: down to even
  CHECK(round_to_bf16(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);          // a tie: up to even
  CHECK(round_to_bf16(1.0f + 1.0f / 256 + 1.0f / 4096) == 1.0f + 2.0f / 256);  // above the tie: up
  CHECK(std::isinf(round_to_bf16(INFINITY)));
  CHECK(std::isnan(round_to_bf16(NAN)));
  CHECK(round_to_bf16(3.0e38f) < 3.0e38f * 1.01f);  // below the largest bf16 (about 3.39e38): finite
  CHECK(round_to_bf16(3.4e38f) == INFINITY);  // past it, round to nearest goes to infinity
}

TEST_CASE("conv2d and linear in bf16 on the CPU: bf16 results, within bf16 precision of float32") {
  Context& bf16 = bf16_cpu_context();
  const ConvShape s{2, 8, 8, 8, 6, 3, 3, 1, 1};
  const Vectors inputs = {random_vector(static_cast<size_t>(s.n) * s.c * s.h * s.w, 1),
                          random_vector(s.weight_count(), 2)};
  const std::vector<float> dy = random_vector(conv_output_size(s), 5);
  const Vectors low = conv_run_bf16(s)(bf16, inputs, dy), full = conv_run(s)(cpu_context(), inputs, dy);
  for (size_t i = 0; i < low.size(); ++i) {
    INFO("output " << i);
    for (float v : low[i]) REQUIRE(v == round_to_bf16(v));  // every value is a bf16 value
    const double error = relative_error(low[i], full[i]);
    CHECK(error > 0.0);   // really another arithmetic
    CHECK(error < 2e-2);  // bf16 keeps 8 significant bits
  }
  const LinearShape l{4, 9, 5};
  const std::vector<float> x = random_vector(36, 6), w = random_vector(45, 7), b = random_vector(5, 8), g = random_vector(20, 9);
  Tensor y_low = Tensor::empty(bf16, {4, 5}), y_full = Tensor::empty(cpu_context(), {4, 5});
  linear_forward(bf16, l, y_low.data(), x.data(), w.data(), b.data());
  linear_forward(cpu_context(), l, y_full.data(), x.data(), w.data(), b.data());
  const double error = relative_error(y_low.to_host(bf16), y_full.to_host(cpu_context()));
  CHECK(error > 0.0);
  CHECK(error < 2e-2);
}

// A bf16 result of the GPU against the CPU emulation. Both round the same operands and then the
// result once; only the order of the float32 sums differs. So: every GPU value is a bf16 value,
// each is within one bf16 step (the gap to the next bf16 value) of the emulation, plus a floor
// of 1e-5 of the largest, at most 1% differ at all, and the 2-norm relative error stays under 1e-3.
// A GPU that skipped a rounding fails the first or the last check.
// The gap between |v| (a bf16 value) and the next bf16 value above it.
double bf16_step(float v) {
  const uint16_t bits = bf16_from_float(std::fabs(v));
  return static_cast<double>(float_from_bf16(static_cast<uint16_t>(bits + 1))) - float_from_bf16(bits);
}

void check_bf16_result(const std::vector<float>& gpu, const std::vector<float>& cpu) {
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

TEST_CASE("bf16: one step above 1 is 2^-7, above 3 is 2^-6") {
  CHECK(bf16_step(1.0f) == 1.0 / 128);
  CHECK(bf16_step(-3.0f) == 1.0 / 64);
}

TEST_CASE("conv2d in bf16 on the CPU: the float32 convolution of the rounded operands, rounded, in NHWC") {
  for (const ConvShape& s : conv_cases()) {
    INFO("shape n" << s.n << " c" << s.c << " " << s.h << "x" << s.w << " k" << s.k << " stride " << s.stride);
    const Vectors inputs = {random_vector(static_cast<size_t>(s.n) * s.c * s.h * s.w, 1),
                            random_vector(s.weight_count(), 2)};
    const std::vector<float> dy = random_vector(conv_output_size(s), 5);
    const Vectors low = conv_run_bf16(s)(bf16_cpu_context(), inputs, dy);
    const Vectors reference = conv_run(s)(cpu_context(), {rounded_to_bf16(inputs[0]), rounded_to_bf16(inputs[1])},
                                          rounded_to_bf16(dy));
    for (size_t i = 0; i < low.size(); ++i) {
      INFO("output " << i);  // y, dx, dw
      CHECK(same_bits(low[i], rounded_to_bf16(reference[i])));
    }
  }
}

TEST_CASE("conv2d in bf16: CUDA (cuDNN, bf16 NHWC activations) matches the CPU emulation" * REQUIRES_GPU) {
  std::vector<ConvShape> shapes = conv_cases();
  shapes.push_back(ConvShape{8, 64, 32, 32, 64, 3, 3, 1, 1});
  shapes.push_back(ConvShape{8, 128, 16, 16, 256, 3, 3, 2, 1});
  ContextOptions options;
  options.precision = Precision::BF16;
  Context cpu(options);
  options.device = Device::CUDA;
  Context gpu(options);
  for (const ConvShape& s : shapes) {
    INFO("shape n" << s.n << " c" << s.c << " " << s.h << "x" << s.w << " k" << s.k << " stride " << s.stride);
    const Vectors inputs = {random_vector(static_cast<size_t>(s.n) * s.c * s.h * s.w, 1),
                            random_vector(s.weight_count(), 2)};
    const std::vector<float> dy = random_vector(conv_output_size(s), 99);
    const Vectors expected = conv_run_bf16(s)(cpu, inputs, dy), actual = conv_run_bf16(s)(gpu, inputs, dy);
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("output " << i);  // y, dx, dw
      check_bf16_result(actual[i], expected[i]);
    }
  }
}

TEST_CASE("bf16: the CUDA NCHW <-> NHWC conversion kernels round as the CPU rule does, and invert" * REQUIRES_GPU) {
  Context gpu(ContextOptions{Device::CUDA});
  for (const auto& [n, c, hw] : {std::tuple<int, int, int>{3, 5, 7}, {2, 64, 1024}, {4, 70, 33}}) {
    const size_t count = static_cast<size_t>(n) * c * hw;
    std::vector<float> values = random_vector(count, 17, -100.0f, 100.0f);
    // Ties, a subnormal, infinities and NaN go through the kernels as through the CPU rule.
    const float specials[] = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 1e-40f, INFINITY, -INFINITY, NAN, -0.0f};
    for (size_t i = 0; i < std::size(specials) && i < count; ++i) values[i * 7 % count] = specials[i];
    const Tensor source = tensor_from(gpu, {static_cast<int>(count)}, values);
    Buffer<uint16_t> converted(gpu, count);
    Tensor back = Tensor::empty(gpu, source.shape());
    nchw_to_nhwc_bf16(gpu, converted.data(), source.data(), n, c, hw);
    nhwc_bf16_to_nchw(gpu, back.data(), converted.data(), n, c, hw);
    std::vector<uint16_t> bits(count);
    gpu.download(bits.data(), converted.data(), count * sizeof(uint16_t));
    const std::vector<float> returned = back.to_host(gpu);
    for (int image = 0; image < n; ++image)
      for (int ch = 0; ch < c; ++ch)
        for (int p = 0; p < hw; ++p) {
          const size_t nchw = (static_cast<size_t>(image) * c + ch) * hw + p, nhwc = (static_cast<size_t>(image) * hw + p) * c + ch;
          REQUIRE(bits[nhwc] == bf16_from_float(values[nchw]));
          const float expected = round_to_bf16(values[nchw]);
          REQUIRE(std::memcmp(&returned[nchw], &expected, sizeof expected) == 0);  // NaN and -0 too
        }
  }
}

// ---------------------------------------------------------------------------------------------

OpRun batchnorm_run(const BatchNormShape& s, bool training, Activation activation = Activation::None) {
  return [s, training, activation](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Shape shape{s.n, s.c, s.hw};
    const Tensor x = tensor_from(ctx, shape, in[0]), gamma = tensor_from(ctx, {s.c}, in[1]),
                 beta = tensor_from(ctx, {s.c}, in[2]);
    Tensor running_mean = tensor_from(ctx, {s.c}, random_vector(s.c, 11, -0.5f, 0.5f));
    Tensor running_var = tensor_from(ctx, {s.c}, random_vector(s.c, 12, 0.5f, 2.0f));
    Tensor y = Tensor::empty(ctx, shape), dx = Tensor::empty(ctx, shape);
    Tensor dgamma = Tensor::empty(ctx, {s.c}), dbeta = Tensor::empty(ctx, {s.c});
    Tensor mean = Tensor::empty(ctx, {s.c}), inv_std = Tensor::empty(ctx, {s.c});
    BatchNormParams p;
    p.activation = activation;
    if (!training) {
      batchnorm_forward_eval(ctx, s, p, y.data(), x.data(), nullptr, gamma.data(), beta.data(), running_mean.data(),
                             running_var.data());
      return Vectors{y.to_host(ctx)};
    }
    const Tensor g = tensor_from(ctx, shape, dy);
    batchnorm_forward_train(ctx, s, p, y.data(), x.data(), nullptr, gamma.data(), beta.data(), mean.data(), inv_std.data(),
                            running_mean.data(), running_var.data());
    const float* output = activation == Activation::ReLU ? y.data() : nullptr;
    batchnorm_backward(ctx, s, p, dx.data(), dgamma.data(), dbeta.data(), nullptr, g.data(), output, x.data(), gamma.data(),
                       mean.data(), inv_std.data());
    return Vectors{y.to_host(ctx), dx.to_host(ctx), dgamma.to_host(ctx), dbeta.to_host(ctx),
                   running_mean.to_host(ctx), running_var.to_host(ctx)};
  };
}

Vectors batchnorm_inputs(const BatchNormShape& s) {
  return {random_vector(static_cast<size_t>(s.n) * s.c * s.hw, 21, -2.0f, 3.0f), random_vector(s.c, 22, 0.5f, 1.5f),
          random_vector(s.c, 23)};
}

TEST_CASE("batchnorm: training backward matches central differences") {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{2, 2, 15}, BatchNormShape{5, 1, 1}}) {
    check_gradients(batchnorm_run(s, true), batchnorm_inputs(s), static_cast<size_t>(s.n) * s.c * s.hw, {0, 1, 2},
                    1e-2f, 2e-3);
  }
}

// The CPU batch norm splits the channels over the threads, each channel's sums in one thread: so
// one thread and several give the same bits, fused ReLU or not, training or evaluation.
TEST_CASE("batchnorm on the CPU: the same bits on one thread and on several") {
  const BatchNormShape s{6, 5, 37};  // 37 pixels: not a whole number of vector lanes
  const Vectors in = batchnorm_inputs(s);
  const std::vector<float> dy = random_vector(static_cast<size_t>(s.n) * s.c * s.hw, 24);
  const int saved_threads = omp_get_max_threads();
  for (Activation activation : {Activation::None, Activation::ReLU})
    for (bool training : {true, false}) {
      INFO("relu " << (activation == Activation::ReLU) << ", training " << training);
      omp_set_num_threads(1);
      const Vectors one = batchnorm_run(s, training, activation)(cpu_context(), in, dy);
      omp_set_num_threads(3);
      const Vectors three = batchnorm_run(s, training, activation)(cpu_context(), in, dy);
      for (size_t i = 0; i < one.size(); ++i) CHECK(same_bits(one[i], three[i]));
    }
  omp_set_num_threads(saved_threads);
}

TEST_CASE("batchnorm: batch statistics, running averages and evaluation mode") {
  const BatchNormShape s{3, 2, 4};
  const Vectors in = batchnorm_inputs(s);
  const Vectors out = batchnorm_run(s, true)(cpu_context(), in, std::vector<float>(24, 0.0f));
  const std::vector<float> old_mean = random_vector(s.c, 11, -0.5f, 0.5f), old_var = random_vector(s.c, 12, 0.5f, 2.0f);
  for (int c = 0; c < s.c; ++c) {
    double sum = 0.0, squares = 0.0;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) sum += in[0][(n * s.c + c) * s.hw + i];
    const double mean = sum / 12;
    for (int n = 0; n < s.n; ++n)
      for (int i = 0; i < s.hw; ++i) squares += std::pow(in[0][(n * s.c + c) * s.hw + i] - mean, 2);
    // Normalised with the biased variance; the running estimate takes the unbiased one.
    const double y0 = in[1][c] * (in[0][c * s.hw] - mean) / std::sqrt(squares / 12 + 1e-5) + in[2][c];
    CHECK(out[0][c * s.hw] == doctest::Approx(y0).epsilon(1e-5));
    CHECK(out[4][c] == doctest::Approx(0.9 * old_mean[c] + 0.1 * mean).epsilon(1e-6));
    CHECK(out[5][c] == doctest::Approx(0.9 * old_var[c] + 0.1 * squares / 11).epsilon(1e-6));
  }
  const Vectors eval = batchnorm_run(s, false)(cpu_context(), in, {});
  const double expected = in[1][1] * (in[0][s.hw] - old_mean[1]) / std::sqrt(old_var[1] + 1e-5) + in[2][1];
  CHECK(eval[0][s.hw] == doctest::Approx(expected).epsilon(1e-5));
}

// Batch normalisation, then ReLU, as two ops (the reference for the fused layer).
OpRun batchnorm_then_relu_run(const BatchNormShape& s, bool training) {
  return [s, training](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const size_t n = static_cast<size_t>(s.n) * s.c * s.hw;
    std::vector<float> zeros(n, 0.0f);
    // The normalisation's output y first; its backward is fed relu's input gradient below.
    Vectors out = batchnorm_run(s, training)(ctx, in, zeros);
    const Tensor y = tensor_from(ctx, {static_cast<int>(n)}, out[0]), g = tensor_from(ctx, y.shape(), dy);
    Tensor activated = Tensor::empty(ctx, y.shape()), dy_normalized = Tensor::empty(ctx, y.shape());
    relu_forward(ctx, activated.data(), y.data(), n);
    if (!training) return Vectors{activated.to_host(ctx)};
    relu_backward(ctx, dy_normalized.data(), g.data(), activated.data(), n);
    out = batchnorm_run(s, training)(ctx, in, dy_normalized.to_host(ctx));
    out[0] = activated.to_host(ctx);
    return out;
  };
}

TEST_CASE("batchnorm + relu: the fused layer computes the same bits as the two ops") {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{2, 5, 49}}) {
    const Vectors in = batchnorm_inputs(s);
    const std::vector<float> dy = random_vector(static_cast<size_t>(s.n) * s.c * s.hw, 99);
    for (bool training : {true, false}) {
      INFO("training " << training);
      const Vectors fused = batchnorm_run(s, training, Activation::ReLU)(cpu_context(), in, dy);
      const Vectors separate = batchnorm_then_relu_run(s, training)(cpu_context(), in, dy);
      REQUIRE(fused.size() == separate.size());
      for (size_t i = 0; i < fused.size(); ++i) CHECK(fused[i] == separate[i]);
      size_t zeros = 0;
      for (float v : fused[0]) zeros += v == 0.0f;
      CHECK(zeros > 0);  // the ReLU really cut something
    }
  }
}

// relu(batchnorm(x) + r) with its gradients {y, dx, dgamma, dbeta, dr}: fused in one layer, or as
// batchnorm, add and relu one after the other.
Vectors batchnorm_add_relu(Context& ctx, const BatchNormShape& s, const Vectors& in, const std::vector<float>& r_values,
                           const std::vector<float>& dy_values, bool fused) {
  const size_t n = static_cast<size_t>(s.n) * s.c * s.hw;
  const Shape shape{static_cast<int>(n)};
  const Tensor x = tensor_from(ctx, shape, in[0]), gamma = tensor_from(ctx, {s.c}, in[1]),
               beta = tensor_from(ctx, {s.c}, in[2]), r = tensor_from(ctx, shape, r_values),
               dy = tensor_from(ctx, shape, dy_values);
  Tensor running_mean = Tensor::zeros(ctx, {s.c}), running_var = Tensor::zeros(ctx, {s.c});
  Tensor mean = Tensor::empty(ctx, {s.c}), inv_std = Tensor::empty(ctx, {s.c});
  Tensor y = Tensor::empty(ctx, shape), dx = Tensor::empty(ctx, shape), dr = Tensor::empty(ctx, shape);
  Tensor dgamma = Tensor::empty(ctx, {s.c}), dbeta = Tensor::empty(ctx, {s.c});
  BatchNormParams p;
  if (fused) {
    p.activation = Activation::ReLU;
    batchnorm_forward_train(ctx, s, p, y.data(), x.data(), r.data(), gamma.data(), beta.data(), mean.data(),
                            inv_std.data(), running_mean.data(), running_var.data());
    batchnorm_backward(ctx, s, p, dx.data(), dgamma.data(), dbeta.data(), dr.data(), dy.data(), y.data(), x.data(),
                       gamma.data(), mean.data(), inv_std.data());
  } else {
    Tensor normalized = Tensor::empty(ctx, shape), sum = Tensor::empty(ctx, shape);
    batchnorm_forward_train(ctx, s, p, normalized.data(), x.data(), nullptr, gamma.data(), beta.data(), mean.data(),
                            inv_std.data(), running_mean.data(), running_var.data());
    add_forward(ctx, sum.data(), normalized.data(), r.data(), n);
    relu_forward(ctx, y.data(), sum.data(), n);
    relu_backward(ctx, dr.data(), dy.data(), y.data(), n);  // what reaches the sum, so also r
    batchnorm_backward(ctx, s, p, dx.data(), dgamma.data(), dbeta.data(), nullptr, dr.data(), nullptr, x.data(),
                       gamma.data(), mean.data(), inv_std.data());
  }
  return {y.to_host(ctx), dx.to_host(ctx), dgamma.to_host(ctx), dbeta.to_host(ctx), dr.to_host(ctx)};
}

TEST_CASE("batchnorm + residual + relu: the fused layer computes the bits of the three ops") {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{2, 5, 49}}) {
    const size_t n = static_cast<size_t>(s.n) * s.c * s.hw;
    const Vectors in = batchnorm_inputs(s);
    const std::vector<float> r = random_vector(n, 41), dy = random_vector(n, 42);
    const Vectors fused = batchnorm_add_relu(cpu_context(), s, in, r, dy, true);
    const Vectors separate = batchnorm_add_relu(cpu_context(), s, in, r, dy, false);
    for (size_t i = 0; i < fused.size(); ++i) {
      INFO("output " << i);
      CHECK(fused[i] == separate[i]);
    }
    CHECK(std::count(fused[4].begin(), fused[4].end(), 0.0f) > 0);  // the ReLU cut some gradient
  }
}

TEST_CASE("batchnorm + residual + relu: fused CUDA equals the three CUDA ops" * REQUIRES_GPU) {
  Context gpu(ContextOptions{Device::CUDA});
  const BatchNormShape s{128, 64, 1024};
  const size_t n = static_cast<size_t>(s.n) * s.c * s.hw;
  const Vectors in = batchnorm_inputs(s);
  const std::vector<float> r = random_vector(n, 41), dy = random_vector(n, 42);
  CHECK(batchnorm_add_relu(gpu, s, in, r, dy, true) == batchnorm_add_relu(gpu, s, in, r, dy, false));
}

// Elements that a ReLU zeroed in one run and passed in the other: a pre-activation within float32
// rounding of 0 may fall on either side of the mask when two runs sum in different orders. Their
// values in the outputs `gated` by the mask (the gradients through it) are zeroed in both runs
// before the comparison, which would otherwise see a gradient of order 1 against 0. Returns how
// many there were: a few in millions at most.
size_t drop_relu_disagreements(Vectors& a, Vectors& b, size_t y, std::initializer_list<size_t> gated) {
  size_t count = 0;
  for (size_t i = 0; i < a[y].size(); ++i) {
    if ((a[y][i] > 0.0f) == (b[y][i] > 0.0f)) continue;
    ++count;
    for (size_t g : gated) a[g][i] = b[g][i] = 0.0f;
  }
  return count;
}

TEST_CASE("batchnorm + relu: fused CUDA equals the two CUDA ops and matches the CPU" * REQUIRES_GPU) {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{128, 64, 1024}}) {
    const size_t size = static_cast<size_t>(s.n) * s.c * s.hw;
    const Vectors in = batchnorm_inputs(s);
    const std::vector<float> dy = random_vector(size, 99);
    Context gpu(ContextOptions{Device::CUDA});
    Vectors actual = batchnorm_run(s, true, Activation::ReLU)(gpu, in, dy);
    CHECK(actual == batchnorm_then_relu_run(s, true)(gpu, in, dy));
    Vectors expected = batchnorm_run(s, true, Activation::ReLU)(cpu_context(), in, dy);
    CHECK(drop_relu_disagreements(actual, expected, 0, {1}) <= size / 100000);  // y, dx, ...
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("output " << i);
      CHECK(relative_error(actual[i], expected[i]) < 1e-4);
    }
  }
}

TEST_CASE("batchnorm: CUDA matches the CPU reference" * REQUIRES_GPU) {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{128, 64, 1024}, BatchNormShape{128, 512, 16}}) {
    const size_t size = static_cast<size_t>(s.n) * s.c * s.hw;
    check_cuda_matches_cpu(batchnorm_run(s, true), batchnorm_inputs(s), size);
    check_cuda_matches_cpu(batchnorm_run(s, false), batchnorm_inputs(s), size);
  }
}

// ---------------------------------------------------------------------------------------------

OpRun relu_run(size_t n) {
  return [n](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {static_cast<int>(n)}, in[0]), g = tensor_from(ctx, x.shape(), dy);
    Tensor y = Tensor::empty(ctx, x.shape()), dx = Tensor::empty(ctx, x.shape());
    relu_forward(ctx, y.data(), x.data(), n);
    relu_backward(ctx, dx.data(), g.data(), y.data(), n);
    return Vectors{y.to_host(ctx), dx.to_host(ctx)};
  };
}

// Inputs kept at least 0.1 away from the kink, where the derivative is defined.
std::vector<float> away_from_zero(size_t n, uint64_t seed) {
  std::vector<float> x = random_vector(n, seed);
  for (float& v : x) v = v < 0 ? v - 0.1f : v + 0.1f;
  return x;
}

TEST_CASE("relu: backward matches central differences") {
  check_gradients(relu_run(50), {away_from_zero(50, 31)}, 50, {0}, 1e-2f, 1e-3);
}

TEST_CASE("add: sums element-wise on CPU and CUDA" * REQUIRES_GPU) {
  const size_t n = 1000003;
  const OpRun run = [n](Context& ctx, const Vectors& in, const std::vector<float>&) {
    const Tensor a = tensor_from(ctx, {static_cast<int>(n)}, in[0]), b = tensor_from(ctx, a.shape(), in[1]);
    Tensor y = Tensor::empty(ctx, a.shape());
    add_forward(ctx, y.data(), a.data(), b.data(), n);
    return Vectors{y.to_host(ctx)};
  };
  check_cuda_matches_cpu(run, {random_vector(n, 1), random_vector(n, 2)}, n, 0.0);
  check_cuda_matches_cpu(relu_run(n), {random_vector(n, 3)}, n, 0.0);
}

TEST_CASE("add: sums element-wise") {
  const std::vector<float> a = {1.0f, -2.0f, 3.5f}, b = {0.5f, 2.0f, -1.0f};
  std::vector<float> y(3);
  add_forward(cpu_context(), y.data(), a.data(), b.data(), 3);
  CHECK(y == std::vector<float>{1.5f, 0.0f, 2.5f});
}

// ---------------------------------------------------------------------------------------------

OpRun pool_run(int n, int c, int hw) {
  return [n, c, hw](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {n, c, hw}, in[0]), g = tensor_from(ctx, {n, c}, dy);
    Tensor y = Tensor::empty(ctx, g.shape()), dx = Tensor::empty(ctx, x.shape());
    global_avg_pool_forward(ctx, y.data(), x.data(), n, c, hw);
    global_avg_pool_backward(ctx, dx.data(), g.data(), n, c, hw);
    return Vectors{y.to_host(ctx), dx.to_host(ctx)};
  };
}

TEST_CASE("global average pool: backward matches central differences") {
  check_gradients(pool_run(2, 3, 35), {random_vector(6 * 35, 41)}, 6, {0}, 0.05f, 1e-3);
}

TEST_CASE("global average pool: CUDA matches the CPU reference" * REQUIRES_GPU) {
  check_cuda_matches_cpu(pool_run(2, 3, 35), {random_vector(6 * 35, 41)}, 6);
  check_cuda_matches_cpu(pool_run(128, 512, 16), {random_vector(128 * 512 * 16, 42)}, 128 * 512);
}

// ---------------------------------------------------------------------------------------------
// bf16 NHWC activations through batch normalisation (with the residual and ReLU fused in),
// pooling and the add: the ops of a bf16 network between its convolutions.

struct ActivationOpsResult {
  Vectors activations;  // y, x + r, the pooling's dx, and in training dx, d_residual: bf16 in a bf16 run
  Vectors statistics;   // pooled x, dgamma, dbeta, batch mean, 1/std, running mean and variance: float32
};

// in = {x, gamma, beta, r, dy, d_pooled}; activations go in as float32 NCHW or bf16 NHWC.
ActivationOpsResult activation_ops(Context& ctx, const BatchNormShape& s, DType dtype, bool training, const Vectors& in) {
  const size_t count = static_cast<size_t>(s.n) * s.c * s.hw;
  const auto activation = [&](const std::vector<float>& values) {
    return dtype == DType::BF16 ? bf16_activation(ctx, values, s.n, s.c, s.hw) : tensor_from(ctx, {s.n, s.c, s.hw}, values);
  };
  const auto to_host = [&](const Tensor& t) {
    return dtype == DType::BF16 ? widened_to_host(ctx, t, s.n, s.c, s.hw) : t.to_host(ctx);
  };
  const Tensor x = activation(in[0]), r = activation(in[3]), dy = activation(in[4]);
  const Tensor gamma = tensor_from(ctx, {s.c}, in[1]), beta = tensor_from(ctx, {s.c}, in[2]);
  const Tensor d_pooled = tensor_from(ctx, {s.n, s.c}, in[5]);
  Tensor running_mean = tensor_from(ctx, {s.c}, random_vector(s.c, 11, -0.5f, 0.5f));
  Tensor running_var = tensor_from(ctx, {s.c}, random_vector(s.c, 12, 0.5f, 2.0f));
  Tensor mean = Tensor::zeros(ctx, {s.c}), inv_std = Tensor::zeros(ctx, {s.c}), dgamma = Tensor::zeros(ctx, {s.c}),
         dbeta = Tensor::zeros(ctx, {s.c}), pooled = Tensor::empty(ctx, {s.n, s.c});
  Tensor y = Tensor::empty(ctx, x.shape(), dtype), dx = Tensor::empty(ctx, x.shape(), dtype),
         dr = Tensor::empty(ctx, x.shape(), dtype), sum = Tensor::empty(ctx, x.shape(), dtype),
         pool_dx = Tensor::empty(ctx, x.shape(), dtype);
  BatchNormParams p;
  p.activation = Activation::ReLU;
  visit_dtype(dtype, [&](auto element) {
    using T = decltype(element);
    if (training) {
      batchnorm_forward_train(ctx, s, p, y.elements<T>(), x.elements<T>(), r.elements<T>(), gamma.data(), beta.data(),
                              mean.data(), inv_std.data(), running_mean.data(), running_var.data());
      batchnorm_backward(ctx, s, p, dx.elements<T>(), dgamma.data(), dbeta.data(), dr.elements<T>(), dy.elements<T>(),
                         y.elements<T>(), x.elements<T>(), gamma.data(), mean.data(), inv_std.data());
    } else {
      batchnorm_forward_eval(ctx, s, p, y.elements<T>(), x.elements<T>(), r.elements<T>(), gamma.data(), beta.data(),
                             running_mean.data(), running_var.data());
    }
    global_avg_pool_forward(ctx, pooled.data(), x.elements<T>(), s.n, s.c, s.hw);
    global_avg_pool_backward(ctx, pool_dx.elements<T>(), d_pooled.data(), s.n, s.c, s.hw);
    add_forward(ctx, sum.elements<T>(), x.elements<T>(), r.elements<T>(), count);
  });
  ActivationOpsResult result;
  result.activations = {to_host(y), to_host(sum), to_host(pool_dx)};
  if (training) result.activations.insert(result.activations.end(), {to_host(dx), to_host(dr)});
  result.statistics = {pooled.to_host(ctx), dgamma.to_host(ctx), dbeta.to_host(ctx), mean.to_host(ctx),
                       inv_std.to_host(ctx), running_mean.to_host(ctx), running_var.to_host(ctx)};
  return result;
}

// x, r and dy hold bf16 values already, so that both runs see the same inputs.
Vectors activation_op_inputs(const BatchNormShape& s) {
  const size_t count = static_cast<size_t>(s.n) * s.c * s.hw;
  Vectors in = batchnorm_inputs(s);
  in[0] = rounded_to_bf16(in[0]);
  in.push_back(rounded_to_bf16(random_vector(count, 41)));
  in.push_back(rounded_to_bf16(random_vector(count, 42)));
  in.push_back(random_vector(static_cast<size_t>(s.n) * s.c, 43));
  return in;
}

TEST_CASE("bf16 NHWC activations: batchnorm (+ residual, relu), pooling and add give float32 NCHW's results rounded once") {
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{2, 37, 49}, BatchNormShape{3, 70, 5}}) {
    const Vectors in = activation_op_inputs(s);
    for (bool training : {true, false}) {
      INFO("n" << s.n << " c" << s.c << " hw" << s.hw << " training " << training);
      const ActivationOpsResult wide = activation_ops(cpu_context(), s, DType::F32, training, in);
      const ActivationOpsResult low = activation_ops(cpu_context(), s, DType::BF16, training, in);
      for (size_t i = 0; i < wide.activations.size(); ++i) {
        INFO("activation " << i);
        CHECK(same_bits(low.activations[i], rounded_to_bf16(wide.activations[i])));
        // Rounding happened (another arithmetic, not a copy), except in d_residual: dy through
        // the ReLU's mask, bf16 values already.
        if (i != 4) CHECK(low.activations[i] != wide.activations[i]);
      }
      for (size_t i = 0; i < wide.statistics.size(); ++i) {
        INFO("statistic " << i);
        CHECK(same_bits(low.statistics[i], wide.statistics[i]));  // float32 arithmetic on the same values
      }
    }
  }
}

// The grid of BatchNorm's NHWC reduction kernel, replayed on the CPU with the kernel's own
// arithmetic: every element of [rows, c] read by exactly one thread, every (channel, chunk)
// partial written exactly once, each from the lane sums of threads that read that channel.
TEST_CASE("channels-last reduction tiling: each element read once, each partial written once") {
  struct Case {
    long rows;
    int c, width;
  };
  const int threads = 256;
  for (const Case& k : {Case{24, 3, 1}, Case{98, 37, 1}, Case{150, 24, 8}, Case{6, 2056, 8}, Case{5, 4096, 1},
                        Case{1, 8, 8}, Case{2048, 512, 8}, Case{131072, 64, 8}, Case{8192 * 4 + 3, 128, 8}}) {
    INFO("rows " << k.rows << " c " << k.c << " width " << k.width);
    const ChannelsLastTiling t(k.rows, k.c, k.width, threads, 16, 64);
    CHECK(t.groups <= 65535);
    CHECK(t.chunk_rows >= 64);
    std::vector<uint8_t> reads(static_cast<size_t>(k.rows) * k.c, 0), written(static_cast<size_t>(k.c) * t.chunks, 0);
    size_t wrong_lanes = 0;
    for (long chunk = 0; chunk < t.chunks; ++chunk) {
      for (int group = 0; group < t.groups; ++group) {
        for (int thread = 0; thread < threads; ++thread) {
          if (!t.reads(group, thread)) continue;
          for (long row = t.first_row(chunk) + t.lane(thread); row < t.end_row(chunk); row += t.lanes)
            for (int j = 0; j < k.width; ++j) ++reads[row * k.c + t.pack(group, thread) * k.width + j];
        }
        for (int sum = 0; sum < t.group_packs * k.width; ++sum) {
          const int ch = t.sum_channel(group, sum);
          if (ch < 0) continue;
          ++written[ch * t.chunks + chunk];
          for (int lane = 0; lane < t.lanes; ++lane) {
            const int from = t.sum_thread(lane, sum);
            wrong_lanes += from >= threads || !t.reads(group, from) || t.sum_offset(sum) >= k.width ||
                           t.pack(group, from) * k.width + t.sum_offset(sum) != ch;
          }
        }
      }
    }
    CHECK(std::count(reads.begin(), reads.end(), 1) == static_cast<long>(reads.size()));
    CHECK(std::count(written.begin(), written.end(), 1) == static_cast<long>(written.size()));
    CHECK(wrong_lanes == 0);
  }
}

TEST_CASE("bf16 NHWC activations: the CUDA batchnorm, pooling and add match the CPU" * REQUIRES_GPU) {
  Context gpu(ContextOptions{Device::CUDA});
  // c = 3 and 37 take the one-channel reduction and scalar kernels, the rest eight-channel packs:
  // 24 (three packs a row, 85 row lanes) and 2056 (two channel groups, the second one pack wide).
  for (const BatchNormShape& s : {BatchNormShape{4, 3, 6}, BatchNormShape{2, 37, 49}, BatchNormShape{3, 24, 50},
                                  BatchNormShape{2, 2056, 3}, BatchNormShape{128, 64, 1024}, BatchNormShape{128, 512, 16}}) {
    const Vectors in = activation_op_inputs(s);
    for (bool training : {true, false}) {
      INFO("n" << s.n << " c" << s.c << " hw" << s.hw << " training " << training);
      ActivationOpsResult expected = activation_ops(cpu_context(), s, DType::BF16, training, in);
      ActivationOpsResult actual = activation_ops(gpu, s, DType::BF16, training, in);
      if (training)  // dx and d_residual pass through the ReLU's mask
        CHECK(drop_relu_disagreements(actual.activations, expected.activations, 0, {3, 4}) <=
              static_cast<size_t>(s.n) * s.c * s.hw / 100000);
      for (size_t i = 0; i < expected.activations.size(); ++i) {
        INFO("activation " << i);
        for (float v : actual.activations[i]) REQUIRE(v == round_to_bf16(v));
        // One bf16 step of the largest value is 2^-8 of it; the float32 sums differ far less.
        CHECK(relative_error(actual.activations[i], expected.activations[i]) < 1e-2);
      }
      for (size_t i = 0; i < expected.statistics.size(); ++i) {
        INFO("statistic " << i);
        CHECK(relative_error(actual.statistics[i], expected.statistics[i]) < 1e-4);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

OpRun linear_run(const LinearShape& s) {
  return [s](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {s.n, s.in}, in[0]), w = tensor_from(ctx, {s.out, s.in}, in[1]),
                 b = tensor_from(ctx, {s.out}, in[2]), g = tensor_from(ctx, {s.n, s.out}, dy);
    Tensor y = Tensor::empty(ctx, g.shape()), dx = Tensor::empty(ctx, x.shape()), dw = Tensor::empty(ctx, w.shape()),
           db = Tensor::empty(ctx, b.shape());
    linear_forward(ctx, s, y.data(), x.data(), w.data(), b.data());
    linear_backward(ctx, s, dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data());
    return Vectors{y.to_host(ctx), dx.to_host(ctx), dw.to_host(ctx), db.to_host(ctx)};
  };
}

Vectors linear_inputs(const LinearShape& s) {
  return {random_vector(static_cast<size_t>(s.n) * s.in, 51), random_vector(static_cast<size_t>(s.out) * s.in, 52),
          random_vector(s.out, 53)};
}

TEST_CASE("linear: backward matches central differences") {
  const LinearShape s{3, 7, 5};
  check_gradients(linear_run(s), linear_inputs(s), 15, {0, 1, 2}, 0.05f, 1e-3);
}

TEST_CASE("linear in tf32 and bf16: CUDA (cuBLAS fast compute types) matches the CPU" * REQUIRES_GPU) {
  const LinearShape s{128, 512, 10};
  check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out, 1e-2, Precision::BF16);
  check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out, 5e-3, Precision::TF32);
}

TEST_CASE("linear: CUDA matches the CPU reference" * REQUIRES_GPU) {
  for (const LinearShape& s : {LinearShape{3, 7, 5}, LinearShape{128, 512, 10}, LinearShape{33, 512, 200}})
    check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out);
}

// ---------------------------------------------------------------------------------------------

// Loss as output 0 (one value: the mean over the batch), dlogits, then the correct count.
OpRun cross_entropy_run(int n, int classes, const std::vector<int32_t>& labels) {
  return [=](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor logits = tensor_from(ctx, {n, classes}, in[0]);
    Tensor dlogits = Tensor::empty(ctx, logits.shape()), stats = Tensor::zeros(ctx, {2});
    Buffer<int32_t> device_labels(ctx, n);
    ctx.upload(device_labels.data(), labels.data(), n * sizeof(int32_t));
    softmax_cross_entropy(ctx, dlogits.data(), stats.data(), logits.data(), device_labels.data(), n, classes);
    const std::vector<float> sums = stats.to_host(ctx);
    std::vector<float> gradient = dlogits.to_host(ctx);  // of the mean loss; the harness wants dy * it
    for (float& g : gradient) g *= dy[0];
    return Vectors{{sums[0] / n}, gradient, {sums[1]}};
  };
}

TEST_CASE("softmax cross-entropy: gradient matches central differences, loss and accuracy are right") {
  const int n = 4, classes = 5;
  const std::vector<int32_t> labels = {0, 3, 4, 3};
  std::vector<float> logits = random_vector(n * classes, 61, -3.0f, 3.0f);
  check_gradients(cross_entropy_run(n, classes, labels), {logits}, 1, {0}, 1e-2f, 2e-3);

  const Vectors out = cross_entropy_run(n, classes, labels)(cpu_context(), {logits}, {1.0f});
  double loss = 0.0;
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const float* row = &logits[i * classes];
    double sum = 0.0;
    for (int j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j]));
    loss += std::log(sum) - row[labels[i]];
    correct += std::max_element(row, row + classes) - row == labels[i];
  }
  CHECK(out[0][0] == doctest::Approx(loss / n).epsilon(1e-5));
  CHECK(out[2][0] == correct);
}

TEST_CASE("softmax cross-entropy: CUDA matches the CPU reference" * REQUIRES_GPU) {
  for (const auto& [n, classes] : {std::pair{4, 5}, std::pair{128, 10}, std::pair{300, 200}}) {
    std::vector<int32_t> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = (i * 7) % classes;
    check_cuda_matches_cpu(cross_entropy_run(n, classes, labels), {random_vector(n * classes, 62, -4.0f, 4.0f)}, 1);
  }
}

// ---------------------------------------------------------------------------------------------

// An optimizer setting and its learning rate (which the update reads from context memory).
struct SgdCase {
  SgdConfig config;
  float lr;
};

// Three steps of PyTorch's SGD rule, written out in double.
void sgd_reference(const SgdCase& c, std::vector<double>& x, std::vector<double>& m, const std::vector<float>& g) {
  for (size_t i = 0; i < x.size(); ++i) {
    double d = g[i] + c.config.weight_decay * x[i];
    if (c.config.momentum != 0.0f) {
      m[i] = c.config.momentum * m[i] + d;
      d = c.config.nesterov ? d + c.config.momentum * m[i] : m[i];
    }
    x[i] -= c.lr * d;
  }
}

OpRun sgd_run(const SgdCase& c, int steps) {
  return [=](Context& ctx, const Vectors& in, const std::vector<float>&) {
    const int n = static_cast<int>(in[0].size());
    Tensor x = tensor_from(ctx, {n}, in[0]), m = Tensor::zeros(ctx, {n}), lr = tensor_from(ctx, {1}, {c.lr});
    for (int step = 0; step < steps; ++step) {
      const Tensor g = tensor_from(ctx, {n}, in[1 + step]);
      sgd_update(ctx, c.config, lr.data(), x.data(), g.data(), m.data(), n);
    }
    return Vectors{x.to_host(ctx), m.to_host(ctx)};
  };
}

std::vector<SgdCase> sgd_cases() {
  return {{SgdConfig{0.0f, 0.0f, false}, 0.1f}, {SgdConfig{0.9f, 5e-4f, false}, 0.05f}, {SgdConfig{0.8f, 1e-3f, true}, 0.2f}};
}

TEST_CASE("sgd: momentum, Nesterov and weight decay follow PyTorch's rule") {
  const int n = 257, steps = 3;
  for (const SgdCase& c : sgd_cases()) {
    Vectors in = {random_vector(n, 71)};
    for (int s = 0; s < steps; ++s) in.push_back(random_vector(n, 72 + s));
    const Vectors out = sgd_run(c, steps)(cpu_context(), in, {});
    std::vector<double> x(in[0].begin(), in[0].end()), m(n, 0.0);
    for (int s = 0; s < steps; ++s) sgd_reference(c, x, m, in[1 + s]);
    for (int i = 0; i < n; ++i) CHECK(out[0][i] == doctest::Approx(x[i]).epsilon(1e-5));
  }
}

TEST_CASE("sgd: CUDA matches the CPU reference" * REQUIRES_GPU) {
  const int n = 1 << 20;
  for (const SgdCase& c : sgd_cases())
    check_cuda_matches_cpu(sgd_run(c, 2), {random_vector(n, 71), random_vector(n, 72), random_vector(n, 73)}, 1);
}

// ---------------------------------------------------------------------------------------------

// A watch that records what it is told and gives up once the wait passes `limit` seconds.
struct GivingUpWatch : WaitWatch {
  explicit GivingUpWatch(double limit) : limit(limit) {}
  void waiting(double seconds) override {
    growing = growing && seconds >= last;
    last = seconds;
    ++calls;
    if (seconds > limit) throw std::runtime_error("gave up");
  }
  double limit, last = 0.0;
  bool growing = true;  // the time waited only grows
  int calls = 0;
};

TEST_CASE("host waits: polling returns once the work is done, and its watch can end a wait that never is") {
  GivingUpWatch patient(60.0);
  int polls = 0;
  wait_polling([&] { return ++polls == 4; }, patient);
  CHECK(polls == 4);
  CHECK(patient.calls == 3);  // told after each miss, not after the hit
  CHECK(patient.growing);

  // Work that never finishes (here: not for 5 s, so that a broken watch fails rather than hangs).
  GivingUpWatch impatient(0.05);
  const auto start = std::chrono::steady_clock::now();
  const auto never = [&] { return std::chrono::steady_clock::now() - start > std::chrono::seconds(5); };
  CHECK_THROWS_WITH(wait_polling(never, impatient), "gave up");
  CHECK(impatient.last > 0.05);
  CHECK(impatient.growing);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

// Spins until the host sets *release (mapped host memory), or for about `cycles` clock ticks, so
// that a test that goes wrong still ends.
__global__ void spin_until_released(const volatile int* release, long long cycles) {
  const long long start = clock64();
  while (*release == 0 && clock64() - start < cycles) {
  }
}

TEST_CASE("host waits: CUDA work that does not finish ends the wait through the context's watch" * REQUIRES_GPU) {
  Context ctx(ContextOptions{Device::CUDA});
  int* release = nullptr;
  CUDA_CHECK(cudaHostAlloc(reinterpret_cast<void**>(&release), sizeof(int), cudaHostAllocMapped));
  *release = 0;
  int* device_view = nullptr;
  CUDA_CHECK(cudaHostGetDevicePointer(reinterpret_cast<void**>(&device_view), release, 0));
  Tensor one = Tensor::zeros(ctx, Shape{1});  // allocated before the kernel runs
  cudaEvent_t done;
  CUDA_CHECK(cudaEventCreate(&done));
  spin_until_released<<<1, 1, 0, ctx.stream>>>(device_view, 60LL * 2000 * 1000 * 1000);  // ~60 s at 2 GHz
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaEventRecord(done, ctx.stream));

  GivingUpWatch watch(0.2);
  ctx.wait_watch = &watch;
  CHECK_THROWS_WITH(ctx.synchronize(), "gave up");
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.wait_for(done), "gave up");
  float host = 0.0f;
  // Copies from and to pageable memory wait in CUDA for the queued work: through the watch first.
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.download(&host, one.data(), sizeof(float)), "gave up");
  watch.last = 0.0;
  CHECK_THROWS_WITH(ctx.upload(one.data(), &host, sizeof(float)), "gave up");

  *release = 1;  // the kernel ends: the same waits now return, watched or not
  watch.last = 0.0;
  watch.limit = 30.0;
  ctx.synchronize();
  ctx.wait_for(done);
  ctx.wait_watch = nullptr;
  ctx.synchronize();
  CUDA_CHECK(cudaEventDestroy(done));
  CUDA_CHECK(cudaFreeHost(release));
}

TEST_CASE("allocator: a released block is reused for the same size") {
  Context ctx(ContextOptions{Device::CPU});
  const void* first = nullptr;
  {
    Tensor t = Tensor::empty(ctx, {1000});
    first = t.data();
    CHECK(ctx.allocator->bytes_in_use() >= 4000);
  }
  CHECK(ctx.allocator->bytes_in_use() == 0);
  Tensor again = Tensor::empty(ctx, {1000});
  CHECK(again.data() == first);
  CHECK(ctx.allocator->bytes_cached() == 0);
  CHECK(ctx.allocator->system_allocations() == 1);
  CHECK(ctx.allocator->allocations() == 2);  // the cache's hand-out counts too
}

TEST_CASE("tensor: views share storage and keep it alive") {
  Context ctx(ContextOptions{Device::CPU});
  Tensor view;
  {
    Tensor base = Tensor::zeros(ctx, {10});
    view = Tensor::view(base, 4, {2, 3});
    view.copy_from_host(ctx, {1, 2, 3, 4, 5, 6});
    const std::vector<float> all = base.to_host(ctx);
    CHECK(all == std::vector<float>{0, 0, 0, 0, 1, 2, 3, 4, 5, 6});
  }
  CHECK(view.to_host(ctx)[5] == 6.0f);  // the base is gone, its storage is not
  CHECK(ctx.allocator->bytes_in_use() > 0);
}

TEST_CASE("rng: Philox4x32-10 matches the published known-answer vector") {
  // Random123's kat_vectors: philox4x32_10 with counter = key = 0.
  const Philox4 r = philox(0, 0, 0);
  CHECK(r.v[0] == 0x6627e8d5u);
  CHECK(r.v[1] == 0xe169c58du);
  CHECK(r.v[2] == 0xbc57ac4cu);
  CHECK(r.v[3] == 0x9b00dbd8u);
  // ... and with every counter and key bit set.
  const Philox4 ones = philox(~0ull, ~0ull, ~0ull);
  CHECK(ones.v[0] == 0x408f276du);
  CHECK(ones.v[1] == 0x41c83b0eu);
  CHECK(ones.v[2] == 0xa20bc7c6u);
  CHECK(ones.v[3] == 0x6d5451fdu);
}

}  // namespace

namespace {

TEST_CASE("learning-rate schedules: step decay, cosine to zero, one-cycle warm-up and anneal") {
  LrSchedule step{LrSchedule::Step, 0.1f, 1000, 10, {80, 90}, 0.1f};
  CHECK(step.at(0) == doctest::Approx(0.1));
  CHECK(step.at(799) == doctest::Approx(0.1));
  CHECK(step.at(800) == doctest::Approx(0.01));
  CHECK(step.at(905) == doctest::Approx(0.001));
  LrSchedule cosine{LrSchedule::Cosine, 0.2f, 100, 10, {}, 0.1f};
  CHECK(cosine.at(0) == doctest::Approx(0.2));
  CHECK(cosine.at(50) == doctest::Approx(0.1));
  CHECK(cosine.at(100) == doctest::Approx(0.0).epsilon(1e-6));
  LrSchedule one_cycle{LrSchedule::OneCycle, 0.1f, 100, 10, {}, 0.1f};
  CHECK(one_cycle.at(0) == doctest::Approx(0.1 / 25));
  CHECK(one_cycle.at(30) == doctest::Approx(0.1));
  CHECK(one_cycle.at(100) == doctest::Approx(0.1 / 25 / 1e4).epsilon(1e-3));
  CHECK(one_cycle.at(20) > one_cycle.at(10));
  CHECK(one_cycle.at(60) < one_cycle.at(40));
  CHECK(parse_epoch_list("80,120") == std::vector<long>{80, 120});
}

TEST_CASE("checkpoints: vectors and numbers read back exactly; a damaged file is detected") {
  Context& ctx = cpu_context();
  const std::string path = temp_dir("ckpt") + ".bin";
  CheckpointWriter w;
  const std::vector<float> v = random_vector(1000, 5);
  w.add_vector("params", ctx, v.data(), v.size());
  w.add_number("step", 1234);
  w.write(path);
  CHECK(!std::filesystem::exists(path + ".tmp"));
  const CheckpointReader r(path);
  std::vector<float> back(v.size());
  r.read_vector("params", ctx, back.data(), back.size());
  CHECK(back == v);
  CHECK(r.number("step") == 1234);
  CHECK(r.has("params"));
  CHECK(!r.has("momentum"));
  std::remove(path.c_str());
}

TEST_CASE("checkpoint folder: each save replaces all ranks' files at once; a crash mid-swap resumes the old one") {
  Context& ctx = cpu_context();
  const std::string run = temp_dir("ckpt-folder");
  const CheckpointFolder folder(run);
  const auto save = [&](double step) {
    folder.begin();
    for (int rank = 0; rank < 2; ++rank) {
      CheckpointWriter w;
      w.add_number("step", step);
      w.write(folder.staging_file(rank));
    }
    folder.publish();
  };
  const auto resumed_step = [&](int rank) { return CheckpointReader(folder.file_to_resume(rank)).number("step"); };
  save(16);
  CHECK(folder.file_to_resume(1) == run + "/checkpoint/rank-1.bin");
  CHECK(resumed_step(0) == 16);
  CHECK(!std::filesystem::exists(run + "/checkpoint.tmp"));
  CHECK(!std::filesystem::exists(run + "/checkpoint.old"));
  // A save that died while the ranks were writing leaves checkpoint.tmp/ behind: the next one
  // starts it afresh, and what the dead save wrote never reaches checkpoint/.
  folder.begin();
  write_bytes(folder.staging_file(2), "torn", 4);  // a rank that the next save does not write
  save(32);
  CHECK(resumed_step(0) == 32);
  CHECK(resumed_step(1) == 32);
  CHECK(!std::filesystem::exists(run + "/checkpoint/rank-2.bin"));
  // Died between the swap's two renames: checkpoint/ gone, checkpoint.old/ whole.
  std::filesystem::rename(run + "/checkpoint", run + "/checkpoint.old");
  CHECK(folder.file_to_resume(0) == run + "/checkpoint.old/rank-0.bin");
  CHECK(resumed_step(1) == 32);
  save(48);
  CHECK(resumed_step(1) == 48);
  CHECK(!std::filesystem::exists(run + "/checkpoint.old"));
  // A run directory that cannot hold a folder is a user error, not a crash; so is a checkpoint
  // that is not there, or has no file for the rank.
  CHECK_THROWS_WITH_AS(folder.file_to_resume(2), doctest::Contains("written by 2 ranks, and this run has more"),
                       UserError);
  // A file renamed away is said to be missing, not taken for a run of fewer ranks.
  std::filesystem::rename(run + "/checkpoint/rank-0.bin", run + "/checkpoint/rank-0.bin.saved");
  CHECK_THROWS_WITH_AS(folder.file_to_resume(0), doctest::Contains("has files of ranks up to 1: a file is missing"),
                       UserError);
  std::filesystem::rename(run + "/checkpoint/rank-0.bin.saved", run + "/checkpoint/rank-0.bin");
  CHECK_THROWS_WITH_AS(CheckpointFolder(run + "/elsewhere").file_to_resume(0), doctest::Contains("no checkpoint"),
                       UserError);
  CHECK_THROWS_AS(CheckpointFolder(run + "/checkpoint/rank-0.bin").begin(), UserError);
  // A rank's part that cannot be written (here: a folder in its place) leaves no checkpoint.tmp/.
  folder.begin();
  std::filesystem::create_directories(folder.staging_file(0));
  CheckpointWriter part;
  part.add_number("step", 64);
  CHECK_THROWS_WITH_AS(part.write(folder.staging_file(0), [&] { folder.abandon(); }), doctest::Contains("cannot"),
                       UserError);
  CHECK(!std::filesystem::exists(run + "/checkpoint.tmp"));
  CHECK(resumed_step(0) == 48);  // the last complete checkpoint is untouched
  // A checkpoint folder replaced by a file is said to be one.
  const std::string replaced = temp_dir("ckpt-replaced");
  std::filesystem::create_directories(replaced);
  write_bytes(replaced + "/checkpoint", "x", 1);
  CHECK_THROWS_WITH_AS(CheckpointFolder(replaced).file_to_resume(0), doctest::Contains("is not a folder"), UserError);
  std::filesystem::remove_all(replaced);
  std::filesystem::remove_all(run);
}

TEST_CASE("flags: integers within their range, finite numbers, values among their choices, else a user error") {
  Flags f("test", "flags under test");
  f.add("width", "64", "");
  f.add("steps", "0", "");
  f.add("graphs", "on", "");
  f.add("lr", "0.1", "");
  const char* argv[] = {"test", "--width=2048", "--steps", "-1", "--graphs", "maybe", "--lr", "inf"};
  f.parse(8, const_cast<char**>(argv));
  CHECK(f.integer("width", 1, 4096) == 2048);
  CHECK(f.integer("steps", -1) == -1);
  CHECK_THROWS_WITH_AS(f.integer("width", 1, 1024), "--width must be in [1, 1024], got 2048", UserError);
  CHECK_THROWS_WITH_AS(f.integer("steps", 0), "--steps must be at least 0, got -1", UserError);
  CHECK_THROWS_WITH_AS(f.choice("graphs", {"on", "off"}), "--graphs must be one of on, off; got 'maybe'", UserError);
  CHECK_THROWS_WITH_AS(f.number("lr"), "--lr must be a finite number, got 'inf'", UserError);
  CHECK(f.choice("graphs", {"on", "off", "maybe"}) == "maybe");
}

TEST_CASE("flags: numbers are plain decimal, as people write them; strtod's other forms are refused") {
  const auto parsed = [](const std::string& text) {
    Flags f("test", "");
    f.add("x", "0", "");
    const std::string arg = "--x=" + text;
    const char* argv[] = {"test", arg.c_str()};
    f.parse(2, const_cast<char**>(argv));
    return f;
  };
  for (const char* good : {"1e-3", "-2", "+3", ".5", "5.", "2.5E+2", "0"}) {
    INFO(good);
    CHECK_NOTHROW(parsed(good).number("x"));
  }
  for (const char* bad : {" 5", "5 ", "0x10", "0x1p3", "1e", "1e+", ".", "+", "", "inf", "nan", "1,5", "--5"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parsed(bad).number("x"), UserError);
    CHECK_THROWS_AS(parsed(bad).integer("x"), UserError);
  }
  CHECK(parsed("+7").integer("x") == 7);
  CHECK_THROWS_AS(parsed("7.0").integer("x"), UserError);
  CHECK_THROWS_AS(parsed("1e3").integer("x"), UserError);
  CHECK(parse_epoch_list("3,9") == std::vector<long>{3, 9});
  for (const char* bad : {"3,", ",3", "3,,9", "", " 3", "3 ", "0", "9,3", "3,3", "0x3"}) {
    INFO("'" << bad << "'");
    CHECK_THROWS_AS(parse_epoch_list(bad), UserError);
  }
}

TEST_CASE("user errors: a message stays one printable line whatever text it echoes") {
  CHECK_THROWS_WITH_AS(fail_input("wnids.txt names %s twice", "n01\nn02\x1b[2J\x7f"),
                       "wnids.txt names n01?n02?[2J? twice", UserError);
}

// Runs `body` in a forked child with its stderr captured; returns the child's wait status.
int in_child_process(const std::function<void()>& body, std::string* err) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::fflush(nullptr);  // else the child writes out the parent's buffered output a second time
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    alarm(60);  // a child that hangs dies, and the test fails instead of hanging
    dup2(fds[1], 2);
    close(fds[0]);
    try {
      body();
    } catch (...) {  // never back into the parent's test run
      std::_Exit(99);
    }
    std::_Exit(0);
  }
  close(fds[1]);
  char chunk[4096];
  for (ssize_t n; (n = read(fds[0], chunk, sizeof chunk)) > 0;) err->append(chunk, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  return status;
}

// Host logic only, so CI (no GPU) covers it; skipped where a GPU is, because the GPU test cases
// have started CUDA by then and a forked child's exit would run CUDA's teardown on a copy of it.
TEST_CASE("errors: rank threads failing at the same moment are said in one whole line, exit code 1" *
          doctest::skip(cuda_available())) {
  constexpr int kThreads = 8;
  std::string err;
  const int status = in_child_process(
      [] {
        std::atomic<int> ready{0};
        const std::string detail(600, 'x');  // long lines interleave more readily
        std::_Exit(exit_code_of([&] {
          run_local_ranks(kThreads, 60.0, [&](LocalHub&, int rank) {
            ++ready;
            while (ready.load() < kThreads) {
            }
            fail_internal("rank.cpp", rank, "rank %d failed: %s", rank, detail.c_str());
          });
          return 0;
        }));
      },
      &err);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  REQUIRE(lines_of(err).size() == 1);
  CHECK(err.rfind("fatal: rank.cpp:", 0) == 0);
  CHECK(err.size() == std::string("fatal: rank.cpp:0: rank 0 failed: \n").size() + 600);
}

// A failed library call is an exception, so that in a test binary it fails its test case and the
// others still run; the process's exit code is decided once, by what reaches main.
TEST_CASE("errors: a failed CUDA or cuDNN call throws InternalError naming its file and line; exit codes 2 and 1") {
  CHECK_THROWS_WITH_AS(CUDA_CHECK(cudaErrorInvalidValue), doctest::Contains("test_engine.cu:"), InternalError);
  CHECK_THROWS_WITH_AS(CUDNN_CHECK(CUDNN_STATUS_NOT_SUPPORTED), doctest::Contains("cuDNN: "), InternalError);
  CHECK(exit_code_of([]() -> int { fail_input("a user's mistake (printed by this test)"); }) == 2);
  CHECK(exit_code_of([]() -> int { fail_internal(__FILE__, __LINE__, "an impossible state (printed by this test)"); }) == 1);
  CHECK(exit_code_of([]() -> int { throw UserErrorSaidElsewhere("said by another rank"); }) == 2);
  CHECK(exit_code_of([] { return 3; }) == 3);
}

TEST_CASE("bench_activations runs on the CPU (a check that it works, not a timing)") {
  // `make bench` runs it on the GPU machine, which CI is not: this keeps it from rotting.
  std::string output;
  CHECK(run_shell("build/bench_activations --cpu", &output) == 0);
  INFO(output);
  CHECK(output.find("  fp32      2   64  1024") != std::string::npos);  // a row of figures
  CHECK(output.find("nan") == std::string::npos);
}

}  // namespace
