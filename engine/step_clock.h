// Where the training loop is, kept in the context's memory: the step t, its epoch, its batch
// within the epoch and its learning rate. A CUDA graph replays the same kernels with the same
// arguments every step, so whatever changes from step to step is read from this position, which
// the step itself advances, rather than passed as a kernel argument (docs/design.md: the step is static).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

struct StepPosition {
  int64_t step;   // t, counted from 0 over the whole run
  int64_t epoch;  // t / steps_per_epoch
  int64_t batch;  // t % steps_per_epoch: which batch of the epoch's shard
  float lr;       // the schedule's rate at t
};

class StepClock {
 public:
  // rates[t] is the learning rate of step t; a run has rates.size() steps.
  StepClock(Context& ctx, const std::vector<float>& rates, long steps_per_epoch);

  // The position of step t, written in stream order (at the start of a run and after a resume).
  void set(Context& ctx, long step);
  // The position of the next step: one thread of one kernel, the last thing a step launches.
  void advance(Context& ctx);

  // In the context's memory (device memory on a GPU): for kernels to read.
  const StepPosition* position() const { return position_.data(); }
  const float* lr() const { return &position_.data()->lr; }

 private:
  Buffer<float> rates_;
  Buffer<StepPosition> position_;
  long steps_per_epoch_;
};
