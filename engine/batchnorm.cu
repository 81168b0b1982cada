// Batch normalisation: CPU reference (double accumulation) and CUDA kernels (one block per channel).
#include "engine/batchnorm.h"

#include <cmath>

#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

// Element j of channel ch, counting over the (N, H*W) plane of that channel.
inline __host__ __device__ long channel_index(const BatchNormShape& s, int ch, long j) {
  const long image = j / s.hw, pixel = j % s.hw;
  return (image * s.c + ch) * s.hw + pixel;
}

// ---------------------------------------------------------------------------------------------
// CPU reference

void batchnorm_forward_train_cpu(const BatchNormShape& s, const BatchNormParams& p, float* y, const float* x,
                                 const float* gamma, const float* beta, float* saved_mean,
                                 float* saved_inv_std, float* running_mean, float* running_var) {
  const long m = s.per_channel();
  for (int ch = 0; ch < s.c; ++ch) {
    double sum = 0.0;
    for (long j = 0; j < m; ++j) sum += x[channel_index(s, ch, j)];
    const double mean = sum / m;
    double squares = 0.0;
    for (long j = 0; j < m; ++j) {
      const double d = x[channel_index(s, ch, j)] - mean;
      squares += d * d;
    }
    const double var = squares / m;
    const float inv_std = static_cast<float>(1.0 / std::sqrt(var + p.eps));
    for (long j = 0; j < m; ++j) {
      const long i = channel_index(s, ch, j);
      y[i] = gamma[ch] * ((x[i] - static_cast<float>(mean)) * inv_std) + beta[ch];
    }
    saved_mean[ch] = static_cast<float>(mean);
    saved_inv_std[ch] = inv_std;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * static_cast<float>(mean);
    running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
  }
}

void batchnorm_forward_eval_cpu(const BatchNormShape& s, const BatchNormParams& p, float* y, const float* x,
                                const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var) {
  for (long i = 0; i < static_cast<long>(s.n) * s.c * s.hw; ++i) {
    const int ch = static_cast<int>((i / s.hw) % s.c);
    const float inv_std = 1.0f / std::sqrt(running_var[ch] + p.eps);
    y[i] = gamma[ch] * ((x[i] - running_mean[ch]) * inv_std) + beta[ch];
  }
}

void batchnorm_backward_cpu(const BatchNormShape& s, float* dx, float* dgamma, float* dbeta, const float* dy,
                            const float* x, const float* gamma, const float* saved_mean,
                            const float* saved_inv_std) {
  const long m = s.per_channel();
  for (int ch = 0; ch < s.c; ++ch) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (long j = 0; j < m; ++j) {
      const long i = channel_index(s, ch, j);
      sum_dy += dy[i];
      sum_dy_xhat += static_cast<double>(dy[i]) * ((x[i] - saved_mean[ch]) * saved_inv_std[ch]);
    }
    dbeta[ch] = static_cast<float>(sum_dy);
    dgamma[ch] = static_cast<float>(sum_dy_xhat);
    // dx = gamma * inv_std / m * (m * dy - sum(dy) - xhat * sum(dy * xhat))
    const float scale = gamma[ch] * saved_inv_std[ch] / m;
    for (long j = 0; j < m; ++j) {
      const long i = channel_index(s, ch, j);
      const float x_hat = (x[i] - saved_mean[ch]) * saved_inv_std[ch];
      dx[i] = scale * (m * dy[i] - static_cast<float>(sum_dy) - x_hat * static_cast<float>(sum_dy_xhat));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CUDA: grid = channels, each block reduces its channel in two passes (mean, then squared
// deviations: no cancellation from E[x^2] - E[x]^2), then writes.

constexpr int kChannelThreads = 512;

__global__ void batchnorm_forward_train_kernel(BatchNormShape s, BatchNormParams p, float* y, const float* x,
                                               const float* gamma, const float* beta, float* saved_mean,
                                               float* saved_inv_std, float* running_mean, float* running_var) {
  __shared__ float scratch[32];
  const int ch = blockIdx.x;
  const long m = s.per_channel();
  float sum = 0.0f;
  for (long j = threadIdx.x; j < m; j += blockDim.x) sum += x[channel_index(s, ch, j)];
  const float mean = block_sum(sum, scratch) / m;
  float squares = 0.0f;
  for (long j = threadIdx.x; j < m; j += blockDim.x) {
    const float d = x[channel_index(s, ch, j)] - mean;
    squares += d * d;
  }
  const float var = block_sum(squares, scratch) / m;
  const float inv_std = rsqrtf(var + p.eps);
  const float g = gamma[ch], b = beta[ch];
  for (long j = threadIdx.x; j < m; j += blockDim.x) {
    const long i = channel_index(s, ch, j);
    y[i] = g * ((x[i] - mean) * inv_std) + b;
  }
  if (threadIdx.x == 0) {
    saved_mean[ch] = mean;
    saved_inv_std[ch] = inv_std;
    const float unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * mean;
    running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * unbiased;
  }
}

__global__ void batchnorm_forward_eval_kernel(BatchNormShape s, BatchNormParams p, float* y, const float* x,
                                              const float* gamma, const float* beta, const float* running_mean,
                                              const float* running_var) {
  const long total = static_cast<long>(s.n) * s.c * s.hw;
  for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<long>(gridDim.x) * blockDim.x) {
    const int ch = static_cast<int>((i / s.hw) % s.c);
    const float inv_std = rsqrtf(running_var[ch] + p.eps);
    y[i] = gamma[ch] * ((x[i] - running_mean[ch]) * inv_std) + beta[ch];
  }
}

__global__ void batchnorm_backward_kernel(BatchNormShape s, float* dx, float* dgamma, float* dbeta,
                                          const float* dy, const float* x, const float* gamma,
                                          const float* saved_mean, const float* saved_inv_std) {
  __shared__ float scratch[32];
  const int ch = blockIdx.x;
  const long m = s.per_channel();
  const float mean = saved_mean[ch], inv_std = saved_inv_std[ch];
  float sum_dy = 0.0f, sum_dy_xhat = 0.0f;
  for (long j = threadIdx.x; j < m; j += blockDim.x) {
    const long i = channel_index(s, ch, j);
    sum_dy += dy[i];
    sum_dy_xhat += dy[i] * ((x[i] - mean) * inv_std);
  }
  sum_dy = block_sum(sum_dy, scratch);
  sum_dy_xhat = block_sum(sum_dy_xhat, scratch);
  const float scale = gamma[ch] * inv_std / m;
  for (long j = threadIdx.x; j < m; j += blockDim.x) {
    const long i = channel_index(s, ch, j);
    const float x_hat = (x[i] - mean) * inv_std;
    dx[i] = scale * (m * dy[i] - sum_dy - x_hat * sum_dy_xhat);
  }
  if (threadIdx.x == 0) {
    dbeta[ch] = sum_dy;
    dgamma[ch] = sum_dy_xhat;
  }
}

}  // namespace

void batchnorm_forward_train(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, float* y,
                             const float* x, const float* gamma, const float* beta, float* saved_mean,
                             float* saved_inv_std, float* running_mean, float* running_var) {
  NVTX_RANGE("batchnorm_forward_train");
  if (!ctx.is_cuda())
    return batchnorm_forward_train_cpu(shape, params, y, x, gamma, beta, saved_mean, saved_inv_std, running_mean,
                                       running_var);
  batchnorm_forward_train_kernel<<<shape.c, kChannelThreads, 0, ctx.stream>>>(
      shape, params, y, x, gamma, beta, saved_mean, saved_inv_std, running_mean, running_var);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_forward_eval(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, float* y,
                            const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var) {
  NVTX_RANGE("batchnorm_forward_eval");
  if (!ctx.is_cuda())
    return batchnorm_forward_eval_cpu(shape, params, y, x, gamma, beta, running_mean, running_var);
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  batchnorm_forward_eval_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(shape, params, y, x, gamma, beta,
                                                                             running_mean, running_var);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_backward(Context& ctx, const BatchNormShape& shape, float* dx, float* dgamma, float* dbeta,
                        const float* dy, const float* x, const float* gamma, const float* saved_mean,
                        const float* saved_inv_std) {
  NVTX_RANGE("batchnorm_backward");
  if (!ctx.is_cuda())
    return batchnorm_backward_cpu(shape, dx, dgamma, dbeta, dy, x, gamma, saved_mean, saved_inv_std);
  batchnorm_backward_kernel<<<shape.c, kChannelThreads, 0, ctx.stream>>>(shape, dx, dgamma, dbeta, dy, x, gamma,
                                                                         saved_mean, saved_inv_std);
  CUDA_CHECK_LAUNCH();
}
