// Phase timing with a reusable event pool.
#include "engine/phase_timer.h"

#include "engine/check.h"
#include "engine/context.h"
#include "engine/nvtx.h"

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::Compute: return "compute";
    case Phase::Compress: return "compress";
    case Phase::Exchange: return "exchange";
    case Phase::Update: return "update";
    case Phase::Step: return "step";
    default: return "other";
  }
}

PhaseTimer::~PhaseTimer() {
  if (open_range_ != 0) nvtxRangeEnd(open_range_);
  for (cudaEvent_t e : pool_) cudaEventDestroy(e);
}

void PhaseTimer::mark(Phase phase) {
  // Start/end ranges, not push/pop: a phase may begin inside one scope's range and end in another.
  // Named even while the timer is disabled, so a step being captured shows its phases too.
  if (open_range_ != 0) nvtxRangeEnd(open_range_);
  open_range_ = phase == Phase::Other ? 0 : nvtxRangeStartA(phase_name(phase));
  if (!enabled_) return;
  Mark m{phase, nullptr, std::chrono::steady_clock::now()};
  if (ctx_.is_cuda()) {
    if (marks_.size() == pool_.size()) {
      cudaEvent_t e;
      CUDA_CHECK(cudaEventCreate(&e));
      pool_.push_back(e);
    }
    m.event = pool_[marks_.size()];
    CUDA_CHECK(cudaEventRecord(m.event, ctx_.stream));
  }
  marks_.push_back(m);
}

std::array<double, static_cast<size_t>(Phase::Count)> PhaseTimer::collect() {
  std::array<double, static_cast<size_t>(Phase::Count)> seconds{};
  if (marks_.empty()) return seconds;
  mark(Phase::Other);  // closes the last phase
  ctx_.wait_for(marks_.back().event);
  for (size_t i = 0; i + 1 < marks_.size(); ++i) {
    double elapsed;
    if (ctx_.is_cuda()) {
      float ms = 0.0f;
      CUDA_CHECK(cudaEventElapsedTime(&ms, marks_[i].event, marks_[i + 1].event));
      elapsed = ms / 1e3;
    } else {
      elapsed = std::chrono::duration<double>(marks_[i + 1].time - marks_[i].time).count();
    }
    seconds[static_cast<size_t>(marks_[i].phase)] += elapsed;
  }
  marks_.clear();
  return seconds;
}
