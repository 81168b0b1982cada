// Algorithm base: owned state vectors and the factory.
#include "comm/algorithm.h"

#include <cmath>

#include "engine/check.h"

const std::vector<std::string>& algorithm_names() {
  static const std::vector<std::string> names = {"psgd", "memsgd", "doublesqueeze", "neolithic",
                                                 "cser", "liec",   "choco",         "malcom"};
  return names;
}

Algorithm::Algorithm(Transport& transport, const std::vector<Block>& blocks, const AlgorithmConfig& config)
    : ctx_(transport.context()), transport_(transport), config_(config), blocks_(blocks), count_(0),
      roles_{transport.rank(), transport.size(), config.dedicated_server}, rank_(transport.rank()),
      workers_(roles_.workers()) {
  for (const Block& b : blocks) count_ += b.length;
}

Tensor& Algorithm::vector(const std::string& name) {
  vectors_.emplace_back(name, std::make_unique<Tensor>(Tensor::zeros(ctx_, {static_cast<int>(count_)})));
  return *vectors_.back().second;
}

std::vector<std::pair<std::string, Tensor*>> Algorithm::state() {
  std::vector<std::pair<std::string, Tensor*>> named;
  for (auto& [name, tensor] : vectors_)
    if (!name.empty()) named.emplace_back(name, tensor.get());
  return named;
}

void validate_algorithm_config(const AlgorithmConfig& config, int ranks) {
  bool known = false;
  for (const std::string& name : algorithm_names()) known |= name == config.name;
  if (!known)
    fail_input("unknown --algo '%s' (expected psgd, memsgd, doublesqueeze, neolithic, cser, liec, choco or malcom)",
               config.name.c_str());
  if (config.period < 1) fail_input("--period must be at least 1, got %d", config.period);
  validate_ratio(config.compressor.ratio);
  validate_levels(config.compressor.levels);
  if (config.name == "choco" || config.name == "malcom") {
    if (!(config.gamma > 0.0f && config.gamma <= 1.0f)) fail_input("--gamma must be in (0, 1], got %g", config.gamma);
    if (!(config.l1 >= 0.0f && std::isfinite(config.l1)))
      fail_input("--l1 must be non-negative and finite in float32, got %g", config.l1);
    if (config.dedicated_server)
      fail_input("--dedicated-server is for server/worker algorithms; %s has no server", config.name.c_str());
    if (ranks > 0) make_topology(config.topology, ranks);  // refuses unknown or impossible graphs
  }
  if (config.dedicated_server && ranks == 1)
    fail_input("--dedicated-server needs a worker besides the server: at least 2 ranks (mpirun -np 2)");
}

std::unique_ptr<Algorithm> make_algorithm(Transport& transport, const std::vector<Block>& blocks,
                                          const AlgorithmConfig& config) {
  validate_algorithm_config(config, transport.size());
  if (config.name == "choco" || config.name == "malcom") return make_gossip_algorithm(transport, blocks, config);
  return make_server_worker_algorithm(transport, blocks, config);
}
