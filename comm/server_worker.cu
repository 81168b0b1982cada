// The server/worker algorithms of docs/algorithms.md (P-SGD, MEM-SGD, DoubleSqueeze, NEOLITHIC, CSER,
// LIEC-SGD). Each step function reads like its lines there; `up` and `down` are the two
// exchanges they are all made of.
#include <cmath>

#include "comm/algorithm.h"
#include "comm/mailbox.h"
#include "engine/check.h"
#include "engine/nvtx.h"
#include "engine/vector_ops.h"

namespace {

class ServerWorker : public Algorithm {
 public:
  ServerWorker(Transport& t, const std::vector<Block>& blocks, const AlgorithmConfig& config)
      : Algorithm(t, blocks, config),
        compressor_(make_compressor(ctx_, config.compressor, blocks)),
        full_(make_compressor(ctx_, CompressorConfig{CompressorKind::Identity}, blocks)),
        scratch_(vector("")),
        mail_(ctx_, std::max(compressor_->max_message_bytes(), full_->max_message_bytes()),
              roles_.is_server() ? roles_.workers() : 0) {}

 protected:
  // Every worker sends C(p) to the server (writing p - C(p) into `error` unless it is null); the
  // server decodes them all and writes their mean into `mean`. Message keys: (4t + round, worker).
  void up(Compressor& c, const float* p, float* error, float* mean, long t, int round) {
    NVTX_RANGE("exchange_up");
    ctx_.timer.mark(Phase::Compress);
    size_t bytes = c.max_message_bytes();  // what a fixed-size compressor's messages all hold
    if (roles_.is_worker()) bytes = c.compress(ctx_, p, mail_.outgoing(), error, key(t, round, roles_.worker()));
    ctx_.timer.mark(Phase::Exchange);
    const std::vector<size_t> sizes = mail_.gather_to_server(transport_, roles_, c, bytes);
    ctx_.timer.mark(Phase::Compress);
    finish_up(c, sizes, mean, t, round);
    ctx_.timer.mark(Phase::Update);
  }

  void finish_up(Compressor& c, const std::vector<size_t>& sizes, float* mean, long t, int round) {
    if (!roles_.is_server()) return;
    // The mean as a sum in worker order, then one scaling: the same arithmetic for every
    // algorithm, which is what makes them all equal P-SGD bit for bit under the identity
    // compressor (and a dedicated server equal to a shared one).
    c.decompress(ctx_, mail_.inbox(0), sizes[0], mean, key(t, round, 0));
    for (int k = 1; k < roles_.workers(); ++k) {
      c.decompress(ctx_, mail_.inbox(k), sizes[k], scratch_.data(), key(t, round, k));
      axpy(ctx_, mean, 1.0f, scratch_.data(), count_);
    }
    scale(ctx_, mean, 1.0f / roles_.workers(), count_);
  }

  // The server sends C(v) to every rank (writing v - C(v) into `error` unless null; v and error
  // are read on the server only); every rank, the server too, decodes it into `out`.
  void down(Compressor& c, const float* v, float* error, float* out, long t, int round) {
    NVTX_RANGE("exchange_down");
    ctx_.timer.mark(Phase::Compress);
    size_t bytes = c.max_message_bytes();
    if (roles_.is_server()) bytes = c.compress(ctx_, v, mail_.outgoing(), error, key(t, round, roles_.workers()));
    ctx_.timer.mark(Phase::Exchange);
    bytes = mail_.broadcast_from_server(transport_, c, bytes);
    ctx_.timer.mark(Phase::Compress);
    c.decompress(ctx_, mail_.outgoing(), bytes, out, key(t, round, roles_.workers()));
    ctx_.timer.mark(Phase::Update);
  }

  void check_messages() override {
    compressor_->check_messages(ctx_);
    full_->check_messages(ctx_);
  }

  bool capturable() const override { return compressor_->capturable() && full_->capturable(); }

  // ||e_s|| of the algorithms that keep a server error (they register it as "server_error").
  double server_error_norm() override {
    for (auto& [name, tensor] : state())
      if (name == "server_error" && roles_.is_server()) return std::sqrt(squared_norm(ctx_, tensor->data(), count_));
    return Algorithm::server_error_norm();
  }

  // Random-k's indices and the dither noise are keyed per message: step, round, sender (worker k
  // is sender k; the server's downlink uses `workers` as its id, apart from worker 0's uplink).
  static MessageKey key(long t, int round, int sender) {
    return MessageKey{static_cast<uint64_t>(t) * 4 + round, static_cast<uint32_t>(sender)};
  }

  std::unique_ptr<Compressor> compressor_, full_;
  Tensor& scratch_;

 private:
  Mailbox mail_;
};

// 1. P-SGD: up g; m = mean g_i; down m; u = m.
class Psgd : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    up(*full_, g, nullptr, m_.data(), t, 0);
    down(*full_, m_.data(), nullptr, u_.data(), t, 1);
    local.apply(u_.data());
  }

 private:
  Tensor &m_ = vector(""), &u_ = vector("");
};

// 2. MEM-SGD: p = g + e; c = C(p); e = p - c; up c; m = mean c_i; down m in full precision; u = m.
class MemSgd : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    add_scaled(ctx_, p_.data(), g, 1.0f, e_.data(), count_);
    up(*compressor_, p_.data(), e_.data(), m_.data(), t, 0);
    down(*full_, m_.data(), nullptr, u_.data(), t, 1);
    local.apply(u_.data());
  }

 private:
  Tensor &e_ = vector("worker_error"), &p_ = vector(""), &m_ = vector(""), &u_ = vector("");
};

// 3. DoubleSqueeze: worker as MEM-SGD; server v = mean c_i + e_s; c = C(v); e_s = v - c; down c; u = c.
class DoubleSqueeze : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    add_scaled(ctx_, p_.data(), g, 1.0f, e_.data(), count_);
    up(*compressor_, p_.data(), e_.data(), v_.data(), t, 0);
    if (roles_.is_server()) axpy(ctx_, v_.data(), 1.0f, e_s_.data(), count_);
    down(*compressor_, v_.data(), e_s_.data(), u_.data(), t, 1);
    local.apply(u_.data());
  }

 private:
  Tensor &e_ = vector("worker_error"), &e_s_ = vector("server_error"), &p_ = vector(""), &v_ = vector(""),
         &u_ = vector("");
};

// 4. NEOLITHIC (R = 2): p = g + e; c1 = C(p); c2 = C(p - c1); e = p - c1 - c2; up c1, c2;
//    v = mean (c1_i + c2_i) + e_s; s1 = C(v); s2 = C(v - s1); e_s = v - s1 - s2; down s1, s2; u = s1 + s2.
class Neolithic : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    add_scaled(ctx_, p_.data(), g, 1.0f, e_.data(), count_);
    up(*compressor_, p_.data(), r_.data(), v_.data(), t, 0);  // r = p - c1
    up(*compressor_, r_.data(), e_.data(), m_.data(), t, 1);  // e = r - c2
    if (roles_.is_server()) {
      axpy(ctx_, v_.data(), 1.0f, m_.data(), count_);
      axpy(ctx_, v_.data(), 1.0f, e_s_.data(), count_);
    }
    down(*compressor_, v_.data(), r_.data(), u_.data(), t, 2);      // server: r = v - s1
    down(*compressor_, r_.data(), e_s_.data(), m_.data(), t, 3);    // server: e_s = r - s2
    axpy(ctx_, u_.data(), 1.0f, m_.data(), count_);
    local.apply(u_.data());
  }

 private:
  Tensor &e_ = vector("worker_error"), &e_s_ = vector("server_error"), &p_ = vector(""), &r_ = vector(""),
         &v_ = vector(""), &m_ = vector(""), &u_ = vector("");
};

// 5. CSER (period H): c = C(g); r = g - c; R -= r; up c; m = mean c_i, down m in full precision;
//    u = m + r. When (t + 1) mod H = 0 also: u += R; cR = C(R); R -= cR; up cR; mR = mean cR_i,
//    down in full precision; u -= (mR + R).
class Cser : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    up(*compressor_, g, r_.data(), m_.data(), t, 0);
    axpy(ctx_, big_r_.data(), -1.0f, r_.data(), count_);
    down(*full_, m_.data(), nullptr, u_.data(), t, 1);
    axpy(ctx_, u_.data(), 1.0f, r_.data(), count_);
    if (step_variant(t) == kResetStep) {
      axpy(ctx_, u_.data(), 1.0f, big_r_.data(), count_);
      up(*compressor_, big_r_.data(), r_.data(), m_.data(), t, 2);  // r = R - C(R): the new R
      ctx_.copy(big_r_.data(), r_.data(), 4 * count_);
      down(*full_, m_.data(), nullptr, v_.data(), t, 3);
      axpy(ctx_, u_.data(), -1.0f, v_.data(), count_);
      axpy(ctx_, u_.data(), -1.0f, big_r_.data(), count_);
    }
    local.apply(u_.data());
  }
  bool models_differ() const override { return true; }
  // Every H-th step also resets the residual memory: another variant of the step.
  static constexpr int kResetStep = 1;
  int step_variant(long t) const override { return (t + 1) % config_.period == 0 ? kResetStep : 0; }

 private:
  Tensor &big_r_ = vector("residual_memory"), &r_ = vector(""), &m_ = vector(""), &v_ = vector(""), &u_ = vector("");
};

// 6. LIEC-SGD (period H). If (t + 1) mod H != 0: c = C(g); delta = g - c; up c; v = mean c_i + e_s;
//    c_s = C(v); e_s = v - c_s; down c_s; u = c_s + delta (the local immediate compensation).
//    Else, full precision both ways: x = mean x_j; v = mean g_j + e_s, e_s = 0; down v; u = v.
class Liec : public ServerWorker {
 public:
  using ServerWorker::ServerWorker;
  void step(long t, float* g, LocalOptimizer& local) override {
    if (step_variant(t) != kSyncStep) {
      up(*compressor_, g, delta_.data(), v_.data(), t, 0);
      if (roles_.is_server()) axpy(ctx_, v_.data(), 1.0f, e_s_.data(), count_);
      down(*compressor_, v_.data(), e_s_.data(), u_.data(), t, 1);
      axpy(ctx_, u_.data(), 1.0f, delta_.data(), count_);
    } else {
      up(*full_, local.params, nullptr, v_.data(), t, 0);
      down(*full_, v_.data(), nullptr, local.params, t, 1);
      up(*full_, g, nullptr, v_.data(), t, 2);
      if (roles_.is_server()) {
        axpy(ctx_, v_.data(), 1.0f, e_s_.data(), count_);
        ctx_.fill_zero(e_s_.data(), 4 * count_);
      }
      down(*full_, v_.data(), nullptr, u_.data(), t, 3);
    }
    local.apply(u_.data());
  }
  bool models_differ() const override { return true; }
  // Every H-th step synchronises in full precision: another variant of the step.
  static constexpr int kSyncStep = 1;
  int step_variant(long t) const override { return (t + 1) % config_.period == 0 ? kSyncStep : 0; }

 private:
  Tensor &e_s_ = vector("server_error"), &delta_ = vector(""), &v_ = vector(""), &u_ = vector("");
};

}  // namespace

std::unique_ptr<Algorithm> make_server_worker_algorithm(Transport& t, const std::vector<Block>& b,
                                                        const AlgorithmConfig& c) {
  if (c.name == "psgd") return std::make_unique<Psgd>(t, b, c);
  if (c.name == "memsgd") return std::make_unique<MemSgd>(t, b, c);
  if (c.name == "doublesqueeze") return std::make_unique<DoubleSqueeze>(t, b, c);
  if (c.name == "neolithic") return std::make_unique<Neolithic>(t, b, c);
  if (c.name == "cser") return std::make_unique<Cser>(t, b, c);
  if (c.name == "liec") return std::make_unique<Liec>(t, b, c);
  fail_input("unknown server/worker algorithm '%s'", c.name.c_str());
}
