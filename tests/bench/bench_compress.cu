// Times every compressor's compress (with the fused error output) and decompress on a vector the
// size of ResNet18 (11,173,962 floats, 5 MiB blocks), next to the copy bandwidth measured in the
// same run: on the GPU with device events, on the CPU with a steady clock. Effective bandwidth
// counts the bytes an ideal kernel must move: compress reads x and writes the message and the
// error; decompress reads the message and writes the vector.
#include <cstdio>
#include <vector>

#include "compress/compressor.h"
#include "engine/check.h"
#include "engine/flags.h"
#include "models/model.h"
#include "tests/bench/bench_timing.h"

namespace {

void bench(Device device) {
  Context ctx(ContextOptions{device});
  auto model = make_model("resnet18", 10, 64);
  const std::vector<Block> blocks = model->store().blocks(5242880);
  const size_t n = model->store().param_count();
  Rng rng(1);
  std::vector<float> host(n);
  for (float& v : host) v = rng.normal() * 1e-3f;
  Tensor x = Tensor::empty(ctx, {static_cast<int>(n)}), out = Tensor::empty(ctx, x.shape()),
         error = Tensor::empty(ctx, x.shape());
  x.copy_from_host(ctx, host);

  const double copy_seconds = seconds_per_call(ctx, [&](int) { ctx.copy(out.data(), x.data(), x.bytes()); });
  const double copy_bandwidth = 2.0 * x.bytes() / copy_seconds;
  std::printf("# %s, %zu floats in %zu blocks; copy: %.3f ms, %.1f GB/s (read + write)\n",
              device == Device::CUDA ? "GPU" : "CPU", n, blocks.size(), copy_seconds * 1e3, copy_bandwidth / 1e9);
  std::printf("# %-10s %-11s %12s %10s %10s %10s %9s\n", "operator", "direction", "message(B)", "bits/elem",
              "time(ms)", "GB/s", "of copy");
  for (CompressorKind kind : {CompressorKind::Identity, CompressorKind::Sign, CompressorKind::TopK, CompressorKind::RandomK,
                              CompressorKind::Dither}) {
    for (size_t bucket : {size_t(5242880), size_t(1) << 40}) {
      if (bucket != 5242880 && kind != CompressorKind::Sign) continue;  // one block matters for sign only
      const std::vector<Block> b = bucket == 5242880 ? blocks : model->store().blocks(bucket);
      const auto c = make_compressor(ctx, CompressorConfig{kind, 0.01, 16, 7}, b);
      Buffer<uint8_t> message(ctx, c->max_message_bytes());
      size_t bytes = 0;
      const double compress = seconds_per_call(ctx, [&](int) {
        bytes = c->compress(ctx, x.data(), message.data(), error.data(), MessageKey{1, 0});
      });
      const double decompress = seconds_per_call(ctx, [&](int) {
        c->decompress(ctx, message.data(), bytes, out.data(), MessageKey{1, 0});
      });
      c->check_messages(ctx);
      const std::string name = std::string(compressor_name(kind)) + (b.size() == 1 ? "(1)" : "");
      const double moved_compress = 8.0 * n + bytes, moved_decompress = 4.0 * n + bytes;
      for (int direction = 0; direction < 2; ++direction) {
        const double seconds = direction == 0 ? compress : decompress;
        const double bandwidth = (direction == 0 ? moved_compress : moved_decompress) / seconds;
        std::printf("  %-10s %-11s %12zu %10.3f %10.3f %10.1f %8.0f%%\n", name.c_str(),
                    direction == 0 ? "compress" : "decompress", bytes, 8.0 * bytes / n, seconds * 1e3, bandwidth / 1e9,
                    100.0 * bandwidth / copy_bandwidth);
      }
    }
  }
}

}  // namespace

int run(int argc, char** argv) {
  Flags flags("bench_compress", "Every compressor's compress and decompress against copy bandwidth.");
  flags.add_switch("cpu", "on a GPU machine, also time the CPU versions");
  flags.parse(argc, argv);
  const bool cpu_too = flags.on("cpu");
  if (cuda_available()) bench(Device::CUDA);
  else std::printf("# no CUDA GPU: GPU figures skipped\n");
  if (cpu_too || !cuda_available()) bench(Device::CPU);
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return run(argc, argv); });
}
