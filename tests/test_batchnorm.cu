// Batch normalisation: backward against central differences, statistics and running averages, the
// fused ReLU and residual against the separate ops, the same bits on any thread count, CUDA against
// the CPU; and the bf16 NHWC activation ops (batchnorm, pooling, add) against float32 NCHW, with
// the channels-last reduction tiling.
#include <omp.h>

#include "engine/batchnorm.h"
#include "engine/channels_last_tiling.h"
#include "engine/elementwise.h"
#include "engine/pool.h"
#include "tests/op_checks.h"

namespace {

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

}  // namespace
