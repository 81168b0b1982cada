// The one list of ./train's distributed algorithms: each name with its help, its family and the
// flags that apply to it. Validation, --help, the factory's dispatch and the checkpoint fingerprint all read
// it; it links nothing of the algorithms themselves, so the flag checks (and their fuzzer) need
// only this file.
#pragma once

#include <string>
#include <vector>

#include "comm/topology.h"
#include "compress/compressor.h"

enum class AlgorithmFamily { ServerWorker, Gossip };

struct AlgorithmInfo {
  const char* name;
  const char* help;  // what it is, for --help
  AlgorithmFamily family;
  bool compressed;  // --compressor applies (else the algorithm sends full precision or quantizes itself)
  bool periodic;    // --period applies: LIEC-SGD's H, CSER's reset period
  bool proximal;    // --l1 applies: Malcom-PSGD's proximal step
};

const std::vector<AlgorithmInfo>& algorithm_table();
// The entry of that name, or null.
const AlgorithmInfo* find_algorithm(const std::string& name);
// Every name, "psgd, memsgd, ... or malcom", for errors.
std::string algorithm_name_list();
// Every name with its help, for --algo's line in --help.
std::string algorithm_help();

struct AlgorithmConfig {
  std::string name = "psgd";  // one of algorithm_table()
  CompressorConfig compressor;
  int period = 32;            // H: LIEC-SGD's synchronisation period, CSER's reset period
  std::string topology = "ring";
  float gamma = 0.5f;         // consensus step (CHOCO-SGD, Malcom-PSGD)
  float l1 = 0.0f;            // lambda of Malcom-PSGD's l1 proximal step
  bool dedicated_server = false;  // rank 0 serves only (server/worker algorithms)
};

// The entry of config.name; an unknown name is a user error that lists the known ones.
const AlgorithmInfo& algorithm_info(const std::string& name);

// A user error (exit code 2) on an unknown name or an impossible setting; ranks = 0 skips the
// checks that need the rank count (the graph, a worker besides a dedicated server).
void validate_algorithm_config(const AlgorithmConfig& config, int ranks);
