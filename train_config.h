// The training program's flags, and the Config read from them with every check that can be made
// before ranks start (ranges, choices, combinations), each a one-line error with exit code 2.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comm/algorithm_table.h"
#include "comm/link_model.h"
#include "comm/transport.h"
#include "data/load.h"
#include "engine/context.h"
#include "engine/flags.h"
#include "engine/lr_schedule.h"
#include "engine/sgd.h"

// The settings of one run, as read from the flags.
struct Config {
  Device device;
  TransportKind comm;
  std::string model, run_dir, augment;
  DatasetOptions data;
  AlgorithmConfig algorithm;
  size_t bucket_bytes;
  int width, batch_size, log_every, eval_every, workers, checkpoint_every;
  long steps, epochs, crash_at_step;
  double comm_timeout;
  LinkModel link;         // --link-gbps 0: off
  double link_compute_s;  // the modelled compute time of a step; negative: measured
  float lr;
  SgdConfig sgd;
  LrSchedule::Kind schedule;
  std::vector<long> decay_epochs;
  std::string decay_epochs_text;  // the parsed list as text, for the checkpoint's fingerprint
  bool deterministic, resume, overwrite, cuda_graphs;
  Precision precision;
  uint64_t seed;

  // --comm local: the rank threads, the workers and a dedicated server if there is one.
  int local_ranks() const { return workers + (algorithm.dedicated_server ? 1 : 0); }
};

constexpr long kMaxSteps = 100000000;  // 100 M: far past any real run, 400 MB of rate tables

// Every flag of ./train, with its default and its --help line.
Flags declare_flags();

// Reads and checks the flags; a bad value is a user error (one line, exit code 2).
Config read_config(const Flags& flags);

// A run folder holds one run: a new run into a folder with another's files is refused unless
// --overwrite or --resume (checked before anything loads: a quick error).
void check_run_folder(const Config& config);
// --overwrite: removes the earlier run's files, once the new run has passed every check and is
// about to write its own (a run refused for another reason leaves the old one whole).
void clear_run_folder(const std::string& run_dir);

// The checks that depend on this machine, not only on the flags (a GPU for --device cuda): under
// mpirun every rank makes them for itself, after the ranks speak again.
void check_device(const Config& config);

// What a run derives from its settings and its data, that its checkpoint's state depends on too.
struct RunShape {
  size_t parameters;
  long steps_per_epoch, total_steps;
  bool augment;
  std::string dataset;  // the data set loaded (synthetic where none was found)
  size_t test_images;
  int image_size;
};

// A setting that a checkpoint's state only makes sense under: a resume must use the same value.
struct FingerprintSetting {
  const char* key;   // in the checkpoint
  double value;      // a number a checkpoint holds exactly (texts hashed)
  const char* what;  // for the user: what to change back
};
std::vector<FingerprintSetting> run_fingerprint(const Config& config, const RunShape& shape);
