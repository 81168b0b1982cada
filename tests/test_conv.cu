// Convolutions: backward against central differences, the CPU library (oneDNN) and cuDNN against
// the plain reference, bf16 NHWC convolutions against their CPU emulation, and the bf16 layout
// conversions.
#include <thread>

#include <omp.h>

#include "engine/bf16.h"
#include "engine/conv.h"
#include "engine/conv_cpu.h"
#include "engine/conv_reference.h"
#include "engine/linear.h"
#include "tests/op_checks.h"

namespace {

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

}  // namespace
