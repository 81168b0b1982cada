// Compressors: round trips equal each operator's definition, the contraction property holds,
// packed sizes equal their closed forms, refused headers are refused, the entropy coder decodes
// exactly, and GPU bytes equal CPU bytes (on a GPU).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "compress/compressor.h"
#include "compress/dither.h"
#include "compress/entropy_coder.h"
#include "tests/helpers.h"

namespace {

Context& cpu() {
  static Context ctx(ContextOptions{Device::CPU});
  return ctx;
}

// Blocks over n elements: one block, or cut at pseudo-random points into about `parts` blocks.
std::vector<Block> make_blocks(size_t n, int parts, uint64_t seed) {
  std::vector<size_t> cuts = {0, n};
  Rng rng(seed, 3);
  for (int i = 1; i < parts && n > 1; ++i) cuts.push_back(1 + rng.below(static_cast<uint32_t>(n - 1)));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<Block> blocks;
  for (size_t i = 0; i + 1 < cuts.size(); ++i) blocks.push_back(Block{cuts[i], cuts[i + 1] - cuts[i]});
  return blocks;
}

struct RoundTrip {
  std::vector<uint8_t> message;
  std::vector<float> decoded, error;
};

RoundTrip round_trip(Compressor& c, const std::vector<float>& x, const MessageKey& key = {}) {
  RoundTrip r;
  r.message.resize(c.max_message_bytes());
  r.error.resize(x.size());
  r.decoded.resize(x.size());
  const size_t bytes = c.compress(cpu(), x.data(), r.message.data(), r.error.data(), key);
  r.message.resize(bytes);
  c.decompress(cpu(), r.message.data(), bytes, r.decoded.data(), key);
  return r;
}

const std::vector<size_t> kLengths = {1, 2, 31, 32, 33, 100, 1000, 4099, 8192, 8193, 30011};

std::vector<float> test_vector(size_t n, uint64_t seed) {
  std::vector<float> x = random_vector(n, seed, -2.0f, 2.0f);
  for (size_t i = 0; i < n; i += 17) x[i] = 0.0f;  // exact zeros: sign(0) = +1 must hold
  return x;
}

double squared_norm(const std::vector<float>& v, size_t begin, size_t end) {
  double s = 0.0;
  for (size_t i = begin; i < end; ++i) s += static_cast<double>(v[i]) * v[i];
  return s;
}

TEST_CASE("identity: lossless, 32 bits per element plus the header") {
  for (size_t n : kLengths) {
    const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::Identity}, make_blocks(n, 3, n));
    const std::vector<float> x = test_vector(n, n);
    const RoundTrip r = round_trip(*c, x);
    CHECK(r.decoded == x);
    CHECK(r.message.size() == 32 + 4 * n);
    CHECK(std::all_of(r.error.begin(), r.error.end(), [](float e) { return e == 0.0f; }));
  }
}

TEST_CASE("scaled sign: decoded is (||v||_1 / d_b) sign(v) per block, bit for bit, error exact, contraction equality") {
  for (size_t n : kLengths)
    for (int parts : {1, 4}) {
      INFO("n " << n << ", blocks ~" << parts);
      const std::vector<Block> blocks = make_blocks(n, parts, n + parts);
      const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::Sign}, blocks);
      const std::vector<float> x = test_vector(n, n * 7 + parts);
      const RoundTrip r = round_trip(*c, x);
      CHECK(r.message.size() == closed_form_message_bytes(c->config(), blocks));
      CHECK(r.message.size() == 32 + 4 * blocks.size() + 4 * ((n + 31) / 32));
      for (const Block& b : blocks) {
        double l1 = 0.0;
        for (size_t i = b.offset; i < b.offset + b.length; ++i) l1 += std::fabs(x[i]);
        const float scale = r.decoded[b.offset] >= 0 ? r.decoded[b.offset] : -r.decoded[b.offset];
        CHECK(scale == doctest::Approx(l1 / b.length).epsilon(1e-5));
        for (size_t i = b.offset; i < b.offset + b.length; ++i) {
          REQUIRE(r.decoded[i] == (x[i] >= 0.0f ? scale : -scale));  // sign(0) = +1
          REQUIRE(r.error[i] == x[i] - r.decoded[i]);
        }
        // ||C(v) - v||^2 = (1 - delta) ||v||^2, delta = ||v||_1^2 / (d_b ||v||_2^2).
        const double norm2 = squared_norm(x, b.offset, b.offset + b.length);
        if (norm2 > 0) {
          const double delta = l1 * l1 / (b.length * norm2);
          CHECK(squared_norm(r.error, b.offset, b.offset + b.length) ==
                doctest::Approx((1 - delta) * norm2).epsilon(1e-4).scale(norm2));
        }
      }
    }
}

TEST_CASE("every operator compresses the zero vector to zeros, without NaN") {
  for (CompressorKind kind : {CompressorKind::Identity, CompressorKind::Sign, CompressorKind::TopK, CompressorKind::RandomK,
                              CompressorKind::Dither, CompressorKind::DitherFixed}) {
    INFO(compressor_name(kind));
    const std::vector<float> zero(1000, 0.0f);
    const auto c = make_compressor(cpu(), CompressorConfig{kind, 0.05, 8, 1}, make_blocks(1000, 3, 9));
    const RoundTrip r = round_trip(*c, zero);
    for (size_t i = 0; i < zero.size(); ++i) {
      REQUIRE(!std::isnan(r.decoded[i]));
      REQUIRE(!std::isnan(r.error[i]));
      REQUIRE(r.decoded[i] == 0.0f);
    }
  }
}

TEST_CASE("top-k: keeps exactly the k largest magnitudes per block, ties to the lower index") {
  for (size_t n : kLengths)
    for (double ratio : {0.01, 0.1, 0.5}) {
      INFO("n " << n << ", ratio " << ratio);
      const std::vector<Block> blocks = make_blocks(n, 3, n);
      const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::TopK, ratio}, blocks);
      std::vector<float> x = test_vector(n, n + 5);
      for (size_t i = 3; i < n; i += 11) x[i] = x[i - 3];  // plenty of ties
      for (size_t i = 5; i < n; i += 13) x[i] = -x[i - 5];  // ties of opposite sign too
      const RoundTrip r = round_trip(*c, x);
      CHECK(r.message.size() == closed_form_message_bytes(c->config(), blocks));
      for (const Block& b : blocks) {
        const size_t k = kept_per_block(ratio, b.length);
        // The reference: all of the block ordered by (|v| desc, index asc), the first k kept.
        std::vector<size_t> order(b.length);
        std::iota(order.begin(), order.end(), b.offset);
        std::stable_sort(order.begin(), order.end(),
                         [&](size_t i, size_t j) { return std::fabs(x[i]) > std::fabs(x[j]); });
        const std::set<size_t> kept(order.begin(), order.begin() + k);
        for (size_t i = b.offset; i < b.offset + b.length; ++i) {
          REQUIRE(r.decoded[i] == (kept.count(i) ? x[i] : 0.0f));
          REQUIRE(r.error[i] == (kept.count(i) ? 0.0f : x[i]));
        }
        // Contraction: ||C(v) - v||^2 <= (1 - k / d_b) ||v||^2.
        CHECK(squared_norm(r.error, b.offset, b.offset + b.length) <=
              (1.0 - static_cast<double>(k) / b.length) * squared_norm(x, b.offset, b.offset + b.length) * (1 + 1e-6) + 1e-12);
      }
    }
}

TEST_CASE("random-k: k distinct shared indices per block, only values travel, uniform over steps") {
  for (size_t n : kLengths) {
    const std::vector<Block> blocks = make_blocks(n, 3, n);
    const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::RandomK, 0.1, 0, 77}, blocks);
    const std::vector<float> x = test_vector(n, n + 9);
    const RoundTrip r = round_trip(*c, x, MessageKey{5, 2});
    size_t kept_total = 0;
    for (const Block& b : blocks) kept_total += kept_per_block(0.1, b.length);
    CHECK(r.message.size() == 32 + 4 * kept_total);
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      const bool is_kept = r.error[i] == 0.0f && x[i] != 0.0f;
      kept += is_kept;
      REQUIRE((r.decoded[i] == x[i] || r.decoded[i] == 0.0f));
      REQUIRE(r.decoded[i] + r.error[i] == x[i]);
    }
    CHECK(kept <= kept_total);
  }
  // Over many steps every element of a block is picked about k/d of the time, and the mean
  // squared error is (1 - k/d) ||v||^2 (delta = k/d holds in expectation).
  const size_t n = 200;
  const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::RandomK, 0.05, 0, 3}, {Block{0, n}});
  const std::vector<float> x = random_vector(n, 4, 0.5f, 1.5f);  // no zeros: a kept element is visible
  std::vector<int> picked(n, 0);
  double error_sum = 0.0;
  const int steps = 4000;
  for (int step = 0; step < steps; ++step) {
    const RoundTrip r = round_trip(*c, x, MessageKey{static_cast<uint64_t>(step), 1});
    int count = 0;
    for (size_t i = 0; i < n; ++i) {
      picked[i] += r.decoded[i] != 0.0f;
      count += r.decoded[i] != 0.0f;
    }
    REQUIRE(count == 10);  // distinct indices
    error_sum += squared_norm(r.error, 0, n);
  }
  const double expected = steps * 10.0 / n;  // 200 picks per element
  for (int p : picked) CHECK(std::fabs(p - expected) < 5 * std::sqrt(expected));
  CHECK(error_sum / steps == doctest::Approx((1 - 10.0 / n) * squared_norm(x, 0, n)).epsilon(0.02));
  // Same key, same picks; the receiver needs nothing but the key.
  const RoundTrip a = round_trip(*c, x, MessageKey{9, 1}), b = round_trip(*c, x, MessageKey{9, 1}),
                  other = round_trip(*c, x, MessageKey{9, 2});
  CHECK(a.decoded == b.decoded);
  CHECK(a.decoded != other.decoded);
}

// Q_s written out from docs/algorithms.md, apart from the implementation's helpers (only the noise,
// which is the RNG's definition, is shared).
std::vector<float> reference_dither(const std::vector<float>& x, const std::vector<Block>& blocks, int s, uint64_t seed,
                                    const MessageKey& key) {
  std::vector<float> q(x.size());
  for (const Block& b : blocks) {
    double sum = 0.0;
    for (size_t i = b.offset; i < b.offset + b.length; ++i) sum += static_cast<double>(x[i]) * x[i];
    const double norm = std::sqrt(sum);
    for (size_t i = b.offset; i < b.offset + b.length; ++i) {
      if (norm == 0.0) continue;
      const double u = dither_noise(seed, key.step, key.rank, static_cast<uint32_t>(i));
      const double level = std::floor(s * std::fabs(x[i]) / norm + u);
      q[i] = static_cast<float>((x[i] < 0 ? -1 : 1) * norm * level / s);
    }
  }
  return q;
}

TEST_CASE("dither: decodes exactly to the quantized values; code bits equal the formula; unbiased") {
  for (size_t n : {1000, 8193, 30011})
    for (int s : {1, 4, 16}) {
      INFO("n " << n << ", s " << s);
      const std::vector<Block> blocks = make_blocks(n, 3, n + s);
      const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::Dither, 0, s, 42}, blocks);
      const std::vector<float> x = test_vector(n, n + s);
      const MessageKey key{3, 1};
      const RoundTrip r = round_trip(*c, x, key);
      const std::vector<float> reference = reference_dither(x, blocks, s, 42, key);
      // The reference works in double; a level can differ only where s|v|/||v|| + u sits within
      // float rounding of an integer, which these seeds never hit.
      for (size_t i = 0; i < n; ++i) REQUIRE(r.decoded[i] == doctest::Approx(reference[i]).epsilon(1e-6));
      for (size_t i = 0; i < n; ++i) REQUIRE(r.error[i] == x[i] - r.decoded[i]);
      const DitherCodeStats stats = dither_code_stats(r.message.data(), r.message.size(), s);
      // Every level, recovered from the decoded value, and the bits the formula gives for them.
      size_t formula_bits = 0, nonzeros = 0;
      for (const Block& b : blocks) {
        std::vector<int16_t> levels(b.length);
        double norm = 0.0;
        for (size_t i = b.offset; i < b.offset + b.length; ++i) norm += static_cast<double>(x[i]) * x[i];
        norm = std::sqrt(norm);
        for (size_t i = 0; i < b.length; ++i) {
          levels[i] = static_cast<int16_t>(std::lround(r.decoded[b.offset + i] * s / norm));
          nonzeros += levels[i] != 0;
        }
        formula_bits += level_code_bits(levels.data(), static_cast<uint32_t>(b.length),
                                        rice_parameter(static_cast<uint32_t>(b.length),
                                                       static_cast<uint32_t>(std::count_if(levels.begin(), levels.end(),
                                                                                           [](int16_t l) { return l != 0; }))));
      }
      CHECK(stats.nonzeros == nonzeros);
      CHECK(stats.code_bits == formula_bits);
      CHECK(stats.message_bits == 8 * r.message.size());
      MESSAGE("dither n=" << n << " s=" << s << ": " << static_cast<double>(stats.message_bits) / n
                          << " bits/element measured (code alone " << static_cast<double>(stats.code_bits) / n
                          << "), QSGD closed-form bound " << stats.qsgd_bound_bits / n << " bits/element, 32 for float32");
    }
  // The fixed-length code decodes to the same values and has the closed-form size.
  {
    const size_t n = 5000;
    const std::vector<Block> blocks = make_blocks(n, 3, 4);
    const std::vector<float> x = test_vector(n, 6);
    const auto coded = make_compressor(cpu(), CompressorConfig{CompressorKind::Dither, 0, 5, 42}, blocks);
    const auto fixed = make_compressor(cpu(), CompressorConfig{CompressorKind::DitherFixed, 0, 5, 42}, blocks);
    const RoundTrip a = round_trip(*coded, x, {1, 2}), b = round_trip(*fixed, x, {1, 2});
    CHECK(a.decoded == b.decoded);
    CHECK(a.error == b.error);
    size_t expected = 32;
    for (const Block& block : blocks) expected += 4 + (block.length * (1 + 3) + 7) / 8;  // s = 5: 3 level bits
    CHECK(b.message.size() == expected);
    CHECK(b.message.size() == closed_form_message_bytes(fixed->config(), blocks));
    MESSAGE("s=5: fixed-length code " << 8.0 * b.message.size() / n << " bits/element, entropy-coded "
                                      << 8.0 * a.message.size() / n);
  }
  // Unbiased: the mean of Q(v) over many keys approaches v.
  const size_t n = 64;
  const std::vector<float> x = random_vector(n, 8, -1.0f, 1.0f);
  const auto c = make_compressor(cpu(), CompressorConfig{CompressorKind::Dither, 0, 2, 5}, {Block{0, n}});
  std::vector<double> mean(n, 0.0);
  const int draws = 3000;
  for (int t = 0; t < draws; ++t) {
    const RoundTrip r = round_trip(*c, x, MessageKey{static_cast<uint64_t>(t), 0});
    for (size_t i = 0; i < n; ++i) mean[i] += r.decoded[i] / draws;
  }
  const double norm = std::sqrt(squared_norm(x, 0, n));
  for (size_t i = 0; i < n; ++i) CHECK(std::fabs(mean[i] - x[i]) < 5 * norm / 2 / std::sqrt(draws));
}

TEST_CASE("entropy coder: Golomb-Rice runs, sign bits and Elias-gamma levels round-trip") {
  const std::vector<int16_t> levels = {0, 0, 0, 5, 0, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 300, 0, -2};
  for (uint8_t rice : {0, 1, 2, 5}) {
    BitWriter out;
    encode_levels(levels.data(), static_cast<uint32_t>(levels.size()), rice, out);
    CHECK(out.bits() == level_code_bits(levels.data(), static_cast<uint32_t>(levels.size()), rice));
    BitReader in(out.bytes().data(), out.bits());
    std::vector<int16_t> back(levels.size(), 99);
    decode_levels(in, static_cast<uint32_t>(levels.size()), 5, rice, 300, back.data());
    CHECK(back == levels);
    CHECK(in.position() == out.bits());
  }
  // A level above s, or a code cut short, is refused.
  BitWriter out;
  encode_levels(levels.data(), static_cast<uint32_t>(levels.size()), 1, out);
  std::vector<int16_t> back(levels.size());
  BitReader above(out.bytes().data(), out.bits());
  CHECK_THROWS_AS(decode_levels(above, static_cast<uint32_t>(levels.size()), 5, 1, 16, back.data()), MessageError);
  BitReader cut(out.bytes().data(), out.bits() - 5);
  CHECK_THROWS_AS(decode_levels(cut, static_cast<uint32_t>(levels.size()), 5, 1, 300, back.data()), MessageError);
  CHECK(rice_parameter(1000, 10) == 6);  // mean run 99: floor(log2 99) = 6
  CHECK(rice_parameter(1000, 1000) == 0);
}

TEST_CASE("messages whose header does not match are refused, never decoded") {
  const size_t n = 1000;
  const std::vector<Block> blocks = make_blocks(n, 3, 1);
  const std::vector<float> x = test_vector(n, 2);
  for (CompressorKind kind : {CompressorKind::Identity, CompressorKind::Sign, CompressorKind::TopK, CompressorKind::RandomK,
                              CompressorKind::Dither, CompressorKind::DitherFixed}) {
    INFO(compressor_name(kind));
    const CompressorConfig config{kind, 0.1, 4, 1};
    const auto c = make_compressor(cpu(), config, blocks);
    RoundTrip good = round_trip(*c, x);
    std::vector<float> out(n);
    // Another operator's message.
    const CompressorKind other = kind == CompressorKind::Sign ? CompressorKind::Identity : CompressorKind::Sign;
    const auto c_other = make_compressor(cpu(), CompressorConfig{other, 0.1, 4, 1}, blocks);
    const RoundTrip foreign = round_trip(*c_other, x);
    CHECK_THROWS_AS(c->decompress(cpu(), foreign.message.data(), foreign.message.size(), out.data(), {}), MessageError);
    // A message for a vector of another length, or cut in other blocks.
    const auto c_longer = make_compressor(cpu(), config, make_blocks(n + 1, 3, 1));
    const RoundTrip longer = round_trip(*c_longer, test_vector(n + 1, 3));
    CHECK_THROWS_AS(c->decompress(cpu(), longer.message.data(), longer.message.size(), out.data(), {}), MessageError);
    const auto c_one_block = make_compressor(cpu(), config, {Block{0, n}});
    const RoundTrip one_block = round_trip(*c_one_block, x);
    CHECK_THROWS_AS(c->decompress(cpu(), one_block.message.data(), one_block.message.size(), out.data(), {}),
                    MessageError);
    // Truncated, or with a damaged magic number or version.
    CHECK_THROWS_AS(c->decompress(cpu(), good.message.data(), good.message.size() - 1, out.data(), {}), MessageError);
    CHECK_THROWS_AS(c->decompress(cpu(), good.message.data(), 10, out.data(), {}), MessageError);
    good.message[0] ^= 0xff;
    CHECK_THROWS_AS(c->decompress(cpu(), good.message.data(), good.message.size(), out.data(), {}), MessageError);
    good.message[0] ^= 0xff;
    good.message[5] = kWireVersion + 1;
    CHECK_THROWS_AS(c->decompress(cpu(), good.message.data(), good.message.size(), out.data(), {}), MessageError);
  }
}

TEST_CASE("compressors: GPU bytes equal CPU bytes, and GPU decoding equals CPU decoding" * REQUIRES_GPU) {
  Context gpu(ContextOptions{Device::CUDA});
  for (size_t n : {size_t(33), size_t(8193), size_t(1000003)})
    for (CompressorKind kind : {CompressorKind::Identity, CompressorKind::Sign, CompressorKind::TopK,
                                CompressorKind::RandomK, CompressorKind::Dither, CompressorKind::DitherFixed}) {
      INFO(compressor_name(kind) << " n " << n);
      const std::vector<Block> blocks = make_blocks(n, 5, n);
      const CompressorConfig config{kind, 0.01, 8, 11};
      const auto on_cpu = make_compressor(cpu(), config, blocks);
      const auto on_gpu = make_compressor(gpu, config, blocks);
      std::vector<float> x = test_vector(n, n + 1);
      for (size_t i = 7; i < n; i += 101) x[i] = x[i - 7];  // ties for top-k
      const MessageKey key{12, 3};
      const RoundTrip expected = round_trip(*on_cpu, x, key);

      const Tensor x_gpu = tensor_from(gpu, {static_cast<int>(n)}, x);
      Tensor error = Tensor::empty(gpu, x_gpu.shape()), decoded = Tensor::empty(gpu, x_gpu.shape());
      Buffer<uint8_t> message(gpu, on_gpu->max_message_bytes());
      const size_t bytes = on_gpu->compress(gpu, x_gpu.data(), message.data(), error.data(), key);
      REQUIRE(bytes == expected.message.size());
      std::vector<uint8_t> got(bytes);
      gpu.download(got.data(), message.data(), bytes);
      CHECK(got == expected.message);
      CHECK(error.to_host(gpu) == expected.error);
      on_gpu->decompress(gpu, message.data(), bytes, decoded.data(), key);
      CHECK(decoded.to_host(gpu) == expected.decoded);
      on_gpu->check_messages(gpu);

      // A refused message on the GPU: zeros out, and check_messages() reports it.
      if (kind == CompressorKind::Dither || kind == CompressorKind::DitherFixed) continue;  // decoded on the host
      gpu.upload(message.data(), "XXXX", 4);
      on_gpu->decompress(gpu, message.data(), bytes, decoded.data(), key);
      const std::vector<float> refused = decoded.to_host(gpu);
      CHECK(std::all_of(refused.begin(), refused.end(), [](float v) { return v == 0.0f; }));
      CHECK_THROWS_AS(on_gpu->check_messages(gpu), MessageError);
    }
}

}  // namespace
