// The engine's smaller kernels under the emulator against their CPU paths: element-wise ops, bf16 transposes, pooling, cross-entropy, linear's bias kernels, SGD, vector ops and the step clock.
//
// Lengths straddle the block size (256) and the bf16 pack (8 elements), and some buffers start
// 2 bytes off alignment, so that each kernel's tail and fallback paths run too.
#include "engine/bf16.h"
#include "engine/cross_entropy.h"
#include "engine/elementwise.h"
#include "engine/linear.h"
#include "engine/pool.h"
#include "engine/sgd.h"
#include "engine/step_clock.h"
#include "engine/vector_ops.h"
#include "test_support.h"

TEST_CASE("emulated relu and add kernels, float, lengths around the block size") {
  Rng rng(1, 1);
  for (size_t n : {1, 255, 256, 257, 4099}) {
    INFO("n ", n);
    ExactBuffer<float> x(n), b(n), dy(n), y_cpu(n), y_gpu(n), dx_cpu(n), dx_gpu(n);
    fill_uniform(x, rng, -1.0f, 1.0f);
    fill_uniform(b, rng, -1.0f, 1.0f);
    fill_uniform(dy, rng, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i += 7) x[i] = 0.0f;  // ReLU's boundary
    relu_forward(cpu(), y_cpu.data(), x.data(), n);
    relu_forward(gpu(), y_gpu.data(), x.data(), n);
    expect_exact("relu forward", y_gpu.data(), y_cpu.data(), n);
    relu_backward(cpu(), dx_cpu.data(), dy.data(), y_cpu.data(), n);
    relu_backward(gpu(), dx_gpu.data(), dy.data(), y_cpu.data(), n);
    expect_exact("relu backward", dx_gpu.data(), dx_cpu.data(), n);
    add_forward(cpu(), y_cpu.data(), x.data(), b.data(), n);
    add_forward(gpu(), y_gpu.data(), x.data(), b.data(), n);
    expect_exact("add", y_gpu.data(), y_cpu.data(), n);
  }
  expect_no_findings();
}

TEST_CASE("emulated bf16 add: the packed kernel, its tail, and the fallback for each misaligned operand") {
  Rng rng(2, 1);
  const long packed_before = emu::launch_count("add_packed_kernel");
  for (size_t n : {8, 1003, 2056})
    for (int misaligned = 0; misaligned < 4; ++misaligned) {  // none, y, a, b: 2 bytes off
      INFO("n ", n, ", misaligned operand ", misaligned);
      ExactBuffer<uint16_t> a(n, misaligned == 2 ? 2 : 0), b(n, misaligned == 3 ? 2 : 0);
      ExactBuffer<uint16_t> y_cpu(n), y_gpu(n, misaligned == 1 ? 2 : 0);
      fill_uniform(a, rng, -2.0f, 2.0f);
      fill_uniform(b, rng, -2.0f, 2.0f);
      add_forward(cpu(), y_cpu.data(), a.data(), b.data(), n);
      add_forward(gpu(), y_gpu.data(), a.data(), b.data(), n);
      expect_exact("add bf16", y_gpu.data(), y_cpu.data(), n);
    }
  CHECK(emu::launch_count("add_packed_kernel") > packed_before);
  expect_no_findings();
}

TEST_CASE("emulated bf16 layout transposes, NCHW float <-> NHWC bf16, partial tiles") {
  Rng rng(3, 1);
  for (auto [n, c, hw] : {std::array<int, 3>{1, 3, 1}, {2, 64, 64}, {3, 33, 49}, {2, 70, 65}}) {
    INFO("n ", n, ", c ", c, ", hw ", hw);
    const size_t total = static_cast<size_t>(n) * c * hw;
    ExactBuffer<float> src(total), back_cpu(total), back_gpu(total);
    ExactBuffer<uint16_t> nhwc_cpu(total), nhwc_gpu(total);
    fill_uniform(src, rng, -3.0f, 3.0f);
    nchw_to_nhwc_bf16(cpu(), nhwc_cpu.data(), src.data(), n, c, hw);
    nchw_to_nhwc_bf16(gpu(), nhwc_gpu.data(), src.data(), n, c, hw);
    expect_exact("nchw_to_nhwc_bf16", nhwc_gpu.data(), nhwc_cpu.data(), total);
    nhwc_bf16_to_nchw(cpu(), back_cpu.data(), nhwc_cpu.data(), n, c, hw);
    nhwc_bf16_to_nchw(gpu(), back_gpu.data(), nhwc_cpu.data(), n, c, hw);
    expect_exact("nhwc_bf16_to_nchw", back_gpu.data(), back_cpu.data(), total);
  }
  expect_no_findings();
}

TEST_CASE("emulated global average pooling, forward and backward, float NCHW and bf16 NHWC") {
  Rng rng(4, 1);
  for (auto [n, c, hw] : {std::array<int, 3>{1, 1, 1}, {5, 64, 16}, {3, 512, 1}, {2, 24, 49}, {3, 5, 100}}) {
    INFO("n ", n, ", c ", c, ", hw ", hw);
    const size_t total = static_cast<size_t>(n) * c * hw, planes = static_cast<size_t>(n) * c;
    ExactBuffer<float> x(total), y_cpu(planes), y_gpu(planes), dy(planes), dx_cpu(total), dx_gpu(total);
    ExactBuffer<uint16_t> x_bf16(total), dx_bf16_cpu(total), dx_bf16_gpu(total);
    fill_uniform(x, rng, -1.0f, 1.0f);
    fill_uniform(x_bf16, rng, -1.0f, 1.0f);
    fill_uniform(dy, rng, -1.0f, 1.0f);
    global_avg_pool_forward(cpu(), y_cpu.data(), x.data(), n, c, hw);
    global_avg_pool_forward(gpu(), y_gpu.data(), x.data(), n, c, hw);
    expect_close("forward, float (a warp's tree sum)", y_gpu.data(), y_cpu.data(), planes, 1e-6, 1e-5);
    global_avg_pool_forward(cpu(), y_cpu.data(), x_bf16.data(), n, c, hw);
    global_avg_pool_forward(gpu(), y_gpu.data(), x_bf16.data(), n, c, hw);
    expect_exact("forward, bf16", y_gpu.data(), y_cpu.data(), planes);
    global_avg_pool_backward(cpu(), dx_cpu.data(), dy.data(), n, c, hw);
    global_avg_pool_backward(gpu(), dx_gpu.data(), dy.data(), n, c, hw);
    expect_exact("backward, float", dx_gpu.data(), dx_cpu.data(), total);
    global_avg_pool_backward(cpu(), dx_bf16_cpu.data(), dy.data(), n, c, hw);
    global_avg_pool_backward(gpu(), dx_bf16_gpu.data(), dy.data(), n, c, hw);
    expect_exact("backward, bf16", dx_bf16_gpu.data(), dx_bf16_cpu.data(), total);
  }
  expect_no_findings();
}

TEST_CASE("emulated softmax cross-entropy: gradients exact, the block-summed statistics close") {
  Rng rng(5, 1);
  for (int n : {1, 256, 300})
    for (int classes : {10, 200}) {
      INFO("n ", n, ", classes ", classes);
      const size_t total = static_cast<size_t>(n) * classes;
      ExactBuffer<float> logits(total), d_cpu(total), d_gpu(total), stats_cpu(2), stats_gpu(2);
      ExactBuffer<int32_t> labels(n);
      fill_uniform(logits, rng, -5.0f, 5.0f);
      for (int i = 0; i < n; ++i) labels[i] = static_cast<int32_t>(rng.below(classes));
      stats_cpu[0] = stats_gpu[0] = 1.5f;  // the kernel adds the batch's loss sum and correct count
      stats_cpu[1] = stats_gpu[1] = 3.0f;
      softmax_cross_entropy(cpu(), d_cpu.data(), stats_cpu.data(), logits.data(), labels.data(), n, classes);
      softmax_cross_entropy(gpu(), d_gpu.data(), stats_gpu.data(), logits.data(), labels.data(), n, classes);
      expect_exact("dlogits", d_gpu.data(), d_cpu.data(), total);
      expect_close("loss sum and correct count", stats_gpu.data(), stats_cpu.data(), 2, 1e-5, 1e-5);
    }
  expect_no_findings();
}

// The matrix products go to the stand-in cuBLAS (tests/emulation/include/cublas_v2.h); small
// integers make every product exact, so the bias kernels around them are compared bit for bit.
TEST_CASE("emulated linear layer bias kernels") {
  Rng rng(6, 1);
  auto small_integers = [&](ExactBuffer<float>& b, float step) {
    for (size_t i = 0; i < b.size(); ++i) b[i] = step * (static_cast<int>(rng.below(7)) - 3);
  };
  for (int n : {1, 300})
    for (int out : {10, 257}) {
      INFO("n ", n, ", out ", out);
      const LinearShape s{n, 4, out};
      const size_t xs = static_cast<size_t>(n) * s.in, ws = static_cast<size_t>(out) * s.in,
                   ys = static_cast<size_t>(n) * out;
      ExactBuffer<float> x(xs), w(ws), b(out), dy(ys), y_cpu(ys), y_gpu(ys);
      ExactBuffer<float> dx_cpu(xs), dx_gpu(xs), dw_cpu(ws), dw_gpu(ws), db_cpu(out), db_gpu(out);
      small_integers(x, 1.0f);
      small_integers(w, 1.0f);
      small_integers(b, 0.5f);
      small_integers(dy, 0.25f);
      linear_forward(cpu(), s, y_cpu.data(), x.data(), w.data(), b.data());
      linear_forward(gpu(), s, y_gpu.data(), x.data(), w.data(), b.data());
      expect_exact("y (add_bias_kernel)", y_gpu.data(), y_cpu.data(), ys);
      linear_backward(cpu(), s, dx_cpu.data(), dw_cpu.data(), db_cpu.data(), dy.data(), x.data(), w.data());
      linear_backward(gpu(), s, dx_gpu.data(), dw_gpu.data(), db_gpu.data(), dy.data(), x.data(), w.data());
      expect_exact("db (bias_grad_kernel)", db_gpu.data(), db_cpu.data(), out);
      expect_exact("dw", dw_gpu.data(), dw_cpu.data(), ws);
      expect_exact("dx", dx_gpu.data(), dx_cpu.data(), xs);
    }
  expect_no_findings();
}

TEST_CASE("emulated SGD update: plain, momentum, weight decay, Nesterov; the rate read through a pointer, as from the step clock") {
  Rng rng(7, 1);
  for (size_t n : {1, 4097})
    for (int variant = 0; variant < 4; ++variant) {
      SgdConfig config;
      config.momentum = variant == 0 ? 0.0f : 0.9f;
      config.weight_decay = variant >= 2 ? 5e-4f : 0.0f;
      config.nesterov = variant == 3;
      INFO("n ", n, ", variant ", variant);
      ExactBuffer<float> p_cpu(n), p_gpu(n), grad(n), m_cpu(n), m_gpu(n);
      fill_uniform(p_cpu, rng, -1.0f, 1.0f);
      fill_uniform(grad, rng, -1.0f, 1.0f);
      fill_uniform(m_cpu, rng, -1.0f, 1.0f);
      std::memcpy(p_gpu.data(), p_cpu.data(), n * sizeof(float));
      std::memcpy(m_gpu.data(), m_cpu.data(), n * sizeof(float));
      ExactBuffer<StepPosition> position(1);
      position[0] = StepPosition{3, 0, 3, 0.05f};
      const bool momentum = config.momentum != 0.0f;
      sgd_update(cpu(), config, &position[0].lr, p_cpu.data(), grad.data(), momentum ? m_cpu.data() : nullptr, n);
      sgd_update(gpu(), config, &position[0].lr, p_gpu.data(), grad.data(), momentum ? m_gpu.data() : nullptr, n);
      expect_exact("parameters", p_gpu.data(), p_cpu.data(), n);
      if (momentum) expect_exact("momentum", m_gpu.data(), m_cpu.data(), n);
    }
  expect_no_findings();
}

TEST_CASE("emulated vector ops: element-wise bit for bit, block-summed reductions close") {
  Rng rng(8, 1);
  for (size_t n : {1, 4097, 70000, 300000}) {  // 300000: past the reductions' 1024 blocks, so threads stride
    INFO("n ", n);
    ExactBuffer<float> a(n), b(n), y_cpu(n), y_gpu(n), out_cpu(n), out_gpu(n), lr(1);
    fill_uniform(a, rng, -1.0f, 1.0f);
    fill_uniform(b, rng, -1.0f, 1.0f);
    fill_uniform(y_cpu, rng, -1.0f, 1.0f);
    std::memcpy(y_gpu.data(), y_cpu.data(), n * sizeof(float));
    for (size_t i = 0; i < n; i += 3) a[i] = 0.0f;  // for count_zeros
    lr[0] = 0.1f;
    axpy(cpu(), y_cpu.data(), 0.3f, a.data(), n);
    axpy(gpu(), y_gpu.data(), 0.3f, a.data(), n);
    expect_exact("axpy", y_gpu.data(), y_cpu.data(), n);
    add_scaled(cpu(), out_cpu.data(), a.data(), -0.7f, b.data(), n);
    add_scaled(gpu(), out_gpu.data(), a.data(), -0.7f, b.data(), n);
    expect_exact("add_scaled", out_gpu.data(), out_cpu.data(), n);
    scale(cpu(), out_cpu.data(), 1.3f, n);
    scale(gpu(), out_gpu.data(), 1.3f, n);
    expect_exact("scale", out_gpu.data(), out_cpu.data(), n);
    soft_threshold(cpu(), out_cpu.data(), lr.data(), 2.0f, n);
    soft_threshold(gpu(), out_gpu.data(), lr.data(), 2.0f, n);
    expect_exact("soft_threshold", out_gpu.data(), out_cpu.data(), n);
    CHECK(squared_norm(gpu(), a.data(), n) == doctest::Approx(squared_norm(cpu(), a.data(), n)).epsilon(1e-5));
    CHECK(count_zeros(gpu(), a.data(), n) == count_zeros(cpu(), a.data(), n));
  }
  expect_no_findings();
}

TEST_CASE("emulated step clock: position and rate across epoch boundaries and past the schedule's end") {
  const std::vector<float> rates = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f};
  StepClock clock_cpu(cpu(), rates, 2), clock_gpu(gpu(), rates, 2);
  for (int k = 0; k < 7; ++k) {
    clock_cpu.advance(cpu());
    clock_gpu.advance(gpu());
    const StepPosition a = *clock_cpu.position(), b = *clock_gpu.position();
    INFO("advance ", k);
    CHECK(a.step == b.step);
    CHECK(a.epoch == b.epoch);
    CHECK(a.batch == b.batch);
    CHECK(a.lr == b.lr);
  }
  expect_no_findings();
}
