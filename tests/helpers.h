// Shared test helpers: random data, host<->device round trips, finite differences, comparisons.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.h"

// Decorator for test cases that need a GPU: they are reported as skipped where there is none.
#define REQUIRES_GPU doctest::skip(!cuda_available())

inline std::vector<float> random_vector(size_t n, uint64_t seed, float low = -1.0f, float high = 1.0f) {
  Rng rng(seed, 7);
  std::vector<float> v(n);
  for (float& x : v) x = rng.uniform(low, high);
  return v;
}

inline Tensor tensor_from(Context& ctx, const Shape& shape, const std::vector<float>& values) {
  Tensor t = Tensor::empty(ctx, shape);
  t.copy_from_host(ctx, values);
  return t;
}

// max |a - b| / max |b|: the normwise relative error of a against the reference b.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double difference = 0.0, scale = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    difference = std::max(difference, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return scale > 0.0 ? difference / scale : difference;
}

// Sum of w[i] * y[i] in double: a scalar whose gradient with respect to y is exactly w.
inline double weighted_sum(const std::vector<float>& y, const std::vector<float>& w) {
  double sum = 0.0;
  for (size_t i = 0; i < y.size(); ++i) sum += static_cast<double>(y[i]) * w[i];
  return sum;
}

// Central differences of `loss` with respect to every element of `x` (perturbed in place and
// restored): (loss(x + eps) - loss(x - eps)) / (2 eps), the losses accumulated in double.
inline std::vector<float> numerical_gradient(std::vector<float>& x, const std::function<double()>& loss,
                                             float eps) {
  std::vector<float> gradient(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const float saved = x[i];
    x[i] = saved + eps;
    const double plus = loss();
    x[i] = saved - eps;
    const double minus = loss();
    x[i] = saved;
    gradient[i] = static_cast<float>((plus - minus) / (2.0 * eps));
  }
  return gradient;
}

// Where the ./train binary is: the tests run from the project root (make test) or build/tests.
std::string train_binary();

struct Outcome {
  int status;  // exit code, or -1 if killed by a signal
  std::string out, err;
};

// Runs a shell command with stdout and stderr captured together; returns its exit code (-1 if
// a signal ended it).
int run_shell(const std::string& command, std::string* output);

// Runs ./train with `args` (a shell-quoted string) and captures its exit code and output.
Outcome run_train(const std::string& args);

// A fresh, empty temporary directory path (not created).
std::string temp_dir(const std::string& tag);
std::string read_text(const std::string& path);
void write_bytes(const std::string& path, const void* data, size_t size);
std::vector<std::string> lines_of(const std::string& text);
// metrics.jsonl text without its timing fields (images_per_s, wall_s, time_*), which differ by run.
std::string without_timings(const std::string& metrics);
// The value of "key": number in a JSON line, or NaN when absent; and the values of every line of
// a metrics.jsonl that has the key.
double field(const std::string& line, const std::string& key);
std::vector<double> series(const std::string& metrics, const std::string& key);

// The unpacked copy of an archive in $TEST_DATA_DIR, under build/test-data (unpacked once).
std::string unpacked_test_data(const std::string& archive);
#define REQUIRES_TEST_DATA doctest::skip(std::getenv("TEST_DATA_DIR") == nullptr)
