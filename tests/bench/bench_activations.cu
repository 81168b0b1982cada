// Times the memory-bound ops between a ResNet's convolutions (BatchNorm with the residual and ReLU
// fused in, forward in training and evaluation and backward; global average pooling; the add) at
// ResNet18's CIFAR shapes, in float32 NCHW and bf16 NHWC, as a fraction of the bandwidth of a
// device-to-device copy measured in the same run: how far each kernel is from its floor.
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/batchnorm.h"
#include "engine/bf16.h"
#include "engine/check.h"
#include "engine/elementwise.h"
#include "engine/flags.h"
#include "engine/pool.h"
#include "engine/rng.h"
#include "engine/tensor.h"
#include "tests/bench/bench_timing.h"

namespace {

// Inputs rotate among sets of buffers that together take at least this much, five times an
// H100's L2 cache, so that repeated calls read from memory as a training step does.
constexpr double kRotationBytes = 256.0 * (1 << 20);

// One set of activations of shape [n, c, hw]: what the ops read and write.
struct ActivationSet {
  Tensor x, residual, y, dy, dx, d_residual;
};

// An activation holding `values` (random, never zeros: they can run faster than real data).
Tensor activation(Context& ctx, const BatchNormShape& s, DType dtype, const std::vector<float>& values) {
  Tensor wide = Tensor::empty(ctx, {s.n, s.c, s.hw});
  wide.copy_from_host(ctx, values);
  if (dtype == DType::F32) return wide;
  Tensor narrow = Tensor::empty(ctx, {s.n, s.c, s.hw}, DType::BF16);
  nchw_to_nhwc_bf16(ctx, narrow.bf16_data(), wide.data(), s.n, s.c, s.hw);
  return narrow;
}

void bench_shape(Context& ctx, const BatchNormShape& s, DType dtype, double copy_bandwidth) {
  const size_t count = static_cast<size_t>(s.n) * s.c * s.hw;
  const double e = static_cast<double>(count) * (dtype == DType::BF16 ? 2 : 4);  // bytes of one activation
  // On the GPU, enough sets that even an op reading one activation (the pooling) rotates past the
  // L2; the CPU run only checks that the benchmark runs.
  const int sets = ctx.is_cuda() ? static_cast<int>(std::ceil(kRotationBytes / e)) : 1;
  std::vector<float> values(count);
  Rng rng(static_cast<uint64_t>(count));
  for (float& v : values) v = rng.uniform(-2.0f, 2.0f);
  std::vector<ActivationSet> set;
  for (int k = 0; k < sets; ++k)
    set.push_back({activation(ctx, s, dtype, values), activation(ctx, s, dtype, values),
                   activation(ctx, s, dtype, values), activation(ctx, s, dtype, values),
                   Tensor::empty(ctx, {s.n, s.c, s.hw}, dtype), Tensor::empty(ctx, {s.n, s.c, s.hw}, dtype)});
  Tensor gamma = Tensor::zeros(ctx, {s.c}), beta = Tensor::zeros(ctx, {s.c}), mean = Tensor::zeros(ctx, {s.c}),
         inv_std = Tensor::zeros(ctx, {s.c}), running_mean = Tensor::zeros(ctx, {s.c}),
         running_var = Tensor::zeros(ctx, {s.c}), dgamma = Tensor::zeros(ctx, {s.c}), dbeta = Tensor::zeros(ctx, {s.c}),
         pooled = Tensor::zeros(ctx, {s.n, s.c});
  gamma.copy_from_host(ctx, std::vector<float>(s.c, 1.0f));
  running_var.copy_from_host(ctx, std::vector<float>(s.c, 1.0f));
  BatchNormParams p;
  p.activation = Activation::ReLU;

  // Each op: the bytes its kernels move (e per activation pass; the statistics and pooled values
  // are per channel and negligible, but for the pooling's float32 [n, c]) and its time.
  struct Op {
    const char* name;
    double bytes, seconds;
  };
  std::vector<Op> ops;
  visit_dtype(dtype, [&](auto element) {
    using T = decltype(element);
    const auto a = [&](Tensor& t) { return t.elements<T>(); };
    ops.push_back({"bn train", 4 * e, seconds_per_call(ctx, [&](int i) {  // statistics: x; normalise: x, r, y
                     ActivationSet& k = set[i % sets];
                     batchnorm_forward_train(ctx, s, p, a(k.y), a(k.x), a(k.residual), gamma.data(), beta.data(),
                                             mean.data(), inv_std.data(), running_mean.data(), running_var.data());
                   })});
    ops.push_back({"bn eval", 3 * e, seconds_per_call(ctx, [&](int i) {
                     ActivationSet& k = set[i % sets];
                     batchnorm_forward_eval(ctx, s, p, a(k.y), a(k.x), a(k.residual), gamma.data(), beta.data(),
                                            running_mean.data(), running_var.data());
                   })});
    ops.push_back({"bn backward", 8 * e, seconds_per_call(ctx, [&](int i) {  // sums: dy, y, x; dx: + dx, dr
                     ActivationSet& k = set[i % sets];
                     batchnorm_backward(ctx, s, p, a(k.dx), dgamma.data(), dbeta.data(), a(k.d_residual), a(k.dy),
                                        a(k.y), a(k.x), gamma.data(), mean.data(), inv_std.data());
                   })});
    const double pooled_bytes = 4.0 * s.n * s.c;
    ops.push_back({"pool", e + pooled_bytes, seconds_per_call(ctx, [&](int i) {
                     global_avg_pool_forward(ctx, pooled.data(), a(set[i % sets].x), s.n, s.c, s.hw);
                   })});
    ops.push_back({"pool back", e + pooled_bytes, seconds_per_call(ctx, [&](int i) {
                     global_avg_pool_backward(ctx, a(set[i % sets].dx), pooled.data(), s.n, s.c, s.hw);
                   })});
    ops.push_back({"add", 3 * e, seconds_per_call(ctx, [&](int i) {
                     ActivationSet& k = set[i % sets];
                     add_forward(ctx, a(k.y), a(k.x), a(k.residual), count);
                   })});
  });
  std::printf("  %-5s %5d %4d %5d", dtype == DType::BF16 ? "bf16" : "fp32", s.n, s.c, s.hw);
  for (const Op& op : ops)
    std::printf(" %7.1f %4.0f%%", op.seconds * 1e6, 100.0 * op.bytes / op.seconds / copy_bandwidth);
  std::printf("\n");
}

void bench(Device device, const std::vector<int>& batches) {
  Context ctx(ContextOptions{device});
  const size_t copy_count = static_cast<size_t>(kRotationBytes) / 4;
  Tensor from = Tensor::zeros(ctx, {static_cast<int>(copy_count)}), to = Tensor::zeros(ctx, from.shape());
  const double copy_seconds = seconds_per_call(ctx, [&](int) { ctx.copy(to.data(), from.data(), from.bytes()); });
  const double copy_bandwidth = 2.0 * from.bytes() / copy_seconds;
  std::printf("# %s: activation ops at ResNet18's CIFAR shapes, us per call and %% of copy bandwidth (%.0f GB/s,\n"
              "# read + write, %.0f MiB copied), counting the bytes our kernels move: bn train 4 passes over the\n"
              "# activation (statistics: x; normalise: x, residual, y), bn eval 3, bn backward 8 (sums: dy, y, x;\n"
              "# then those again and dx, d_residual), pool 1, add 3; ReLU and the residual fused in throughout\n",
              device == Device::CUDA ? "GPU" : "CPU", copy_bandwidth / 1e9, kRotationBytes / (1 << 20));
  std::printf("# %-5s %5s %4s %5s", "type", "n", "c", "hw");
  for (const char* name : {"bn train", "bn eval", "bn backward", "pool", "pool back", "add"})
    std::printf(" %13s", name);
  std::printf("\n");
  for (DType dtype : {DType::F32, DType::BF16})
    for (int n : batches)
      for (const BatchNormShape& s : {BatchNormShape{n, 64, 1024}, BatchNormShape{n, 128, 256},
                                      BatchNormShape{n, 256, 64}, BatchNormShape{n, 512, 16}})
        bench_shape(ctx, s, dtype, copy_bandwidth);
}

}  // namespace

int run(int argc, char** argv) {
  Flags flags("bench_activations", "BatchNorm, pooling and the add at ResNet18's shapes against copy bandwidth (GPU).");
  flags.add_switch("cpu", "also on the CPU, at batch 2: a check that the benchmark runs, not a figure to compare");
  flags.parse(argc, argv);
  const bool cpu_too = flags.on("cpu");
  if (cuda_available()) bench(Device::CUDA, {128, 512});
  else std::printf("# activation ops: no CUDA GPU here, GPU figures skipped\n");
  if (cpu_too) bench(Device::CPU, {2});
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return run(argc, argv); });
}
