// Splits a rank's step time into named phases with stream events (host clock on the CPU): mark()
// starts a phase, which lasts until the next mark(). Marks cost no host wait; collect() (at log
// time) waits once and returns the seconds spent in each phase since the previous collect(). Each
// phase is also an NVTX range of its name, so Nsight shows the phases that metrics.jsonl times.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

// Step: a replayed CUDA graph (comm/step_graph.h), every phase of the step in one launch.
enum class Phase { Compute, Compress, Exchange, Update, Step, Other, Count };
const char* phase_name(Phase phase);

class Context;

class PhaseTimer {
 public:
  explicit PhaseTimer(Context& ctx) : ctx_(ctx) {}
  ~PhaseTimer();
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

  void mark(Phase phase);
  // While disabled, marks are ignored (a step being captured into a graph records no events).
  void set_enabled(bool enabled) { enabled_ = enabled; }
  std::array<double, static_cast<size_t>(Phase::Count)> collect();

 private:
  struct Mark {
    Phase phase;
    cudaEvent_t event;  // GPU
    std::chrono::steady_clock::time_point time;  // CPU
  };
  Context& ctx_;
  bool enabled_ = true;
  std::vector<Mark> marks_;
  std::vector<cudaEvent_t> pool_;  // events are reused from one interval to the next
  uint64_t open_range_ = 0;        // the NVTX range of the phase under way (0: none)
};
