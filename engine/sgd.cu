// The fused SGD update: one shared element rule, a CPU loop and a grid-stride kernel.
#include "engine/sgd.h"

#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

__host__ __device__ inline void sgd_element(const SgdConfig& c, float lr, float* x, float g, float* m) {
  float d = g + c.weight_decay * *x;
  if (c.momentum != 0.0f) {
    *m = c.momentum * *m + d;
    d = c.nesterov ? d + c.momentum * *m : *m;
  }
  *x -= lr * d;
}

__global__ void sgd_update_kernel(SgdConfig config, const float* lr, float* params, const float* grad,
                                  float* momentum_buffer, size_t n) {
  const float rate = *lr;
  float unused = 0.0f;
  for (size_t i : grid_stride<size_t>(n))
    sgd_element(config, rate, &params[i], grad[i], momentum_buffer != nullptr ? &momentum_buffer[i] : &unused);
}

}  // namespace

void sgd_update(Context& ctx, const SgdConfig& config, const float* lr, float* params, const float* grad,
                float* momentum_buffer, size_t n) {
  NVTX_FUNCTION();
  CHECK(config.momentum == 0.0f || momentum_buffer != nullptr, "momentum %g needs a momentum buffer",
        config.momentum);
  if (!ctx.is_cuda()) {
    const float rate = *lr;
    if (momentum_buffer == nullptr)
      cpu_for_each(n, [&](size_t i) {
        float unused = 0.0f;
        sgd_element(config, rate, &params[i], grad[i], &unused);
      });
    else
      cpu_for_each(n, [&](size_t i) { sgd_element(config, rate, &params[i], grad[i], &momentum_buffer[i]); });
    return;
  }
  sgd_update_kernel<<<grid_size(n), kThreads, 0, ctx.stream>>>(config, lr, params, grad, momentum_buffer, n);
  CUDA_CHECK_LAUNCH();
}
