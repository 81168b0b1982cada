// Algorithm base: owned state vectors and the factory.
#include "comm/algorithm.h"

#include "engine/check.h"

const std::vector<std::string>& algorithm_names() {
  static const std::vector<std::string> names = {"psgd", "memsgd", "doublesqueeze", "neolithic",
                                                 "cser", "liec",   "choco",         "malcom"};
  return names;
}

Algorithm::Algorithm(Transport& transport, const std::vector<Block>& blocks, const AlgorithmConfig& config)
    : ctx_(transport.context()), transport_(transport), config_(config), blocks_(blocks), count_(0),
      rank_(transport.rank()), workers_(transport.size()) {
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

std::unique_ptr<Algorithm> make_algorithm(Transport& transport, const std::vector<Block>& blocks,
                                          const AlgorithmConfig& config) {
  if (config.period < 1) fail_input("--period must be at least 1, got %d", config.period);
  if (config.name == "choco" || config.name == "malcom") return make_gossip_algorithm(transport, blocks, config);
  for (const std::string& name : algorithm_names())
    if (name == config.name) return make_server_worker_algorithm(transport, blocks, config);
  fail_input("unknown --algo '%s' (expected psgd, memsgd, doublesqueeze, neolithic, cser, liec, choco or malcom)",
             config.name.c_str());
}
