// A run's id: 48 random bits drawn when a run starts, written to its config.json and into every
// rank's checkpoint file, so that the files of two runs are never resumed together. Held in a
// double (exact at 48 bits), which the transports' all-reduce carries.
#pragma once

#include <string>

// A new id, from the system's entropy.
double new_run_id();

// The id as config.json has it: 12 hexadecimal digits.
std::string run_id_text(double id);

// A user error unless run_dir/config.json names the run `id` (a checkpoint folder copied in from
// another run would continue into this folder's metrics).
void check_config_run_id(const std::string& run_dir, double id, const std::string& checkpoint_file);
