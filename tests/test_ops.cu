// The other ops: bf16 rounding, ReLU, add, global average pooling, the linear layer, softmax
// cross-entropy and the SGD update, each against central differences or its formula on the CPU,
// and against the CPU on a GPU.
#include "engine/cross_entropy.h"
#include "engine/elementwise.h"
#include "engine/linear.h"
#include "engine/pool.h"
#include "engine/sgd.h"
#include "tests/op_checks.h"

namespace {

TEST_CASE("bf16: round to nearest even, infinities and NaN kept") {
  CHECK(bf16_from_float(1.0f) == 0x3f80);
  CHECK(bf16_from_float(-2.0f) == 0xc000);
  CHECK(round_to_bf16(1.0f + 1.0f / 256) == 1.0f);                       // a tie: down to even
  CHECK(round_to_bf16(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);          // a tie: up to even
  CHECK(round_to_bf16(1.0f + 1.0f / 256 + 1.0f / 4096) == 1.0f + 2.0f / 256);  // above the tie: up
  CHECK(std::isinf(round_to_bf16(INFINITY)));
  CHECK(std::isnan(round_to_bf16(NAN)));
  CHECK(round_to_bf16(3.0e38f) < 3.0e38f * 1.01f);  // below the largest bf16 (about 3.39e38): finite
  CHECK(round_to_bf16(3.4e38f) == INFINITY);  // past it, round to nearest goes to infinity
}

TEST_CASE("bf16: one step above 1 is 2^-7, above 3 is 2^-6") {
  CHECK(bf16_step(1.0f) == 1.0 / 128);
  CHECK(bf16_step(-3.0f) == 1.0 / 64);
}

OpRun relu_run(size_t n) {
  return [n](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {static_cast<int>(n)}, in[0]), g = tensor_from(ctx, x.shape(), dy);
    Tensor y = Tensor::empty(ctx, x.shape()), dx = Tensor::empty(ctx, x.shape());
    relu_forward(ctx, y.data(), x.data(), n);
    relu_backward(ctx, dx.data(), g.data(), y.data(), n);
    return Vectors{y.to_host(ctx), dx.to_host(ctx)};
  };
}

// Inputs kept at least 0.1 away from the kink, where the derivative is defined.
std::vector<float> away_from_zero(size_t n, uint64_t seed) {
  std::vector<float> x = random_vector(n, seed);
  for (float& v : x) v = v < 0 ? v - 0.1f : v + 0.1f;
  return x;
}

TEST_CASE("relu: backward matches central differences") {
  check_gradients(relu_run(50), {away_from_zero(50, 31)}, 50, {0}, 1e-2f, 1e-3);
}

TEST_CASE("add: sums element-wise on CPU and CUDA" * REQUIRES_GPU) {
  const size_t n = 1000003;
  const OpRun run = [n](Context& ctx, const Vectors& in, const std::vector<float>&) {
    const Tensor a = tensor_from(ctx, {static_cast<int>(n)}, in[0]), b = tensor_from(ctx, a.shape(), in[1]);
    Tensor y = Tensor::empty(ctx, a.shape());
    add_forward(ctx, y.data(), a.data(), b.data(), n);
    return Vectors{y.to_host(ctx)};
  };
  check_cuda_matches_cpu(run, {random_vector(n, 1), random_vector(n, 2)}, n, 0.0);
  check_cuda_matches_cpu(relu_run(n), {random_vector(n, 3)}, n, 0.0);
}

TEST_CASE("add: sums element-wise") {
  const std::vector<float> a = {1.0f, -2.0f, 3.5f}, b = {0.5f, 2.0f, -1.0f};
  std::vector<float> y(3);
  add_forward(cpu_context(), y.data(), a.data(), b.data(), 3);
  CHECK(y == std::vector<float>{1.5f, 0.0f, 2.5f});
}

// ---------------------------------------------------------------------------------------------

OpRun pool_run(int n, int c, int hw) {
  return [n, c, hw](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {n, c, hw}, in[0]), g = tensor_from(ctx, {n, c}, dy);
    Tensor y = Tensor::empty(ctx, g.shape()), dx = Tensor::empty(ctx, x.shape());
    global_avg_pool_forward(ctx, y.data(), x.data(), n, c, hw);
    global_avg_pool_backward(ctx, dx.data(), g.data(), n, c, hw);
    return Vectors{y.to_host(ctx), dx.to_host(ctx)};
  };
}

TEST_CASE("global average pool: backward matches central differences") {
  check_gradients(pool_run(2, 3, 35), {random_vector(6 * 35, 41)}, 6, {0}, 0.05f, 1e-3);
}

TEST_CASE("global average pool: CUDA matches the CPU reference" * REQUIRES_GPU) {
  check_cuda_matches_cpu(pool_run(2, 3, 35), {random_vector(6 * 35, 41)}, 6);
  check_cuda_matches_cpu(pool_run(128, 512, 16), {random_vector(128 * 512 * 16, 42)}, 128 * 512);
}

// ---------------------------------------------------------------------------------------------
// bf16 NHWC activations through batch normalisation (with the residual and ReLU fused in),
// pooling and the add: the ops of a bf16 network between its convolutions.


OpRun linear_run(const LinearShape& s) {
  return [s](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor x = tensor_from(ctx, {s.n, s.in}, in[0]), w = tensor_from(ctx, {s.out, s.in}, in[1]),
                 b = tensor_from(ctx, {s.out}, in[2]), g = tensor_from(ctx, {s.n, s.out}, dy);
    Tensor y = Tensor::empty(ctx, g.shape()), dx = Tensor::empty(ctx, x.shape()), dw = Tensor::empty(ctx, w.shape()),
           db = Tensor::empty(ctx, b.shape());
    linear_forward(ctx, s, y.data(), x.data(), w.data(), b.data());
    linear_backward(ctx, s, dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data());
    return Vectors{y.to_host(ctx), dx.to_host(ctx), dw.to_host(ctx), db.to_host(ctx)};
  };
}

Vectors linear_inputs(const LinearShape& s) {
  return {random_vector(static_cast<size_t>(s.n) * s.in, 51), random_vector(static_cast<size_t>(s.out) * s.in, 52),
          random_vector(s.out, 53)};
}

TEST_CASE("linear: backward matches central differences") {
  const LinearShape s{3, 7, 5};
  check_gradients(linear_run(s), linear_inputs(s), 15, {0, 1, 2}, 0.05f, 1e-3);
}

TEST_CASE("linear in tf32 and bf16: CUDA (cuBLAS fast compute types) matches the CPU" * REQUIRES_GPU) {
  const LinearShape s{128, 512, 10};
  check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out, 1e-2, Precision::BF16);
  check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out, 5e-3, Precision::TF32);
}

TEST_CASE("linear: CUDA matches the CPU reference" * REQUIRES_GPU) {
  for (const LinearShape& s : {LinearShape{3, 7, 5}, LinearShape{128, 512, 10}, LinearShape{33, 512, 200}})
    check_cuda_matches_cpu(linear_run(s), linear_inputs(s), static_cast<size_t>(s.n) * s.out);
}

// ---------------------------------------------------------------------------------------------

// Loss as output 0 (one value: the mean over the batch), dlogits, then the correct count.
OpRun cross_entropy_run(int n, int classes, const std::vector<int32_t>& labels) {
  return [=](Context& ctx, const Vectors& in, const std::vector<float>& dy) {
    const Tensor logits = tensor_from(ctx, {n, classes}, in[0]);
    Tensor dlogits = Tensor::empty(ctx, logits.shape()), stats = Tensor::zeros(ctx, {2});
    Buffer<int32_t> device_labels(ctx, n);
    ctx.upload(device_labels.data(), labels.data(), n * sizeof(int32_t));
    softmax_cross_entropy(ctx, dlogits.data(), stats.data(), logits.data(), device_labels.data(), n, classes);
    const std::vector<float> sums = stats.to_host(ctx);
    std::vector<float> gradient = dlogits.to_host(ctx);  // of the mean loss; the harness wants dy * it
    for (float& g : gradient) g *= dy[0];
    return Vectors{{sums[0] / n}, gradient, {sums[1]}};
  };
}

TEST_CASE("softmax cross-entropy: gradient matches central differences, loss and accuracy are right") {
  const int n = 4, classes = 5;
  const std::vector<int32_t> labels = {0, 3, 4, 3};
  std::vector<float> logits = random_vector(n * classes, 61, -3.0f, 3.0f);
  check_gradients(cross_entropy_run(n, classes, labels), {logits}, 1, {0}, 1e-2f, 2e-3);

  const Vectors out = cross_entropy_run(n, classes, labels)(cpu_context(), {logits}, {1.0f});
  double loss = 0.0;
  int correct = 0;
  for (int i = 0; i < n; ++i) {
    const float* row = &logits[i * classes];
    double sum = 0.0;
    for (int j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(row[j]));
    loss += std::log(sum) - row[labels[i]];
    correct += std::max_element(row, row + classes) - row == labels[i];
  }
  CHECK(out[0][0] == doctest::Approx(loss / n).epsilon(1e-5));
  CHECK(out[2][0] == correct);
}

TEST_CASE("softmax cross-entropy: CUDA matches the CPU reference" * REQUIRES_GPU) {
  for (const auto& [n, classes] : {std::pair{4, 5}, std::pair{128, 10}, std::pair{300, 200}}) {
    std::vector<int32_t> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = (i * 7) % classes;
    check_cuda_matches_cpu(cross_entropy_run(n, classes, labels), {random_vector(n * classes, 62, -4.0f, 4.0f)}, 1);
  }
}

// ---------------------------------------------------------------------------------------------

// An optimizer setting and its learning rate (which the update reads from context memory).
struct SgdCase {
  SgdConfig config;
  float lr;
};

// Three steps of PyTorch's SGD rule, written out in double.
void sgd_reference(const SgdCase& c, std::vector<double>& x, std::vector<double>& m, const std::vector<float>& g) {
  for (size_t i = 0; i < x.size(); ++i) {
    double d = g[i] + c.config.weight_decay * x[i];
    if (c.config.momentum != 0.0f) {
      m[i] = c.config.momentum * m[i] + d;
      d = c.config.nesterov ? d + c.config.momentum * m[i] : m[i];
    }
    x[i] -= c.lr * d;
  }
}

OpRun sgd_run(const SgdCase& c, int steps) {
  return [=](Context& ctx, const Vectors& in, const std::vector<float>&) {
    const int n = static_cast<int>(in[0].size());
    Tensor x = tensor_from(ctx, {n}, in[0]), m = Tensor::zeros(ctx, {n}), lr = tensor_from(ctx, {1}, {c.lr});
    for (int step = 0; step < steps; ++step) {
      const Tensor g = tensor_from(ctx, {n}, in[1 + step]);
      sgd_update(ctx, c.config, lr.data(), x.data(), g.data(), m.data(), n);
    }
    return Vectors{x.to_host(ctx), m.to_host(ctx)};
  };
}

std::vector<SgdCase> sgd_cases() {
  return {{SgdConfig{0.0f, 0.0f, false}, 0.1f}, {SgdConfig{0.9f, 5e-4f, false}, 0.05f}, {SgdConfig{0.8f, 1e-3f, true}, 0.2f}};
}

TEST_CASE("sgd: momentum, Nesterov and weight decay follow PyTorch's rule") {
  const int n = 257, steps = 3;
  for (const SgdCase& c : sgd_cases()) {
    Vectors in = {random_vector(n, 71)};
    for (int s = 0; s < steps; ++s) in.push_back(random_vector(n, 72 + s));
    const Vectors out = sgd_run(c, steps)(cpu_context(), in, {});
    std::vector<double> x(in[0].begin(), in[0].end()), m(n, 0.0);
    for (int s = 0; s < steps; ++s) sgd_reference(c, x, m, in[1 + s]);
    for (int i = 0; i < n; ++i) CHECK(out[0][i] == doctest::Approx(x[i]).epsilon(1e-5));
  }
}

TEST_CASE("sgd: CUDA matches the CPU reference" * REQUIRES_GPU) {
  const int n = 1 << 20;
  for (const SgdCase& c : sgd_cases())
    check_cuda_matches_cpu(sgd_run(c, 2), {random_vector(n, 71), random_vector(n, 72), random_vector(n, 73)}, 1);
}

// ---------------------------------------------------------------------------------------------

}  // namespace
