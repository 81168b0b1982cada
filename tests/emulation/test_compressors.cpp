// The compressors' kernels (compress/*.cu) under the emulator against their CPU paths: the same message bytes, error memory and decoded values, and the same refusals.
//
// Inputs carry what the kernels must treat exactly: zeros of both signs, subnormals, large
// outliers, and many equal magnitudes (ties, for top-k's sort). Layouts: one block, blocks of
// random sizes, and many blocks of 1 to 3 elements (block lookup at every boundary).
#include <algorithm>

#include "compress/block_statistics.h"
#include "compress/compressor.h"
#include "test_support.h"

namespace {

std::vector<float> awkward_values(size_t n, uint64_t seed) {
  Rng rng(seed, 2);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = rng.uniform(-2.0f, 2.0f);
    if (i % 17 == 0) v[i] = 0.0f;
    if (i % 23 == 5) v[i] = -0.0f;
    if (i % 101 == 50) v[i] = (i % 2 ? 1 : -1) * 1e-40f;  // subnormal
    if (i % 97 == 3) v[i] *= 1000.0f;
  }
  return v;
}

std::vector<float> tied_values(size_t n, uint64_t seed) {
  const float levels[] = {-1.0f, -0.5f, -0.0f, 0.0f, 0.5f, 1.0f, 0.25f, -0.25f};
  Rng rng(seed, 3);
  std::vector<float> v(n);
  for (float& x : v) x = levels[rng.below(8)];
  return v;
}

// Blocks of at most max_length elements, of random lengths, covering [0, n).
std::vector<Block> random_blocks(size_t n, size_t max_length, uint64_t seed) {
  Rng rng(seed, 4);
  std::vector<Block> blocks;
  for (size_t offset = 0; offset < n;) {
    const size_t length = std::min(n - offset, 1 + static_cast<size_t>(rng.below(static_cast<uint32_t>(max_length))));
    blocks.push_back(Block{offset, length});
    offset += length;
  }
  return blocks;
}

// A message that the decoder must refuse, in device memory of exactly its size.
void expect_refused(Compressor& on_gpu, Compressor& on_cpu, const std::vector<uint8_t>& message, size_t n,
                    const MessageKey& key, const char* what) {
  INFO("refusal: ", std::string(what));  // a std::string: doctest would print a const char* as an address
  ExactBuffer<uint8_t> device_message(message.size());
  std::copy(message.begin(), message.end(), device_message.data());
  ExactBuffer<float> out(n);
  on_gpu.decompress(gpu(), message.empty() ? nullptr : device_message.data(), message.size(), out.data(), key);
  CHECK_THROWS_AS(on_gpu.check_messages(gpu()), MessageError);
  const std::vector<float> zeros(n, 0.0f);
  expect_exact("output of a refused message", out.data(), zeros.data(), n);  // the GPU writes zeros instead
  std::vector<float> cpu_out(n);
  CHECK_THROWS_AS(on_cpu.decompress(cpu(), message.data(), message.size(), cpu_out.data(), key), MessageError);
}

// Compresses and decodes x on both contexts; everything must match bit for bit.
void check_compressor(const CompressorConfig& config, const std::vector<Block>& blocks, const std::vector<float>& x) {
  const size_t n = x.size();
  const MessageKey key{7u + static_cast<uint32_t>(n), static_cast<uint32_t>(n % 3)};
  auto on_gpu = make_compressor(gpu(), config, blocks);
  auto on_cpu = make_compressor(cpu(), config, blocks);
  const size_t capacity = on_gpu->max_message_bytes();
  REQUIRE(on_cpu->max_message_bytes() == capacity);

  std::vector<uint8_t> message(capacity);
  std::vector<float> error(n), decoded(n);
  const size_t bytes = on_cpu->compress(cpu(), x.data(), message.data(), error.data(), key);
  message.resize(bytes);
  on_cpu->decompress(cpu(), message.data(), bytes, decoded.data(), key);

  ExactBuffer<float> device_x(n), device_error(n), device_decoded(n);
  ExactBuffer<uint8_t> device_message(capacity);
  std::copy(x.begin(), x.end(), device_x.data());
  REQUIRE(on_gpu->compress(gpu(), device_x.data(), device_message.data(), device_error.data(), key) == bytes);
  expect_exact("message", device_message.data(), message.data(), bytes);
  expect_exact("error memory", device_error.data(), error.data(), n);
  on_gpu->decompress(gpu(), device_message.data(), bytes, device_decoded.data(), key);
  on_gpu->check_messages(gpu());
  expect_exact("decoded", device_decoded.data(), decoded.data(), n);

  std::vector<uint8_t> bad = message;
  bad[0] ^= 1;
  expect_refused(*on_gpu, *on_cpu, bad, n, key, "magic");
  bad.assign(message.begin(), message.end() - 4);
  expect_refused(*on_gpu, *on_cpu, bad, n, key, "4 bytes short");
  if (config.kind == CompressorKind::TopK) {  // the last index: one past the end
    bad = message;
    const uint32_t index = static_cast<uint32_t>(n);
    std::memcpy(bad.data() + kHeaderBytes + 4 * ((bytes - kHeaderBytes) / 8 - 1), &index, 4);
    expect_refused(*on_gpu, *on_cpu, bad, n, key, "index n");
    const size_t kept = (bytes - kHeaderBytes) / 8;
    if (kept >= 2) {  // the last index repeating the one before it (found by the wire fuzzer)
      bad = message;
      std::memcpy(bad.data() + kHeaderBytes + 4 * (kept - 1), bad.data() + kHeaderBytes + 4 * (kept - 2), 4);
      expect_refused(*on_gpu, *on_cpu, bad, n, key, "a repeated index");
    }
  }
  // After a refusal, a good message decodes again.
  on_gpu->decompress(gpu(), device_message.data(), bytes, device_decoded.data(), key);
  on_gpu->check_messages(gpu());
  expect_exact("decoded after a refusal", device_decoded.data(), decoded.data(), n);
}

// Every compressor configuration over the lengths, inputs and layouts above, refusals included
// (dither decodes on the host, but refuses on the GPU as the kernels do: zeros and a flag).
void check_all(const CompressorConfig& config) {
  // The last length is three of BlockStatistics' chunks and a few elements, in one block, so that
  // the per-block totals add several chunks' sums (a 5 MiB bucket has about 160).
  for (size_t n : {size_t{1}, size_t{33}, size_t{257}, size_t{4097}, 3 * size_t{BlockStatistics::kChunk} + 5}) {
    std::vector<std::vector<Block>> layouts = {{Block{0, n}}};
    if (n <= 4097) layouts.push_back(random_blocks(n, std::max<size_t>(1, n / 4), n));
    if (n <= 257) layouts.push_back(random_blocks(n, 3, n + 1));
    for (const auto& blocks : layouts)
      for (const auto& x : {awkward_values(n, n), tied_values(n, n)}) {
        INFO("n ", n, ", ", blocks.size(), " blocks, ratio ", config.ratio, ", levels ", config.levels);
        check_compressor(config, blocks, x);
      }
  }
  expect_no_findings();
}

CompressorConfig configured(CompressorKind kind, double ratio = 0.01, int levels = 16, uint64_t seed = 0) {
  CompressorConfig c;
  c.kind = kind;
  c.ratio = ratio;
  c.levels = levels;
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("emulated identity compressor and the header kernels' refusals") {
  check_all(configured(CompressorKind::Identity));
}

TEST_CASE("emulated sign compressor: block statistics, ballot-packed signs") {
  check_all(configured(CompressorKind::Sign));
}

TEST_CASE("emulated top-k compressor: keys, the sort with ties (a stable sort stands in for CUB's radix sort), winners, out-of-range indices refused") {
  for (double ratio : {1e-9, 0.3, 1.0}) check_all(configured(CompressorKind::TopK, ratio));
}

TEST_CASE("emulated random-k compressor: gather and scatter of the drawn indices") {
  for (double ratio : {1e-9, 0.3, 1.0}) check_all(configured(CompressorKind::RandomK, ratio, 16, 12345));
}

TEST_CASE("emulated dither compressor, entropy-coded and fixed-length levels") {
  for (int levels : {1, 16, 32767}) {
    check_all(configured(CompressorKind::Dither, 0.01, levels, 99));
    check_all(configured(CompressorKind::DitherFixed, 0.01, levels, 99));
  }
}
