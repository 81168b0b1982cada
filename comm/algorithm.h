// The distributed update rules of docs/algorithms.md. Each algorithm turns this rank's gradient into
// the update its local optimizer applies, exchanging messages through the Transport (so every
// byte is counted) and compressing them with Compressors; error memories are plain flat vectors
// it owns. Server/worker algorithms use rank 0 as the server (also worker 0 unless it is
// dedicated: comm/roles.h); gossip algorithms exchange with their neighbours on a graph.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "comm/algorithm_table.h"
#include "comm/roles.h"
#include "comm/topology.h"
#include "comm/transport.h"
#include "compress/compressor.h"
#include "engine/sgd.h"
#include "engine/tensor.h"

// The local optimizer step every algorithm ends with: u += wd x; m = mu m + u; x -= lr u.
struct LocalOptimizer {
  Context& ctx;
  float* params;
  float* momentum;  // null when mu = 0
  size_t count;
  SgdConfig config;
  const float* lr;  // the current step's rate, in the context's memory (engine/step_clock.h)
  void apply(const float* update) { sgd_update(ctx, config, lr, params, update, momentum, count); }
};

class Algorithm {
 public:
  Algorithm(Transport& transport, const std::vector<Block>& blocks, const AlgorithmConfig& config);
  virtual ~Algorithm() = default;
  Algorithm(const Algorithm&) = delete;
  Algorithm& operator=(const Algorithm&) = delete;

  // Called once with the initial model (the same on every rank), before any step or restore.
  virtual void start(const float* /*params*/) {}

  // Step t (0-based) with this rank's gradient (which the algorithm may overwrite); applies the
  // update to the model through `local`. A dedicated server passes a zero gradient, which it
  // never sends; its model follows the server's messages and is used for nothing.
  virtual void step(long t, float* gradient, LocalOptimizer& local) = 0;

  // The error-feedback state (error memories, estimates), by name, for checkpoints and tests.
  std::vector<std::pair<std::string, Tensor*>> state();
  // ||e_s|| on the server for algorithms that keep a server error (NaN elsewhere).
  virtual double server_error_norm() { return std::numeric_limits<double>::quiet_NaN(); }
  // Throws MessageError if a message was refused since the last call (GPU decoders only flag it,
  // so that a step never waits for the host); called at log time.
  virtual void check_messages() = 0;
  // Whether step() can be captured into a CUDA graph and replayed (comm/step_graph.h): the same
  // kernels with the same arguments at every step of one variant, and no host work on data.
  virtual bool capturable() const { return false; }
  // Steps whose kernels differ (LIEC-SGD's and CSER's every H-th step) are other variants, each
  // captured into a graph of its own.
  virtual int step_variant(long /*t*/) const { return 0; }
  // Gossip on a graph (no server): traffic is per node, and the model's sparsity is reported.
  virtual bool decentralized() const { return false; }
  // Whether workers' models may differ (then evaluation uses their average).
  virtual bool models_differ() const { return false; }

  const AlgorithmConfig& config() const { return config_; }

 protected:
  // A zeroed flat vector in the context's memory, listed in state() when `name` is not empty.
  Tensor& vector(const std::string& name);

  Context& ctx_;
  Transport& transport_;
  AlgorithmConfig config_;
  std::vector<Block> blocks_;
  size_t count_;
  Roles roles_;

 private:
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> vectors_;
};

// validate_algorithm_config's user errors, then the table's family's factory.
std::unique_ptr<Algorithm> make_algorithm(Transport& transport, const std::vector<Block>& blocks,
                                          const AlgorithmConfig& config);

// Internal factories (comm/server_worker.cu, comm/gossip.cu).
std::unique_ptr<Algorithm> make_server_worker_algorithm(Transport& t, const std::vector<Block>& b, const AlgorithmConfig& c);
std::unique_ptr<Algorithm> make_gossip_algorithm(Transport& t, const std::vector<Block>& b, const AlgorithmConfig& c);
