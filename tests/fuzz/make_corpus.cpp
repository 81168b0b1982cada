// Writes the generated part of the seed corpora into tests/fuzz/corpus/: real messages of every
// compressor (compressed by the real code, behind fuzz_wire's prefix), a real checkpoint file, CIFAR
// records, and a dictionary of ./train's flag names for fuzz_flags. The image and Tiny ImageNet
// seeds are real files from the datasets (tests/fuzz/README.md says which).
//
// Usage: make_corpus DIR (make fuzz-corpus)
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "compress/compressor.h"
#include "data/cifar.h"
#include "data/files.h"
#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/rng.h"
#include "fuzz_wire_layout.h"
#include "train_config.h"

namespace {

void write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_corpus: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

void wire_seeds(const std::filesystem::path& dir) {
  Context cpu(ContextOptions{Device::CPU});
  const char* names[] = {"identity", "sign", "topk", "randk", "dither", "dither-fixed"};
  for (int kind = 0; kind < 6; ++kind)
    for (const auto& [n, longest] : {std::pair<size_t, uint8_t>{7, 0}, {300, 0}, {300, 40}, {64, 3}}) {
      const uint8_t parameter = kind >= 4 ? 15 : 25;  // 16 levels; ratio 0.1
      std::vector<uint8_t> input = wire_prefix(kind, n, longest, 9, parameter, 3, 1);
      FuzzInput prefix(input.data(), input.size());
      const WireCase c = read_wire_case(prefix);
      auto compressor = make_compressor(cpu, c.config, c.blocks);
      Rng rng(n, kind);
      std::vector<float> x(n);
      for (size_t i = 0; i < n; ++i) x[i] = i % 11 == 0 ? 0.0f : rng.uniform(-2.0f, 2.0f);
      std::vector<uint8_t> message(compressor->max_message_bytes());
      message.resize(compressor->compress(cpu, x.data(), message.data(), nullptr, c.key));
      input.insert(input.end(), message.begin(), message.end());
      write(dir / (std::string(names[kind]) + "-" + std::to_string(n) + "-" + std::to_string(longest)), input);
    }
}

void checkpoint_seed(const std::filesystem::path& dir) {
  Context cpu(ContextOptions{Device::CPU});
  CheckpointWriter w;
  const std::vector<float> params = {0.5f, -1.0f, 2.0f, 0.0f, 1e-3f}, error = {0.25f, -0.125f};
  w.add_vector("params", cpu, params.data(), params.size());
  w.add_vector("liec/error", cpu, error.data(), error.size());
  for (const char* name : {"rank", "run-id", "step", "workers", "algo", "bytes_sent"}) w.add_number(name, 3.0);
  const std::filesystem::path staged = dir / "checkpoint.staged";
  std::filesystem::create_directories(dir);
  w.write(staged.string());
  std::vector<uint8_t> input{0};  // the checksum is right already: the harness leaves it
  const std::vector<uint8_t> bytes = read_file_bytes(staged.string());
  input.insert(input.end(), bytes.begin(), bytes.end());
  std::filesystem::remove(staged);
  write(dir / "rank-file", input);
}

void cifar_seeds(const std::filesystem::path& dir) {
  const std::pair<const char*, uint8_t> layouts[] = {{"cifar10", 0}, {"cifar100-fine", 1}, {"cifar100-coarse", 2}};
  for (const auto& [name, index] : layouts) {
    const CifarLayout layout = index == 0 ? kCifar10Layout : index == 1 ? kCifar100FineLayout : kCifar100CoarseLayout;
    std::vector<uint8_t> input{index};
    for (int r = 0; r < 2; ++r) {
      for (int b = 0; b < layout.label_bytes; ++b) input.push_back(static_cast<uint8_t>((r + 3 * b) % layout.classes));
      for (int p = 0; p < 3072; ++p) input.push_back(static_cast<uint8_t>((p * 7 + r) & 0xff));
    }
    write(dir / name, input);
  }
}

void flag_seeds(const std::filesystem::path& dir, const std::filesystem::path& dictionary) {
  std::ofstream dict(dictionary);
  for (const auto& [name, value] : declare_flags().values()) dict << "\"--" << name << "\"\n";
  for (const char* word : {"identity", "sign", "topk", "randk", "dither", "dither-fixed", "ring", "torus", "cpu", "local",
                           "cifar10", "synthetic", "step", "cosine", "bf16", "nan", "1e-9", "0x1p3", "-1"})
    dict << '"' << word << "\"\n";
  for (const AlgorithmInfo& a : algorithm_table()) dict << '"' << a.name << "\"\n";
  const char* lines[] = {
      "--algo\nliec\n--compressor\nsign\n--workers\n8\n--period\n32\n--steps\n40\n--run-dir\nruns/a",
      "--algo\nmalcom\n--l1\n1e-5\n--gamma\n0.5\n--topology\nring\n--levels\n16\n--workers\n4",
      "--algo=choco\n--levels=8\n--epochs=2\n--lr-schedule=step\n--decay-epochs=1",
      "--algo\nmemsgd\n--compressor\ntopk\n--ratio\n0.01\n--bucket-bytes\n81920\n--link-gbps\n1",
      "--dataset\ncifar10\n--data-dir\ndata\n--train-subset\n1000\n--test-subset\n500\n--resume",
  };
  for (size_t i = 0; i < sizeof lines / sizeof lines[0]; ++i) {
    const std::string text = lines[i];
    write(dir / ("command-" + std::to_string(i)), std::vector<uint8_t>(text.begin(), text.end()));
  }
}

}  // namespace

int run(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  wire_seeds(dir / "wire");
  checkpoint_seed(dir / "checkpoint");
  cifar_seeds(dir / "cifar");
  flag_seeds(dir / "flags", dir / "flags.dict");
  std::printf("make_corpus: wrote the generated seeds under %s\n", dir.c_str());
  return 0;
}

int main(int argc, char** argv) {
  return exit_code_of([&] { return run(argc, argv); });
}
