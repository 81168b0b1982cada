// Learning-rate schedules, as functions of the step: constant, step decay at given epochs,
// cosine annealing to zero, and one-cycle (PyTorch's OneCycleLR defaults).
#pragma once

#include <string>
#include <vector>

struct LrSchedule {
  enum Kind { Constant, Step, Cosine, OneCycle } kind = Constant;
  float base_lr = 0.1f;
  long total_steps = 1;
  long steps_per_epoch = 1;
  std::vector<long> decay_epochs;  // Step: multiply by decay_factor at the start of each
  float decay_factor = 0.1f;

  // The rate for 0-based `step`.
  float at(long step) const;
};

// "constant", "step", "cosine", "onecycle"; anything else is a user error.
LrSchedule::Kind parse_lr_schedule(const std::string& name);
// "80" or "80,120": a user error unless positive integers.
std::vector<long> parse_epoch_list(const std::string& text);
