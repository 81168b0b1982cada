// The algorithm table and the checks of an algorithm's settings.
#include "comm/algorithm_table.h"

#include <cmath>

#include "engine/check.h"

const std::vector<AlgorithmInfo>& algorithm_table() {
  using F = AlgorithmFamily;
  static const std::vector<AlgorithmInfo> table = {
      // name           help                                                   family           compressed periodic proximal
      {"psgd",          "P-SGD, full precision both ways",                     F::ServerWorker, false,     false,   false},
      {"memsgd",        "MEM-SGD, compressed up with error feedback",          F::ServerWorker, true,      false,   false},
      {"doublesqueeze", "DoubleSqueeze, compressed both ways, errors fed back", F::ServerWorker, true,      false,   false},
      {"neolithic",     "NEOLITHIC, two compression rounds each way",          F::ServerWorker, true,      false,   false},
      {"cser",          "CSER, error reset every --period steps",              F::ServerWorker, true,      true,    false},
      {"liec",          "LIEC-SGD, local immediate error compensation",        F::ServerWorker, true,      true,    false},
      {"choco",         "CHOCO-SGD, gossip of quantized estimates",            F::Gossip,       false,     false,   false},
      {"malcom",        "Malcom-PSGD, proximal, entropy-coded gossip",         F::Gossip,       false,     false,   true},
  };
  return table;
}

const AlgorithmInfo* find_algorithm(const std::string& name) {
  for (const AlgorithmInfo& a : algorithm_table())
    if (name == a.name) return &a;
  return nullptr;
}

std::string algorithm_name_list() {
  const std::vector<AlgorithmInfo>& table = algorithm_table();
  std::string list;
  for (size_t i = 0; i < table.size(); ++i)
    list += (i == 0 ? "" : i + 1 == table.size() ? " or " : ", ") + std::string(table[i].name);
  return list;
}

std::string algorithm_help() {
  std::string help;
  for (const AlgorithmInfo& a : algorithm_table()) help += (help.empty() ? "" : "; ") + std::string(a.name) + ": " + a.help;
  return help;
}

const AlgorithmInfo& algorithm_info(const std::string& name) {
  const AlgorithmInfo* found = find_algorithm(name);
  if (found == nullptr) fail_input("unknown --algo '%s' (expected %s)", name.c_str(), algorithm_name_list().c_str());
  return *found;
}

void validate_algorithm_config(const AlgorithmConfig& config, int ranks) {
  const AlgorithmInfo& info = algorithm_info(config.name);
  if (config.period < 1) fail_input("--period must be at least 1, got %d", config.period);
  validate_ratio(config.compressor.ratio);
  validate_levels(config.compressor.levels);
  if (info.family == AlgorithmFamily::Gossip) {
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
