// The decentralized algorithms of docs/algorithms.md: CHOCO-SGD and Malcom-PSGD. Every node keeps its
// model x_i, its public estimate xh_i and its neighbours' estimates xh_j, and sends only the
// quantized change of its estimate, q_i = Q(y_i - xh_i).
#include <memory>

#include "comm/algorithm.h"
#include "comm/mailbox.h"
#include "engine/check.h"
#include "engine/nvtx.h"
#include "engine/vector_ops.h"

namespace {

// 7. CHOCO-SGD: y = x - lr g (through the local optimizer); q = Q(y - xh) (fixed-length code);
//    xh_j += q_j for itself and its neighbours; x = y + gamma sum_j w_ij (xh_j - xh_i).
// 8. Malcom-PSGD: the same with the entropy coder, then x = soft_threshold(x, lr * lambda).
class Gossip : public Algorithm {
 public:
  Gossip(Transport& t, const std::vector<Block>& blocks, const AlgorithmConfig& config, bool proximal)
      : Algorithm(t, blocks, config),
        proximal_(proximal),
        topology_(make_topology(config.topology, t.size())),
        neighbors_(topology_.neighbors[t.rank()]),
        compressor_(make_compressor(ctx_, quantizer(config.compressor, proximal), blocks)),
        own_estimate_(vector("estimate")),
        mail_(ctx_, compressor_->max_message_bytes(), static_cast<int>(neighbors_.size())) {
    for (size_t k = 0; k < neighbors_.size(); ++k)
      estimates_.push_back(&vector("neighbor_estimate_" + std::to_string(k)));
  }

  // Every estimate, this node's and its neighbours', starts equal to the initial model.
  void start(const float* params) override {
    ctx_.copy(own_estimate_.data(), params, 4 * count_);
    for (Tensor* estimate : estimates_) ctx_.copy(estimate->data(), params, 4 * count_);
  }

  void step(long t, float* g, LocalOptimizer& local) override {
    float* x = local.params;
    local.apply(g);  // x now holds y
    NVTX_RANGE("gossip");
    add_scaled(ctx_, difference_.data(), x, -1.0f, own_estimate_.data(), count_);
    ctx_.timer.mark(Phase::Compress);
    const size_t bytes = compressor_->compress(ctx_, difference_.data(), mail_.outgoing(), nullptr, key(t, roles_.rank));
    ctx_.timer.mark(Phase::Exchange);
    const std::vector<size_t> sizes = mail_.exchange_with_neighbors(transport_, neighbors_, *compressor_, bytes);
    ctx_.timer.mark(Phase::Compress);
    compressor_->decompress(ctx_, mail_.outgoing(), bytes, q_.data(), key(t, roles_.rank));
    axpy(ctx_, own_estimate_.data(), 1.0f, q_.data(), count_);
    for (size_t k = 0; k < neighbors_.size(); ++k) {
      compressor_->decompress(ctx_, mail_.inbox(k), sizes[k], q_.data(), key(t, neighbors_[k]));
      axpy(ctx_, estimates_[k]->data(), 1.0f, q_.data(), count_);
    }
    ctx_.timer.mark(Phase::Update);
    // x = y + gamma sum_j w_ij (xh_j - xh_i): the self term is zero.
    for (size_t k = 0; k < neighbors_.size(); ++k) {
      const float weight = config_.gamma * static_cast<float>(topology_.weight(roles_.rank, neighbors_[k]));
      add_scaled(ctx_, difference_.data(), estimates_[k]->data(), -1.0f, own_estimate_.data(), count_);
      axpy(ctx_, x, weight, difference_.data(), count_);
    }
    if (proximal_) soft_threshold(ctx_, x, local.lr, config_.l1, count_);
  }

  bool models_differ() const override { return true; }
  bool decentralized() const override { return true; }
  void check_messages() override { compressor_->check_messages(ctx_); }

 private:
  static MessageKey key(long t, int sender) { return MessageKey{static_cast<uint64_t>(t), static_cast<uint32_t>(sender)}; }
  // Malcom-PSGD's messages are entropy-coded (variable size); CHOCO-SGD's fixed-length.
  static CompressorConfig quantizer(CompressorConfig config, bool proximal) {
    config.kind = proximal ? CompressorKind::Dither : CompressorKind::DitherFixed;
    return config;
  }

  bool proximal_;
  Topology topology_;
  std::vector<int> neighbors_;
  std::unique_ptr<Compressor> compressor_;
  Tensor& own_estimate_;
  Mailbox mail_;
  std::vector<Tensor*> estimates_;
  Tensor &difference_ = vector(""), &q_ = vector("");
};

}  // namespace

std::unique_ptr<Algorithm> make_gossip_algorithm(Transport& t, const std::vector<Block>& b, const AlgorithmConfig& c) {
  if (c.name == "malcom") return std::make_unique<Gossip>(t, b, c, true);
  if (c.name == "choco") return std::make_unique<Gossip>(t, b, c, false);
  fail_input("unknown gossip algorithm '%s'", c.name.c_str());
}
