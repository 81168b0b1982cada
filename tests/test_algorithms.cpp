// The distributed algorithms on a small least-squares problem with n workers as threads (CPU):
// identity compression reproduces P-SGD, a dedicated server changes no worker's numbers or
// traffic, error-feedback invariants hold after every step, error
// feedback reaches the optimum where plain sign compression does not, counted bytes equal their
// closed forms, the modelled network times of their exchanges too, and Malcom-PSGD reaches consensus
// with exact zeros and fewer bits than CHOCO-SGD.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>

#include "comm/algorithm.h"
#include "comm/local.h"
#include "engine/vector_ops.h"
#include "tests/helpers.h"

namespace {

// Worker i holds rows A_i, b_i of a least-squares problem; f = mean_i 0.5 / m ||A_i x - b_i||^2.
struct LeastSquares {
  int d, m, n;
  std::vector<std::vector<float>> a, b;

  LeastSquares(int dims, int rows, int workers) : d(dims), m(rows), n(workers) {
    Rng rng(17);
    std::vector<float> truth(d);
    for (float& v : truth) v = rng.normal();
    for (int i = 0; i < n; ++i) {
      a.emplace_back(static_cast<size_t>(m) * d);
      b.emplace_back(m);
      for (float& v : a.back()) v = rng.normal() / std::sqrt(static_cast<float>(d));
      for (int r = 0; r < m; ++r) {
        double y = 0.3 * rng.normal() + 0.1 * i;  // workers' data differ
        for (int j = 0; j < d; ++j) y += a.back()[r * d + j] * truth[j];
        b.back()[r] = static_cast<float>(y);
      }
    }
  }

  std::vector<float> gradient(int i, const float* x) const {
    std::vector<float> g(d, 0.0f);
    for (int r = 0; r < m; ++r) {
      double residual = -b[i][r];
      for (int j = 0; j < d; ++j) residual += a[i][r * d + j] * x[j];
      for (int j = 0; j < d; ++j) g[j] += static_cast<float>(residual * a[i][r * d + j] / m);
    }
    return g;
  }

  double loss(const std::vector<float>& x) const {
    double total = 0.0;
    for (int i = 0; i < n; ++i)
      for (int r = 0; r < m; ++r) {
        double residual = -b[i][r];
        for (int j = 0; j < d; ++j) residual += a[i][r * d + j] * static_cast<double>(x[j]);
        total += 0.5 * residual * residual / m / n;
      }
    return total;
  }

  // The minimum, by many steps of exact gradient descent in double.
  double optimum() const {
    std::vector<double> x(d, 0.0);
    for (int it = 0; it < 20000; ++it) {
      std::vector<double> g(d, 0.0);
      for (int i = 0; i < n; ++i)
        for (int r = 0; r < m; ++r) {
          double residual = -b[i][r];
          for (int j = 0; j < d; ++j) residual += a[i][r * d + j] * x[j];
          for (int j = 0; j < d; ++j) g[j] += residual * a[i][r * d + j] / m / n;
        }
      for (int j = 0; j < d; ++j) x[j] -= 0.5 * g[j];
    }
    return loss(std::vector<float>(x.begin(), x.end()));
  }
};

std::vector<Block> two_blocks(int d) { return {Block{0, static_cast<size_t>(d * 5 / 8)}, Block{static_cast<size_t>(d * 5 / 8), static_cast<size_t>(d - d * 5 / 8)}}; }

// What one run did: every rank's model, gradient and algorithm state around every step (with a
// dedicated server, worker k is rank k + 1).
struct RunResult {
  std::vector<std::vector<std::vector<float>>> models, gradients;  // [step][rank]
  std::vector<std::vector<std::map<std::string, std::vector<float>>>> before, after;  // [step][rank][name]
  std::vector<double> server_error_norms;  // rank 0's ||e_s|| after each step
  std::vector<uint64_t> sent, received;
  std::vector<std::vector<uint64_t>> step_sent, step_received;  // [step][rank]
  std::vector<std::vector<double>> links;  // [rank]: the modelled time of each group it completed
};

// Runs `steps` steps of the configured algorithm with problem.n workers as rank threads (and a
// server thread if it is dedicated, whose gradient is zero), with plain SGD (no momentum, no
// weight decay) as the local optimizer, and records everything.
RunResult run(const LeastSquares& problem, const AlgorithmConfig& config, int steps, float lr,
              const LinkModel& link = {}) {
  RunResult result;
  const int ranks = problem.n + (config.dedicated_server ? 1 : 0);
  const auto table = [&](auto& t) { t.assign(steps, std::remove_reference_t<decltype(t[0])>(ranks)); };
  table(result.models);
  table(result.gradients);
  table(result.before);
  table(result.after);
  result.server_error_norms.assign(steps, 0.0);
  result.sent.assign(ranks, 0);
  result.received.assign(ranks, 0);
  table(result.step_sent);
  table(result.step_received);
  result.links.assign(ranks, {});
  run_local_ranks(ranks, 30.0, [&](LocalHub& hub, int rank) {
    const Roles roles{rank, ranks, config.dedicated_server};
    Context ctx(ContextOptions{Device::CPU});
    LocalTransport t(ctx, hub, rank);
    t.model_links(link);
    auto algorithm = make_algorithm(t, two_blocks(problem.d), config);
    std::vector<float> x(problem.d, 0.0f);
    algorithm->start(x.data());
    const float rate = lr;  // CPU context memory is host memory: the optimizer reads it in place
    LocalOptimizer local{ctx, x.data(), nullptr, x.size(), SgdConfig{0.0f, 0.0f, false}, &rate};
    for (int step = 0; step < steps; ++step) {
      std::vector<float> g =
          roles.is_worker() ? problem.gradient(roles.worker(), x.data()) : std::vector<float>(problem.d, 0.0f);
      result.gradients[step][rank] = g;
      for (auto& [name, tensor] : algorithm->state()) result.before[step][rank][name] = tensor->to_host(ctx);
      const uint64_t sent = t.bytes_sent(), received = t.bytes_received();
      algorithm->step(step, g.data(), local);
      result.step_sent[step][rank] = t.bytes_sent() - sent;
      result.step_received[step][rank] = t.bytes_received() - received;
      result.models[step][rank] = x;
      for (auto& [name, tensor] : algorithm->state()) result.after[step][rank][name] = tensor->to_host(ctx);
      if (rank == 0) result.server_error_norms[step] = algorithm->server_error_norm();
    }
    result.sent[rank] = t.bytes_sent();
    result.received[rank] = t.bytes_received();
    result.links[rank] = t.link_log();
  });
  return result;
}

bool same_or_both_nan(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

AlgorithmConfig config_of(const std::string& name, CompressorKind kind, int period = 4) {
  AlgorithmConfig c;
  c.name = name;
  c.compressor.kind = kind;
  c.period = period;
  return c;
}

TEST_CASE("algorithms: with the identity compressor every server/worker algorithm is P-SGD") {
  for (int workers : {2, 4}) {
    const LeastSquares problem(24, 16, workers);
    const RunResult psgd = run(problem, config_of("psgd", CompressorKind::Identity), 12, 0.3f);
    for (const std::string name : {"memsgd", "doublesqueeze", "neolithic", "cser", "liec"}) {
      INFO(name << ", " << workers << " workers");
      const RunResult other = run(problem, config_of(name, CompressorKind::Identity, 4), 12, 0.3f);
      for (int step = 0; step < 12; ++step)
        for (int r = 0; r < workers; ++r) {
          // Bit for bit: with C = identity every error is exactly 0 and every mean is computed
          // the same way. LIEC-SGD's model averaging at sync steps (x + x + x + x) / 4 of equal
          // models can round (3x is not always a float), so there it is equal to rounding.
          if (name == "liec" && workers == 4)
            REQUIRE(relative_error(other.models[step][r], psgd.models[step][r]) < 1e-6);
          else
            REQUIRE(other.models[step][r] == psgd.models[step][r]);
        }
    }
  }
}

TEST_CASE("algorithms: a dedicated server gives every worker the models, memories and traffic of a shared one") {
  const LeastSquares problem(40, 12, 3);
  const int n = problem.n, steps = 9;
  for (const std::string name : {"psgd", "memsgd", "doublesqueeze", "neolithic", "cser", "liec"})
    // Sign: fixed size; random-k: drawn from the sender's key; dither: entropy-coded, variable size.
    for (CompressorKind kind : {CompressorKind::Sign, CompressorKind::RandomK, CompressorKind::Dither}) {
      INFO(name << ", " << compressor_name(kind));
      AlgorithmConfig config = config_of(name, kind, 4);
      config.compressor.ratio = 0.25;
      const RunResult shared = run(problem, config, steps, 0.2f);
      config.dedicated_server = true;
      const RunResult dedicated = run(problem, config, steps, 0.2f);
      for (int t = 0; t < steps; ++t) {
        for (int k = 0; k < n; ++k) {
          REQUIRE(dedicated.models[t][k + 1] == shared.models[t][k]);
          for (const auto& [state, value] : shared.after[t][k])
            if (state != "server_error") REQUIRE(dedicated.after[t][k + 1].at(state) == value);
        }
        if (shared.after[t][0].count("server_error"))
          REQUIRE(dedicated.after[t][0].at("server_error") == shared.after[t][0].at("server_error"));
        CHECK(same_or_both_nan(dedicated.server_error_norms[t], shared.server_error_norms[t]));
      }
      // Worker 0's messages now cross the wire; every other worker's traffic is unchanged.
      for (int k = 1; k < n; ++k) {
        CHECK(dedicated.sent[k + 1] == shared.sent[k]);
        CHECK(dedicated.received[k + 1] == shared.received[k]);
      }
      CHECK(dedicated.received[1] == shared.received[1]);  // the downlink is one message for all
      CHECK(dedicated.received[0] == shared.received[0] + dedicated.sent[1]);
      CHECK(dedicated.sent[0] == shared.sent[0] + dedicated.received[1]);
    }
}

// C(v) by a separate compressor instance on the host: the reference for the invariants.
std::vector<float> compressed(const CompressorConfig& config, const std::vector<Block>& blocks,
                              const std::vector<float>& v) {
  Context ctx(ContextOptions{Device::CPU});
  auto c = make_compressor(ctx, config, blocks);
  std::vector<uint8_t> message(c->max_message_bytes());
  std::vector<float> out(v.size());
  const size_t bytes = c->compress(ctx, v.data(), message.data(), nullptr, {});
  c->decompress(ctx, message.data(), bytes, out.data(), {});
  return out;
}

std::vector<float> minus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] - b[i];
  return out;
}

std::vector<float> plus(const std::vector<float>& a, const std::vector<float>& b) {
  std::vector<float> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

// The server's v = mean_i vectors[i] + e_s, with the implementation's arithmetic: a sum in rank
// order, one scaling by 1/n, then the error added.
std::vector<float> server_input(const std::vector<std::vector<float>>& vectors, const std::vector<float>& e_s) {
  std::vector<float> v = vectors[0];
  for (size_t r = 1; r < vectors.size(); ++r)
    for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] + vectors[r][i];
  for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * (1.0f / vectors.size()) + e_s[i];
  return v;
}

TEST_CASE("algorithms: error-feedback invariants hold after every step (scaled sign)") {
  const LeastSquares problem(40, 20, 3);
  const CompressorConfig sign{CompressorKind::Sign};
  const std::vector<Block> blocks = two_blocks(problem.d);
  const auto C = [&](const std::vector<float>& v) { return compressed(sign, blocks, v); };
  const int steps = 15, period = 5;

  SUBCASE("MEM-SGD and DoubleSqueeze: p_i = g_i + e_i, e_i = p_i - C(p_i); DoubleSqueeze e_s = v - C(v)") {
    for (const std::string name : {"memsgd", "doublesqueeze"}) {
      INFO(name);
      const RunResult r = run(problem, config_of(name, CompressorKind::Sign), steps, 0.2f);
      for (int t = 0; t < steps; ++t) {
        std::vector<std::vector<float>> sent(problem.n);
        for (int w = 0; w < problem.n; ++w) {
          const std::vector<float> p = plus(r.gradients[t][w], r.before[t][w].at("worker_error"));
          sent[w] = C(p);
          REQUIRE(r.after[t][w].at("worker_error") == minus(p, sent[w]));
        }
        if (name == "doublesqueeze") {
          const std::vector<float> v = server_input(sent, r.before[t][0].at("server_error"));
          REQUIRE(r.after[t][0].at("server_error") == minus(v, C(v)));
        }
      }
    }
  }
  SUBCASE("LIEC-SGD: e_s = v - C(v) with v = mean C(g_i) + e_s; zero after each sync step") {
    const RunResult r = run(problem, config_of("liec", CompressorKind::Sign, period), steps, 0.2f);
    for (int t = 0; t < steps; ++t) {
      if ((t + 1) % period == 0) {
        for (float e : r.after[t][0].at("server_error")) REQUIRE(e == 0.0f);
        for (int w = 1; w < problem.n; ++w) REQUIRE(r.models[t][w] == r.models[t][0]);  // models re-synchronised
        continue;
      }
      std::vector<std::vector<float>> sent(problem.n);
      for (int w = 0; w < problem.n; ++w) sent[w] = C(r.gradients[t][w]);
      const std::vector<float> v = server_input(sent, r.before[t][0].at("server_error"));
      REQUIRE(r.after[t][0].at("server_error") == minus(v, C(v)));
      double norm = 0.0;
      for (float e : r.after[t][0].at("server_error")) norm += static_cast<double>(e) * e;
      CHECK(r.server_error_norms[t] == doctest::Approx(std::sqrt(norm)));
    }
  }
  SUBCASE("NEOLITHIC: e_i = p_i - c1 - c2 with c1 = C(p_i), c2 = C(p_i - c1); e_s likewise on the server") {
    const RunResult r = run(problem, config_of("neolithic", CompressorKind::Sign), steps, 0.2f);
    for (int t = 0; t < steps; ++t) {
      std::vector<std::vector<float>> first(problem.n), second(problem.n);
      for (int w = 0; w < problem.n; ++w) {
        const std::vector<float> p = plus(r.gradients[t][w], r.before[t][w].at("worker_error"));
        first[w] = C(p);
        const std::vector<float> rest = minus(p, first[w]);
        second[w] = C(rest);
        REQUIRE(r.after[t][w].at("worker_error") == minus(rest, second[w]));
      }
      const std::vector<float> zero(problem.d, 0.0f);
      const std::vector<float> v = plus(plus(server_input(first, zero), server_input(second, zero)),
                                        r.before[t][0].at("server_error"));
      const std::vector<float> rest = minus(v, C(v));
      REQUIRE(r.after[t][0].at("server_error") == minus(rest, C(rest)));
    }
  }
}

double final_loss(const LeastSquares& problem, const RunResult& r) {
  // The loss at the average of the workers' final models.
  std::vector<float> mean(problem.d, 0.0f);
  for (const auto& x : r.models.back())
    for (int j = 0; j < problem.d; ++j) mean[j] += x[j] / problem.n;
  return problem.loss(mean);
}

TEST_CASE("algorithms: on a convex problem error feedback reaches the optimum, plain sign compression does not") {
  const LeastSquares problem(20, 200, 4);  // well conditioned: P-SGD gets within 1e-6 in 300 steps
  const double optimum = problem.optimum();
  const int steps = 300;
  const float lr = 0.5f;
  std::map<std::string, double> gap;
  for (const std::string name : {"memsgd", "doublesqueeze", "liec"})
    gap[name] = final_loss(problem, run(problem, config_of(name, CompressorKind::Sign, 32), steps, lr)) - optimum;
  gap["psgd"] = final_loss(problem, run(problem, config_of("psgd", CompressorKind::Identity), steps, lr)) - optimum;

  // No error feedback at all: x -= lr C(mean_i C(g_i)), sign compression both ways.
  const std::vector<Block> blocks = two_blocks(problem.d);
  const CompressorConfig sign{CompressorKind::Sign};
  std::vector<float> x(problem.d, 0.0f);
  for (int t = 0; t < steps; ++t) {
    std::vector<std::vector<float>> sent(problem.n);
    for (int w = 0; w < problem.n; ++w) sent[w] = compressed(sign, blocks, problem.gradient(w, x.data()));
    const std::vector<float> u = compressed(sign, blocks, server_input(sent, std::vector<float>(problem.d, 0.0f)));
    for (int j = 0; j < problem.d; ++j) x[j] -= lr * u[j];
  }
  gap["sign without error feedback"] = problem.loss(x) - optimum;

  for (const auto& [name, g] : gap) MESSAGE(name << ": loss above the optimum " << g << " (optimum " << optimum << ")");
  for (const std::string name : {"memsgd", "doublesqueeze", "liec", "psgd"}) CHECK(gap[name] < 1e-3 * optimum);
  CHECK(gap["sign without error feedback"] > 10 * std::max({gap["memsgd"], gap["doublesqueeze"], gap["liec"], 1e-9}));
}

TEST_CASE("algorithms: counted bytes equal the closed forms (scaled sign, 4 workers)") {
  const LeastSquares problem(100, 8, 4);
  const std::vector<Block> blocks = two_blocks(problem.d);
  const size_t sign_bytes = 32 + 4 * blocks.size() + 4 * ((problem.d + 31) / 32);
  const size_t full_bytes = 32 + 4 * problem.d;
  CHECK(sign_bytes == closed_form_message_bytes(CompressorConfig{CompressorKind::Sign}, blocks));
  const int steps = 12, period = 4, n = problem.n;
  const auto check_worker = [&](const RunResult& r, uint64_t up, uint64_t down) {
    for (int w = 1; w < n; ++w) {
      CHECK(r.sent[w] == up);
      CHECK(r.received[w] == down);
    }
    CHECK(r.sent[0] == down * (n - 1));  // the server sends each worker what it receives
    CHECK(r.received[0] == up * (n - 1));
  };
  check_worker(run(problem, config_of("psgd", CompressorKind::Identity), steps, 0.1f), steps * full_bytes, steps * full_bytes);
  check_worker(run(problem, config_of("memsgd", CompressorKind::Sign), steps, 0.1f), steps * sign_bytes, steps * full_bytes);
  check_worker(run(problem, config_of("doublesqueeze", CompressorKind::Sign), steps, 0.1f), steps * sign_bytes,
               steps * sign_bytes);
  // LIEC-SGD: H - 1 compressed steps, then one sync step that moves the model and the gradient in
  // full precision both ways: per step on average ((H - 1) sign + 2 full) / H each way.
  const RunResult liec = run(problem, config_of("liec", CompressorKind::Sign, period), steps, 0.1f);
  const uint64_t per_period = (period - 1) * sign_bytes + 2 * full_bytes;
  check_worker(liec, steps / period * per_period, steps / period * per_period);
  MESSAGE("LIEC-SGD(H=4) sends " << static_cast<double>(per_period) / period << " bytes per step each way; sign "
                                 << sign_bytes << ", full precision " << full_bytes);
}

// Gossip on a ring of 4 with the least-squares workers.
TEST_CASE("algorithms: Malcom-PSGD reaches consensus, makes exact zeros, and sends fewer bits than CHOCO-SGD") {
  const LeastSquares problem(400, 40, 4);
  AlgorithmConfig choco = config_of("choco", CompressorKind::Dither);
  choco.compressor.levels = 32;  // CHOCO needs Q to contract: s >= sqrt(d_b) keeps the variance factor below 1
  choco.gamma = 0.4f;
  AlgorithmConfig malcom = choco;
  malcom.name = "malcom";
  malcom.l1 = 0.002f;
  const int steps = 300;
  const RunResult c = run(problem, choco, steps, 0.1f), m = run(problem, malcom, steps, 0.1f);
  for (const RunResult* r : {&c, &m}) {
    // Consensus: every node close to the nodes' average, relative to the model's size.
    std::vector<float> mean(problem.d, 0.0f);
    for (const auto& x : r->models.back())
      for (int j = 0; j < problem.d; ++j) mean[j] += x[j] / problem.n;
    double spread = 0.0, size = 0.0;
    for (const auto& x : r->models.back()) {
      double distance = 0.0;
      for (int j = 0; j < problem.d; ++j) distance += std::pow(static_cast<double>(x[j]) - mean[j], 2);
      spread = std::max(spread, std::sqrt(distance));
    }
    for (float v : mean) size += static_cast<double>(v) * v;
    size = std::sqrt(size);
    MESSAGE(std::string(r == &c ? "CHOCO-SGD" : "Malcom-PSGD") << ": largest ||x_i - mean|| " << spread
                                                                << ", ||mean|| " << size << ", loss " << problem.loss(mean));
    CHECK(spread < 0.05 * size);
  }
  size_t zeros = 0;
  for (float v : m.models.back()[0]) zeros += v == 0.0f;
  CHECK(zeros > 0);  // the l1 proximal step makes exact zeros
  uint64_t choco_bytes = 0, malcom_bytes = 0;
  for (int w = 0; w < problem.n; ++w) {
    choco_bytes += c.sent[w];
    malcom_bytes += m.sent[w];
  }
  MESSAGE("bits per node per step: CHOCO-SGD " << 8.0 * choco_bytes / problem.n / steps << ", Malcom-PSGD "
                                               << 8.0 * malcom_bytes / problem.n / steps << " (" << zeros << " of "
                                               << problem.d << " weights exactly zero)");
  CHECK(malcom_bytes < choco_bytes);
}

// The modelled network time of a run: its groups one after another, each the slowest rank's.
double modelled_seconds(const RunResult& r) {
  double seconds = 0.0;
  for (size_t group = 0; group < r.links[0].size(); ++group) {
    double slowest = 0.0;
    for (const std::vector<double>& rank : r.links) {
      REQUIRE(rank.size() == r.links[0].size());  // every rank completes every group
      slowest = std::max(slowest, rank[group]);
    }
    seconds += slowest;
  }
  return seconds;
}

TEST_CASE("link model: server/worker exchanges take their closed forms (P-SGD, LIEC-SGD with sign, a dedicated server)") {
  const LeastSquares problem(100, 8, 4);
  const std::vector<Block> blocks = two_blocks(problem.d);
  const LinkModel link{2.5, 10e-6};
  const double bit = 1 / (link.gbps * 1e9), l = link.latency_s;
  const double full = 32 + 4.0 * problem.d;
  const double sign = static_cast<double>(closed_form_message_bytes(CompressorConfig{CompressorKind::Sign}, blocks));
  const int steps = 12, period = 4, n = problem.n;
  // P-SGD: the server's incoming link carries the n - 1 other workers' gradients, then its
  // outgoing link one copy of the mean for each of them.
  const double psgd = steps * 2 * (l + (n - 1) * full * 8 * bit);
  CHECK(modelled_seconds(run(problem, config_of("psgd", CompressorKind::Identity), steps, 0.1f, link)) ==
        doctest::Approx(psgd).epsilon(1e-12));
  // A dedicated server: worker 0's messages cross the wire too.
  AlgorithmConfig dedicated = config_of("psgd", CompressorKind::Identity);
  dedicated.dedicated_server = true;
  CHECK(modelled_seconds(run(problem, dedicated, steps, 0.1f, link)) ==
        doctest::Approx(steps * 2 * (l + n * full * 8 * bit)).epsilon(1e-12));
  // LIEC-SGD: H - 1 compressed steps (sign up, sign down), then a synchronisation step of four
  // full-precision exchanges (model up and down, gradient up and down).
  const double compressed = 2 * (l + (n - 1) * sign * 8 * bit), sync = 4 * (l + (n - 1) * full * 8 * bit);
  const double liec = steps / period * ((period - 1) * compressed + sync);
  CHECK(modelled_seconds(run(problem, config_of("liec", CompressorKind::Sign, period), steps, 0.1f, link)) ==
        doctest::Approx(liec).epsilon(1e-12));
  MESSAGE("modelled network seconds per step at 2.5 Gbit/s, 10 us: P-SGD " << psgd / steps << ", LIEC-SGD(H=4) "
                                                                          << liec / steps);
  // Off: nothing is logged.
  CHECK(run(problem, config_of("psgd", CompressorKind::Identity), 2, 0.1f).links[0].empty());
}

TEST_CASE("link model: gossip on a ring takes each exchange's slowest node (Malcom-PSGD's sizes vary by node)") {
  const LeastSquares problem(400, 40, 4);
  const LinkModel link{1.0, 5e-6};
  const double bit = 1 / (link.gbps * 1e9), l = link.latency_s;
  for (const std::string name : {"choco", "malcom"}) {
    AlgorithmConfig config = config_of(name, CompressorKind::Dither);
    config.compressor.levels = 32;
    config.gamma = 0.4f;
    config.l1 = name == "malcom" ? 0.002f : 0.0f;
    const int steps = 20;
    const RunResult r = run(problem, config, steps, 0.1f, link);
    // Per step, Malcom-PSGD's entropy-coded messages: first their sizes (8 bytes to and from each
    // of 2 neighbours, the same on every node), then the payloads, whose lengths differ between
    // nodes and steps. CHOCO-SGD's dithered messages have one fixed size: one exchange.
    const bool coded = name == "malcom";
    const double size_bytes = coded ? 16.0 : 0.0;
    double expected = 0.0;
    bool sizes_differ = false;
    for (int step = 0; step < steps; ++step) {
      double slowest = 0.0;
      for (int node = 0; node < problem.n; ++node) {
        const double out = r.step_sent[step][node] - size_bytes, in = r.step_received[step][node] - size_bytes;
        slowest = std::max({slowest, l + out * 8 * bit, l + in * 8 * bit});
        sizes_differ |= r.step_sent[step][node] != r.step_sent[step][0];
      }
      expected += (coded ? l + size_bytes * 8 * bit : 0.0) + slowest;
    }
    INFO(name);
    CHECK(sizes_differ == coded);  // Malcom-PSGD's tests the per-node maximum
    CHECK(modelled_seconds(r) == doctest::Approx(expected).epsilon(1e-12));
  }
}

}  // namespace
