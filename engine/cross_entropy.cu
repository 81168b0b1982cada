// Softmax cross-entropy: a row per thread (batches are small), one block, deterministic sums.
#include "engine/cross_entropy.h"

#include <cmath>

#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

// The loss and gradient of one row; returns whether the top-1 prediction was right.
// Shared by the CPU loop and the kernel so both compute exactly the same thing.
__host__ __device__ inline bool cross_entropy_row(float* dlogits, float* loss, const float* logits, int label,
                                                  int classes, float scale) {
  float max_logit = logits[0];
  int argmax = 0;
  for (int j = 1; j < classes; ++j)
    if (logits[j] > max_logit) {
      max_logit = logits[j];
      argmax = j;
    }
  float sum = 0.0f;
  for (int j = 0; j < classes; ++j) sum += expf(logits[j] - max_logit);
  const float log_sum = logf(sum);
  *loss = log_sum - (logits[label] - max_logit);
  for (int j = 0; j < classes; ++j) {
    const float p = expf(logits[j] - max_logit - log_sum);
    dlogits[j] = (p - (j == label ? 1.0f : 0.0f)) * scale;
  }
  return argmax == label;
}

__global__ void softmax_cross_entropy_kernel(float* dlogits, float* stats, const float* logits,
                                             const int32_t* labels, int n, int classes) {
  __shared__ float scratch[32];
  float loss_sum = 0.0f, correct = 0.0f;
  for (int row = threadIdx.x; row < n; row += blockDim.x) {
    float loss;
    const long offset = static_cast<long>(row) * classes;
    correct += cross_entropy_row(dlogits + offset, &loss, logits + offset, labels[row], classes, 1.0f / n);
    loss_sum += loss;
  }
  loss_sum = block_sum(loss_sum, scratch);
  correct = block_sum(correct, scratch);
  if (threadIdx.x == 0) {
    stats[0] += loss_sum;
    stats[1] += correct;
  }
}

}  // namespace

void softmax_cross_entropy(Context& ctx, float* dlogits, float* stats, const float* logits, const int32_t* labels,
                           int n, int classes) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda()) {
    for (int row = 0; row < n; ++row) {
      CHECK(labels[row] >= 0 && labels[row] < classes, "label %d outside [0, %d)", labels[row], classes);
      float loss;
      const long offset = static_cast<long>(row) * classes;
      stats[1] += cross_entropy_row(dlogits + offset, &loss, logits + offset, labels[row], classes, 1.0f / n);
      stats[0] += loss;
    }
    return;
  }
  softmax_cross_entropy_kernel<<<1, kThreads, 0, ctx.stream>>>(dlogits, stats, logits, labels, n, classes);
  CUDA_CHECK_LAUNCH();
}
