// BatchNorm's kernels (engine/batchnorm.cu) under the emulator against the file's own CPU path: float NCHW and bf16 NHWC, packed and not, with and without fused ReLU and residual.
//
// The rewritten batchnorm.cu is included, not linked, to reach its file-local element rules
// (normalized, input_gradient): the statistics are tree sums on the GPU and sequential sums on the
// CPU, so they agree only to rounding, but given the kernels' own statistics, every element the
// kernels write must equal the element rule bit for bit.
#include "engine/batchnorm.cu.cpp"  // build/emulation/engine/batchnorm.cu.cpp, from rewrite_cuda.py

#include "test_support.h"

namespace {

struct Case {
  int n, c, hw;
  size_t offset_all = 0;       // bytes every activation starts past 16-byte alignment
  size_t offset_residual = 0;  // the same for the residual and its gradient only
};

struct Variant {
  bool residual;
  Activation activation;
};

// Runs forward (training and evaluation) and backward for one shape and variant.
template <typename T>
void check_batchnorm(const Case& k, const Variant& v, uint64_t seed) {
  const BatchNormShape s{k.n, k.c, k.hw};
  const size_t total = static_cast<size_t>(s.n) * s.c * s.hw, C = s.c;
  INFO("n ", s.n, ", c ", s.c, ", hw ", s.hw, "; offsets ", k.offset_all, " and ", k.offset_residual, " bytes; residual ",
       v.residual, ", relu ", v.activation == Activation::ReLU);
  auto channel = [&](size_t i) { return ActivationLayout<T>::channel(static_cast<long>(i), s.c, s.hw); };

  Rng rng(seed, 1);
  ExactBuffer<T> x(total, k.offset_all), residual_buffer(total, k.offset_residual);
  std::vector<float> shift(C);
  for (float& m : shift) m = rng.uniform(-4.0f, 4.0f);  // means far from 0: the shifted moments matter
  for (size_t i = 0; i < total; ++i) x[i] = from_float<T>(shift[channel(i)] + rng.uniform(-2.0f, 2.0f));
  fill_uniform(residual_buffer, rng, -1.0f, 1.0f);
  const T* residual = v.residual ? residual_buffer.data() : nullptr;
  ExactBuffer<float> gamma(C), beta(C), running_mean_cpu(C), running_var_cpu(C);
  fill_uniform(gamma, rng, 0.5f, 1.5f);
  fill_uniform(beta, rng, -0.5f, 0.5f);
  fill_uniform(running_mean_cpu, rng, -1.0f, 1.0f);
  fill_uniform(running_var_cpu, rng, 0.5f, 2.0f);
  ExactBuffer<float> running_mean_gpu(C), running_var_gpu(C);
  std::memcpy(running_mean_gpu.data(), running_mean_cpu.data(), C * sizeof(float));
  std::memcpy(running_var_gpu.data(), running_var_cpu.data(), C * sizeof(float));
  BatchNormParams p;
  p.activation = v.activation;

  // Forward in training mode. Tolerances: float sums of up to ~10^4 terms in another order.
  ExactBuffer<T> y_cpu(total, k.offset_all), y_gpu(total, k.offset_all);
  ExactBuffer<float> mean_cpu(C), inv_std_cpu(C), mean_gpu(C), inv_std_gpu(C);
  batchnorm_forward_train(cpu(), s, p, y_cpu.data(), x.data(), residual, gamma.data(), beta.data(), mean_cpu.data(),
                          inv_std_cpu.data(), running_mean_cpu.data(), running_var_cpu.data());
  batchnorm_forward_train(gpu(), s, p, y_gpu.data(), x.data(), residual, gamma.data(), beta.data(), mean_gpu.data(),
                          inv_std_gpu.data(), running_mean_gpu.data(), running_var_gpu.data());
  expect_close("saved mean", mean_gpu.data(), mean_cpu.data(), C, 2e-6, 2e-6);
  expect_close("saved inv_std", inv_std_gpu.data(), inv_std_cpu.data(), C, 0, 2e-5);
  expect_close("running mean", running_mean_gpu.data(), running_mean_cpu.data(), C, 2e-6, 2e-6);
  expect_close("running var", running_var_gpu.data(), running_var_cpu.data(), C, 0, 2e-5);
  const double y_rel = std::is_same_v<T, float> ? 1e-4 : 1.0 / 128;  // bf16: one unit in the last place
  expect_close("y", y_gpu.data(), y_cpu.data(), total, std::is_same_v<T, float> ? 5e-5 : 2e-5, y_rel);
  {
    ExactBuffer<T> want(total);
    for (size_t i = 0; i < total; ++i) {
      const int ch = channel(i);
      store(want.data(), i, normalized(load(x.data(), i), mean_gpu[ch], inv_std_gpu[ch], gamma[ch], beta[ch],
                                       v.residual, v.residual ? load(residual, i) : 0.0f, v.activation));
    }
    expect_exact("y from the kernels' statistics", y_gpu.data(), want.data(), total);
  }

  // Forward in evaluation mode: element-wise from the running statistics, so bit for bit.
  {
    ExactBuffer<T> eval_cpu(total, k.offset_all), eval_gpu(total, k.offset_all);
    batchnorm_forward_eval(cpu(), s, p, eval_cpu.data(), x.data(), residual, gamma.data(), beta.data(),
                           running_mean_cpu.data(), running_var_cpu.data());
    batchnorm_forward_eval(gpu(), s, p, eval_gpu.data(), x.data(), residual, gamma.data(), beta.data(),
                           running_mean_cpu.data(), running_var_cpu.data());
    expect_exact("y (evaluation)", eval_gpu.data(), eval_cpu.data(), total);
  }

  // Backward from the kernels' forward output and statistics, on both sides.
  ExactBuffer<T> dy(total, k.offset_all), dx_cpu(total, k.offset_all), dx_gpu(total, k.offset_all);
  ExactBuffer<T> d_residual_cpu(total, k.offset_residual), d_residual_gpu(total, k.offset_residual);
  ExactBuffer<float> dgamma_cpu(C), dbeta_cpu(C), dgamma_gpu(C), dbeta_gpu(C);
  fill_uniform(dy, rng, -1.0f, 1.0f);
  const T* y = v.activation == Activation::ReLU ? y_gpu.data() : nullptr;
  batchnorm_backward(cpu(), s, p, dx_cpu.data(), dgamma_cpu.data(), dbeta_cpu.data(),
                     v.residual ? d_residual_cpu.data() : nullptr, dy.data(), y, x.data(), gamma.data(),
                     mean_gpu.data(), inv_std_gpu.data());
  batchnorm_backward(gpu(), s, p, dx_gpu.data(), dgamma_gpu.data(), dbeta_gpu.data(),
                     v.residual ? d_residual_gpu.data() : nullptr, dy.data(), y, x.data(), gamma.data(),
                     mean_gpu.data(), inv_std_gpu.data());
  const double sum_tol = 1e-6 * s.per_channel() + 1e-5;  // sums of per_channel() terms of size ~1
  expect_close("dbeta", dbeta_gpu.data(), dbeta_cpu.data(), C, sum_tol, 1e-5);
  expect_close("dgamma", dgamma_gpu.data(), dgamma_cpu.data(), C, sum_tol, 1e-5);
  if (v.residual) expect_exact("d_residual", d_residual_gpu.data(), d_residual_cpu.data(), total);
  expect_close("dx", dx_gpu.data(), dx_cpu.data(), total, 1e-4, std::is_same_v<T, float> ? 1e-3 : 1.0 / 128);
  {
    ExactBuffer<T> want(total);
    const float m = static_cast<float>(s.per_channel());
    for (size_t i = 0; i < total; ++i) {
      const int ch = channel(i);
      const float g = normalized_gradient(dy.data(), y, static_cast<long>(i));
      store(want.data(), i, input_gradient(g, load(x.data(), i), mean_gpu[ch], inv_std_gpu[ch], gamma[ch], m,
                                           dbeta_gpu[ch], dgamma_gpu[ch]));
    }
    expect_exact("dx from the kernels' sums", dx_gpu.data(), want.data(), total);
  }
  expect_no_findings();
}

// Every shape with all four variants: plain, fused ReLU, residual, both.
template <typename T>
void check_all_variants(const std::vector<Case>& cases) {
  uint64_t seed = 0;
  for (const Case& k : cases)
    for (const Variant& v : {Variant{false, Activation::None}, Variant{false, Activation::ReLU},
                             Variant{true, Activation::None}, Variant{true, Activation::ReLU}})
      check_batchnorm<T>(k, v, ++seed);
}

}  // namespace

TEST_CASE("emulated batchnorm kernels, float NCHW: one and several chunks of kChunk elements per channel") {
  // {1, 1, 140000}: 35 chunks, so that each lane of the partials' warp adds more than one.
  check_all_variants<float>({{1, 1, 1}, {2, 8, 4}, {2, 5, 7}, {1, 8, 5000}, {3, 5, 3000}, {1, 1, 140000}});
  CHECK(emu::launch_count("channel_partials_nchw_kernel") > 0);
}

// The NHWC statistics kernel's tiling (engine/channels_last_tiling.h, 256 threads a block):
//   {2, 8, 4}     width 8: one pack per row, 256 lanes
//   {3, 24, 484}  width 8: 3 packs, 85 lanes (thread 255 idles), 1452 rows in 2 chunks
//   {1, 2400, 4}  width 8: 300 packs, so two channel groups, the second partial
//   {1, 300, 70}  width 1 (c not a multiple of 8): two channel groups, 70 rows in 2 chunks
//   {2, 5, 7}     width 1, nothing a multiple of anything
TEST_CASE("emulated batchnorm kernels, bf16 NHWC: packed kernels and the channels_last tiling") {
  const long normalize_before = emu::launch_count("batchnorm_normalize_packed_kernel");
  const long gradient_before = emu::launch_count("batchnorm_input_gradient_packed_kernel");
  check_all_variants<uint16_t>({{2, 8, 4}, {3, 24, 484}, {1, 2400, 4}, {1, 300, 70}, {2, 5, 7}});
  CHECK(emu::launch_count("batchnorm_normalize_packed_kernel") > normalize_before);
  CHECK(emu::launch_count("batchnorm_input_gradient_packed_kernel") > gradient_before);
  // The launch's grid tells the tilings apart: width 8 for c = 2400 (2 channel groups), width 1
  // for c = 300 (2 groups of 256 channels), each with the chunks the shape asks for.
  const ChannelsLastTiling wide = channels_last_tiling<kBf16Pack>(BatchNormShape{1, 2400, 4});
  const ChannelsLastTiling narrow = channels_last_tiling<1>(BatchNormShape{1, 300, 70});
  CHECK(wide.groups == 2);
  CHECK(narrow.chunks == 2);
  CHECK(emu::launch_count("channel_partials_nhwc_kernel", dim3(wide.chunks, wide.groups)) > 0);
  CHECK(emu::launch_count("channel_partials_nhwc_kernel", dim3(narrow.chunks, narrow.groups)) > 0);
}

// Data 2 bytes off a 16-byte boundary cannot be read in 16-byte packs: the kernels fall back to
// one element per thread, for everything or (residual only) for the element-wise kernels.
TEST_CASE("emulated batchnorm kernels, bf16 NHWC: the fallback for misaligned data") {
  const long packed_before = emu::launch_count("batchnorm_normalize_packed_kernel") +
                             emu::launch_count("batchnorm_input_gradient_packed_kernel");
  check_all_variants<uint16_t>({{3, 24, 49, 2, 2}});
  CHECK(emu::launch_count("batchnorm_normalize_packed_kernel") +
            emu::launch_count("batchnorm_input_gradient_packed_kernel") ==
        packed_before);
  uint64_t seed = 100;
  for (Activation a : {Activation::None, Activation::ReLU}) check_batchnorm<uint16_t>({3, 24, 49, 0, 2}, {true, a}, ++seed);
}
