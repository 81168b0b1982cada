// The step clock: a host upload to set it, a one-thread kernel to advance it.
#include "engine/step_clock.h"

#include "engine/check.h"
#include "engine/host_device.h"
#include "engine/nvtx.h"

namespace {

// Past the last step the rate stays at the last one: the final advance points one step beyond.
HOST_DEVICE inline int64_t rate_index(int64_t step, int64_t steps) { return step < steps ? step : steps - 1; }

HOST_DEVICE inline StepPosition position_of(int64_t step, float rate, int64_t steps_per_epoch) {
  return StepPosition{step, step / steps_per_epoch, step % steps_per_epoch, rate};
}

__global__ void advance_kernel(StepPosition* position, const float* rates, int64_t steps, int64_t steps_per_epoch) {
  const int64_t next = position->step + 1;
  *position = position_of(next, rates[rate_index(next, steps)], steps_per_epoch);
}

}  // namespace

StepClock::StepClock(Context& ctx, const std::vector<float>& rates, long steps_per_epoch)
    : rates_(ctx, rates.size()), position_(ctx, 1), steps_per_epoch_(steps_per_epoch) {
  CHECK(!rates.empty() && steps_per_epoch > 0, "a step clock of %zu steps, %ld per epoch", rates.size(),
        steps_per_epoch);
  ctx.upload(rates_.data(), rates.data(), rates.size() * sizeof(float));
  set(ctx, 0);
}

void StepClock::set(Context& ctx, long step) {
  float rate = 0.0f;  // the one rate the host needs, read back from the table
  ctx.download(&rate, rates_.data() + rate_index(step, static_cast<int64_t>(rates_.size())), sizeof rate);
  const StepPosition p = position_of(step, rate, steps_per_epoch_);
  ctx.upload(position_.data(), &p, sizeof p);
  ctx.synchronize();  // the upload reads `p`, which lives on this stack frame
}

void StepClock::advance(Context& ctx) {
  NVTX_RANGE("step_clock_advance");
  const int64_t steps = static_cast<int64_t>(rates_.size());
  if (!ctx.is_cuda()) {
    const int64_t next = position_.data()->step + 1;
    *position_.data() = position_of(next, rates_.data()[rate_index(next, steps)], steps_per_epoch_);
    return;
  }
  advance_kernel<<<1, 1, 0, ctx.stream>>>(position_.data(), rates_.data(), steps, steps_per_epoch_);
  CUDA_CHECK_LAUNCH();
}
