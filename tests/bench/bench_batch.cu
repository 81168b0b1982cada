// Times batch assembly (gather by index, random crop, flip, normalise, NHWC uint8 -> NCHW float)
// for 128 images of 32x32 and 64x64 from a resident 50,000-image set: images/s and the effective
// bandwidth (uint8 pixels read, float pixels written), on the GPU and on the CPU.
#include <cstdio>
#include <numeric>

#include "data/batch.h"
#include "data/sharding.h"
#include "engine/check.h"
#include "engine/flags.h"
#include "tests/bench/bench_timing.h"

namespace {

void bench(Device device, int size) {
  Context ctx(ContextOptions{device});
  Dataset d;
  d.height = d.width = size;
  d.classes = 10;
  const int n = device == Device::CUDA ? 50000 : 5000;
  d.labels.resize(n);
  for (int i = 0; i < n; ++i) d.labels[i] = i % 10;
  d.images.assign(static_cast<size_t>(n) * d.image_bytes(), 128);
  const DeviceDataset data(ctx, d);
  const std::vector<int32_t> order = epoch_permutation(1, 0, n);
  Buffer<int32_t> indices(ctx, order.size()), labels(ctx, 128);
  ctx.upload(indices.data(), order.data(), order.size() * sizeof(int32_t));
  Tensor out = Tensor::empty(ctx, {128, 3, size, size});
  const Normalization norm = {{0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.262f}};
  BenchRepeats repeats;
  repeats.calls_per_round = device == Device::CUDA ? 60 : 4;
  const double seconds = seconds_per_call(ctx, [&](int b) {
    make_batch(ctx, data, indices.data() + (b * 128) % (n - 128), 128, norm,
               Augmentation{true, size / 8, 1, static_cast<uint64_t>(b)}, out.data(), labels.data());
  }, repeats);
  // Ideal traffic per image: the uint8 pixels read, the float pixels written.
  const double bytes = 128.0 * size * size * 3 * (1 + 4);
  std::printf("  %-4s %2dx%-2d  %12.0f images/s  %8.1f GB/s effective\n", device == Device::CUDA ? "GPU" : "CPU", size,
              size, 128.0 / seconds, bytes / seconds / 1e9);
}

}  // namespace

int run(int argc, char** argv) {
  Flags flags("bench_batch", "Batch assembly (gather, crop, flip, normalise) at batch 128, 32x32 and 64x64.");
  flags.parse(argc, argv);
  std::printf("# batch assembly (gather, crop, flip, normalise), batch 128\n");
  for (int size : {32, 64}) {
    if (cuda_available()) bench(Device::CUDA, size);
    bench(Device::CPU, size);
  }
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return run(argc, argv); });
}
