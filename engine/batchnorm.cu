// Batch normalisation: CPU reference (double accumulation) and CUDA kernels (partial sums per chunk).
#include "engine/batchnorm.h"

#include <cmath>

#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

HOST_DEVICE inline float activate(Activation a, float v) { return a == Activation::ReLU ? relu(v) : v; }

// v + residual[i], or v itself (not v + 0, which would turn -0 into +0) without a residual.
HOST_DEVICE inline float plus_residual(float v, const float* residual, long i) {
  return residual != nullptr ? v + residual[i] : v;
}

// The gradient reaching the normalisation: dy, through the fused ReLU when there is one (y != null).
HOST_DEVICE inline float normalized_gradient(const float* dy, const float* y, long i) {
  return y != nullptr ? relu_gradient(dy[i], y[i]) : dy[i];
}

// Element j of channel ch, counting over the (N, H*W) plane of that channel.
inline __host__ __device__ long channel_index(const BatchNormShape& s, int ch, long j) {
  const long image = j / s.hw, pixel = j % s.hw;
  return (image * s.c + ch) * s.hw + pixel;
}

// ---------------------------------------------------------------------------------------------
// CPU reference

void batchnorm_forward_train_cpu(const BatchNormShape& s, const BatchNormParams& p, float* y, const float* x,
                                 const float* residual, const float* gamma, const float* beta, float* saved_mean,
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
      y[i] = activate(p.activation,
                      plus_residual(gamma[ch] * ((x[i] - static_cast<float>(mean)) * inv_std) + beta[ch], residual, i));
    }
    saved_mean[ch] = static_cast<float>(mean);
    saved_inv_std[ch] = inv_std;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * static_cast<float>(mean);
    running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
  }
}

void batchnorm_forward_eval_cpu(const BatchNormShape& s, const BatchNormParams& p, float* y, const float* x,
                                const float* residual, const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var) {
  for (long i = 0; i < static_cast<long>(s.n) * s.c * s.hw; ++i) {
    const int ch = static_cast<int>((i / s.hw) % s.c);
    const float inv_std = 1.0f / std::sqrt(running_var[ch] + p.eps);
    y[i] = activate(p.activation, plus_residual(gamma[ch] * ((x[i] - running_mean[ch]) * inv_std) + beta[ch], residual, i));
  }
}

void batchnorm_backward_cpu(const BatchNormShape& s, float* dx, float* dgamma, float* dbeta, float* d_residual,
                            const float* dy, const float* y, const float* x, const float* gamma,
                            const float* saved_mean, const float* saved_inv_std) {
  const long m = s.per_channel();
  for (int ch = 0; ch < s.c; ++ch) {
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (long j = 0; j < m; ++j) {
      const long i = channel_index(s, ch, j);
      const float g = normalized_gradient(dy, y, i);
      sum_dy += g;
      sum_dy_xhat += static_cast<double>(g) * ((x[i] - saved_mean[ch]) * saved_inv_std[ch]);
    }
    dbeta[ch] = static_cast<float>(sum_dy);
    dgamma[ch] = static_cast<float>(sum_dy_xhat);
    // dx = gamma * inv_std / m * (m * dy - sum(dy) - xhat * sum(dy * xhat))
    const float scale = gamma[ch] * saved_inv_std[ch] / m;
    for (long j = 0; j < m; ++j) {
      const long i = channel_index(s, ch, j);
      const float x_hat = (x[i] - saved_mean[ch]) * saved_inv_std[ch], g = normalized_gradient(dy, y, i);
      dx[i] = scale * (m * g - static_cast<float>(sum_dy) - x_hat * static_cast<float>(sum_dy_xhat));
      if (d_residual != nullptr) d_residual[i] = g;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CUDA. A channel's statistics are sums over its N x HW plane. Every channel is cut into chunks
// of kChunk elements; a grid of (chunks, channels) blocks writes one partial sum pair per chunk,
// and a second kernel adds each channel's partials in a fixed order (in double), so that all SMs
// share the reduction and the result is the same on every run. A third kernel is element-wise.

constexpr int kChunk = 4096;

int chunks_per_channel(const BatchNormShape& s) { return static_cast<int>((s.per_channel() + kChunk - 1) / kChunk); }

// Flat NCHW index of element j of channel ch (32-bit: batches stay far below 2^31 elements).
__device__ inline unsigned channel_element(const BatchNormShape& s, int ch, unsigned j) {
  const unsigned image = j / s.hw, pixel = j - image * s.hw;
  return (image * s.c + ch) * s.hw + pixel;
}

// Forward statistics about a shift K = the channel's first element: sum(x - K) and sum((x - K)^2).
// The shift keeps the one-pass variance free of cancellation when the mean is far from zero.
struct ShiftedMoments {
  const float* x;
  __device__ float2 operator()(const BatchNormShape& s, int ch, unsigned i) const {
    const float d = x[i] - x[channel_element(s, ch, 0)];
    return make_float2(d, d * d);
  }
};

// Backward sums: sum(g) and sum(g * x_hat), g = dy through the fused ReLU if any (y != null).
struct GradientSums {
  const float *dy, *y, *x, *mean, *inv_std;
  __device__ float2 operator()(const BatchNormShape&, int ch, unsigned i) const {
    const float g = normalized_gradient(dy, y, i);
    return make_float2(g, g * ((x[i] - mean[ch]) * inv_std[ch]));
  }
};

template <typename Term>
__global__ void channel_partials_kernel(BatchNormShape s, Term term, float2* partials) {
  __shared__ float scratch[32];
  const int ch = blockIdx.y, chunk = blockIdx.x;
  const unsigned m = static_cast<unsigned>(s.per_channel());
  const unsigned begin = chunk * kChunk, end = min(m, begin + kChunk);
  float a = 0.0f, b = 0.0f;
  for (unsigned j = begin + threadIdx.x; j < end; j += blockDim.x) {
    const float2 t = term(s, ch, channel_element(s, ch, j));
    a += t.x;
    b += t.y;
  }
  a = block_sum(a, scratch);
  b = block_sum(b, scratch);
  if (threadIdx.x == 0) partials[ch * gridDim.x + chunk] = make_float2(a, b);
}

__device__ inline double2 add_partials(const float2* partials, int ch, int chunks) {
  double a = 0.0, b = 0.0;
  for (int k = 0; k < chunks; ++k) {
    a += partials[ch * chunks + k].x;
    b += partials[ch * chunks + k].y;
  }
  return make_double2(a, b);
}

__global__ void batchnorm_statistics_kernel(BatchNormShape s, BatchNormParams p, const float* x, const float2* partials,
                                            int chunks, float* saved_mean, float* saved_inv_std, float* running_mean,
                                            float* running_var) {
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= s.c) return;
  const double m = static_cast<double>(s.per_channel());
  const double2 sums = add_partials(partials, ch, chunks);
  const double shifted_mean = sums.x / m;
  const double var = fmax(sums.y / m - shifted_mean * shifted_mean, 0.0);
  const float mean = static_cast<float>(x[channel_element(s, ch, 0)] + shifted_mean);
  saved_mean[ch] = mean;
  saved_inv_std[ch] = static_cast<float>(1.0 / sqrt(var + p.eps));
  const double unbiased = m > 1 ? var * m / (m - 1) : var;
  running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * mean;
  running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
}

__global__ void batchnorm_gradient_sums_kernel(BatchNormShape s, const float2* partials, int chunks, float* dgamma,
                                               float* dbeta) {
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;
  if (ch >= s.c) return;
  const double2 sums = add_partials(partials, ch, chunks);
  dbeta[ch] = static_cast<float>(sums.x);
  dgamma[ch] = static_cast<float>(sums.y);
}

// y = gamma * (x - mean) * inv_std + beta with per-channel mean and inv_std (batch or running).
__global__ void batchnorm_normalize_kernel(BatchNormShape s, float* y, const float* x, const float* residual,
                                           const float* gamma, const float* beta, const float* mean,
                                           const float* inv_std, const float* running_var, float eps,
                                           Activation activation) {
  const unsigned total = static_cast<unsigned>(s.n) * s.c * s.hw;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int ch = static_cast<int>((i / s.hw) % s.c);
    const float scale = inv_std != nullptr ? inv_std[ch] : rsqrtf(running_var[ch] + eps);
    y[i] = activate(activation, plus_residual(gamma[ch] * ((x[i] - mean[ch]) * scale) + beta[ch], residual, i));
  }
}

__global__ void batchnorm_input_gradient_kernel(BatchNormShape s, float* dx, float* d_residual, const float* dy,
                                                const float* y, const float* x, const float* gamma, const float* mean,
                                                const float* inv_std, const float* dgamma, const float* dbeta) {
  const unsigned total = static_cast<unsigned>(s.n) * s.c * s.hw;
  const float m = static_cast<float>(s.per_channel());
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const int ch = static_cast<int>((i / s.hw) % s.c);
    const float x_hat = (x[i] - mean[ch]) * inv_std[ch];
    const float g = normalized_gradient(dy, y, i);
    dx[i] = gamma[ch] * inv_std[ch] / m * (m * g - dbeta[ch] - x_hat * dgamma[ch]);
    if (d_residual != nullptr) d_residual[i] = g;
  }
}

template <typename Term>
const float2* channel_partials(Context& ctx, const BatchNormShape& s, const Term& term) {
  const int chunks = chunks_per_channel(s);
  auto* partials = static_cast<float2*>(ctx.workspace(sizeof(float2) * chunks * s.c));
  channel_partials_kernel<<<dim3(chunks, s.c), kThreads, 0, ctx.stream>>>(s, term, partials);
  CUDA_CHECK_LAUNCH();
  return partials;
}

void check_cuda_shape(const BatchNormShape& s) {
  CHECK(s.n > 0 && s.c > 0 && s.hw > 0, "batchnorm of an empty tensor");
  CHECK(static_cast<double>(s.n) * s.c * s.hw < 2147483648.0, "batchnorm of %d x %d x %d: over 2^31 elements", s.n,
        s.c, s.hw);
  CHECK(s.c <= 65535, "batchnorm of %d channels: over the grid limit", s.c);
}

}  // namespace

void batchnorm_forward_train(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, float* y,
                             const float* x, const float* residual, const float* gamma, const float* beta,
                             float* saved_mean, float* saved_inv_std, float* running_mean, float* running_var) {
  NVTX_RANGE("batchnorm_forward_train");
  if (!ctx.is_cuda())
    return batchnorm_forward_train_cpu(shape, params, y, x, residual, gamma, beta, saved_mean, saved_inv_std,
                                       running_mean, running_var);
  check_cuda_shape(shape);
  const float2* partials = channel_partials(ctx, shape, ShiftedMoments{x});
  batchnorm_statistics_kernel<<<grid_size(shape.c), kThreads, 0, ctx.stream>>>(
      shape, params, x, partials, chunks_per_channel(shape), saved_mean, saved_inv_std, running_mean, running_var);
  CUDA_CHECK_LAUNCH();
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  batchnorm_normalize_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(
      shape, y, x, residual, gamma, beta, saved_mean, saved_inv_std, nullptr, params.eps, params.activation);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_forward_eval(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, float* y,
                            const float* x, const float* residual, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var) {
  NVTX_RANGE("batchnorm_forward_eval");
  if (!ctx.is_cuda())
    return batchnorm_forward_eval_cpu(shape, params, y, x, residual, gamma, beta, running_mean, running_var);
  check_cuda_shape(shape);
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  batchnorm_normalize_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(
      shape, y, x, residual, gamma, beta, running_mean, nullptr, running_var, params.eps, params.activation);
  CUDA_CHECK_LAUNCH();
}

void batchnorm_backward(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, float* dx,
                        float* dgamma, float* dbeta, float* d_residual, const float* dy, const float* y,
                        const float* x, const float* gamma, const float* saved_mean, const float* saved_inv_std) {
  NVTX_RANGE("batchnorm_backward");
  CHECK((params.activation == Activation::ReLU) == (y != nullptr), "batchnorm backward: pass y exactly when ReLU is fused");
  if (!ctx.is_cuda())
    return batchnorm_backward_cpu(shape, dx, dgamma, dbeta, d_residual, dy, y, x, gamma, saved_mean, saved_inv_std);
  check_cuda_shape(shape);
  const float2* partials = channel_partials(ctx, shape, GradientSums{dy, y, x, saved_mean, saved_inv_std});
  batchnorm_gradient_sums_kernel<<<grid_size(shape.c), kThreads, 0, ctx.stream>>>(
      shape, partials, chunks_per_channel(shape), dgamma, dbeta);
  CUDA_CHECK_LAUNCH();
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  batchnorm_input_gradient_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(
      shape, dx, d_residual, dy, y, x, gamma, saved_mean, saved_inv_std, dgamma, dbeta);
  CUDA_CHECK_LAUNCH();
}
