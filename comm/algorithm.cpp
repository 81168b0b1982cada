// Algorithm base: owned state vectors and the factory.
#include "comm/algorithm.h"

#include "engine/check.h"

Algorithm::Algorithm(Transport& transport, const std::vector<Block>& blocks, const AlgorithmConfig& config)
    : ctx_(transport.context()), transport_(transport), config_(config), blocks_(blocks), count_(0),
      roles_{transport.rank(), transport.size(), config.dedicated_server} {
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
  validate_algorithm_config(config, transport.size());
  if (algorithm_info(config.name).family == AlgorithmFamily::Gossip) return make_gossip_algorithm(transport, blocks, config);
  return make_server_worker_algorithm(transport, blocks, config);
}
