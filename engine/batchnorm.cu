// Batch normalisation: CPU loops (double accumulation, threads over planes) and CUDA kernels (partial
// sums per chunk), each templated on the activations' element type (float32 NCHW or bf16 NHWC);
// the bf16 NHWC tiling and packed kernels are in engine/batchnorm_channels_last.cuh.
#include "engine/batchnorm.h"

#include <cmath>
#include <type_traits>

#include "engine/activation_layout.h"
#include "engine/batchnorm_channels_last.cuh"
#include "engine/batchnorm_rules.h"
#include "engine/check.h"
#include "engine/cpu_loop.h"
#include "engine/launch.h"
#include "engine/nvtx.h"

namespace {

// ---------------------------------------------------------------------------------------------
// CPU: the statistics are sums over each (image, channel) plane, one plane per task on the rank's
// threads, which in NCHW streams through memory in order; a plane's sum is vectorised, in double;
// then each channel adds its planes in image order. So the bits do not depend on how many threads
// there are. As on the GPU, the forward statistics take one
// pass, about a shift (the channel's first element), and the output a second.

// Two sums of one plane or channel.
struct SumPair {
  double first = 0.0, second = 0.0;
};

// The flat index of channel ch's first pixel in `image`, and the distance between its pixels.
template <typename T>
inline long plane_start(const BatchNormShape& s, long image, int ch) {
  return ActivationLayout<T>::index(image, ch, 0, s.c, s.hw);
}
template <typename T>
constexpr long pixel_step(const BatchNormShape& s) {
  return std::is_same<T, uint16_t>::value ? s.c : 1;
}

// Calls each(plane, ch, start) for every plane (plane = image * c + ch; start: its first flat
// index), the planes spread over the threads in memory order.
template <typename T, typename Each>
void for_each_plane(const BatchNormShape& s, const Each& each) {
  const long planes = static_cast<long>(s.n) * s.c;
#pragma omp parallel for schedule(static) if (planes * s.hw >= static_cast<long>(kCpuParallelFrom))
  for (long plane = 0; plane < planes; ++plane) {
    const int ch = static_cast<int>(plane % s.c);
    each(plane, ch, plane_start<T>(s, plane / s.c, ch));
  }
}

// Calls write(i) for every flat index i, with write = channel_write(ch) made once per plane (so
// what is constant per channel is loaded outside the vectorised loop).
template <typename T, typename ChannelWrite>
void for_each_element(const BatchNormShape& s, const ChannelWrite& channel_write) {
  const long step = pixel_step<T>(s);
  for_each_plane<T>(s, [&](long, int ch, long start) {
    const auto write = channel_write(ch);
#pragma omp simd
    for (long p = 0; p < s.hw; ++p) write(start + p * step);
  });
}

// The per-channel sums of the two terms that term = channel_term(ch) gives as a SumPair term(i)
// for each flat index i of channel ch; `partials` holds n x c SumPairs. A plane is summed in
// kSumLanes interleaved lanes (lane l takes pixels l, l + kSumLanes, ...; the tail goes to lane 0),
// and the lanes are then added in order: one order on every machine, and one the compiler turns
// into vector code (an `omp simd` reduction over this lambda, g++ 12 leaves scalar).
constexpr int kSumLanes = 8;

template <typename T, typename ChannelTerm>
void channel_sums(const BatchNormShape& s, const ChannelTerm& channel_term, SumPair* partials, SumPair* sums) {
  const long step = pixel_step<T>(s);
  for_each_plane<T>(s, [&](long plane, int ch, long start) {
    const auto term = channel_term(ch);
    double a[kSumLanes] = {}, b[kSumLanes] = {};
    long p = 0;
    for (; p + kSumLanes <= s.hw; p += kSumLanes)
      for (int lane = 0; lane < kSumLanes; ++lane) {
        const SumPair t = term(start + (p + lane) * step);
        a[lane] += t.first;
        b[lane] += t.second;
      }
    for (; p < s.hw; ++p) {
      const SumPair t = term(start + p * step);
      a[0] += t.first;
      b[0] += t.second;
    }
    SumPair total;
    for (int lane = 0; lane < kSumLanes; ++lane) total.first += a[lane], total.second += b[lane];
    partials[plane] = total;
  });
  for (int ch = 0; ch < s.c; ++ch) sums[ch] = {};
  for (long image = 0; image < s.n; ++image)
    for (int ch = 0; ch < s.c; ++ch) {
      sums[ch].first += partials[image * s.c + ch].first;
      sums[ch].second += partials[image * s.c + ch].second;
    }
}

// Scratch for channel_sums: n x c plane partials, then c channel sums, from the context's
// workspace (it only grows, so a warm step allocates nothing).
struct SumScratch {
  SumPair* partials;
  SumPair* sums;
};
inline SumScratch sum_scratch(Context& ctx, const BatchNormShape& s) {
  auto* pairs = static_cast<SumPair*>(ctx.workspace(sizeof(SumPair) * (static_cast<size_t>(s.n) + 1) * s.c));
  return {pairs, pairs + static_cast<size_t>(s.n) * s.c};
}

// body(std::true_type) or body(std::false_type) as `flag` says: a loop in body is then compiled
// once with an optional operand and once without, so neither tests a pointer per element (a
// test the compiler will not vectorise).
template <typename Body>
inline void with_flag(bool flag, const Body& body) {
  if (flag)
    body(std::true_type{});
  else
    body(std::false_type{});
}

// y = normalized(x) with per-channel mean and scale (the batch's or the running ones).
template <bool kResidual, typename T>
void normalize_cpu(const BatchNormShape& s, Activation activation, T* y, const T* x, const T* residual,
                   const float* gamma, const float* beta, const float* mean, const float* inv_std) {
  for_each_element<T>(s, [&](int ch) {
    return [=, mean_c = mean[ch], inv_std_c = inv_std[ch], gamma_c = gamma[ch], beta_c = beta[ch]](long i) {
      store(y, i, normalized(load(x, i), mean_c, inv_std_c, gamma_c, beta_c, kResidual,
                             kResidual ? load(residual, i) : 0.0f, activation));
    };
  });
}

template <typename T>
void batchnorm_forward_train_cpu(Context& ctx, const BatchNormShape& s, const BatchNormParams& p, T* y, const T* x,
                                 const T* residual, const float* gamma, const float* beta, float* saved_mean,
                                 float* saved_inv_std, float* running_mean, float* running_var) {
  const SumScratch scratch = sum_scratch(ctx, s);
  const auto shift_of = [&](int ch) { return load(x, plane_start<T>(s, 0, ch)); };
  channel_sums<T>(
      s,
      [&](int ch) {
        return [x, shift = shift_of(ch)](long i) {
          const double d = load(x, i) - shift;
          return SumPair{d, d * d};
        };
      },
      scratch.partials, scratch.sums);
  const double m = static_cast<double>(s.per_channel());
  for (int ch = 0; ch < s.c; ++ch) {
    const double shifted_mean = scratch.sums[ch].first / m;
    const double var = std::fmax(scratch.sums[ch].second / m - shifted_mean * shifted_mean, 0.0);
    const float mean = static_cast<float>(shift_of(ch) + shifted_mean);
    saved_mean[ch] = mean;
    saved_inv_std[ch] = static_cast<float>(1.0 / std::sqrt(var + p.eps));
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * mean;
    running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
  }
  with_flag(residual != nullptr, [&](auto has_residual) {
    normalize_cpu<decltype(has_residual)::value>(s, p.activation, y, x, residual, gamma, beta, saved_mean,
                                                 saved_inv_std);
  });
}

template <typename T>
void batchnorm_forward_eval_cpu(Context& ctx, const BatchNormShape& s, const BatchNormParams& p, T* y, const T* x,
                                const T* residual, const float* gamma, const float* beta, const float* running_mean,
                                const float* running_var) {
  float* inv_std = static_cast<float*>(ctx.workspace(sizeof(float) * s.c));
  for (int ch = 0; ch < s.c; ++ch) inv_std[ch] = running_inv_std(running_var[ch], p.eps);
  with_flag(residual != nullptr, [&](auto has_residual) {
    normalize_cpu<decltype(has_residual)::value>(s, p.activation, y, x, residual, gamma, beta, running_mean, inv_std);
  });
}

// The gradient reaching the normalisation at element i: dy, through the ReLU when it is fused.
template <bool kFusedRelu, typename T>
inline float normalized_gradient_at(const T* dy, const T* y, long i) {
  return kFusedRelu ? relu_gradient(load(dy, i), load(y, i)) : load(dy, i);
}

template <bool kFusedRelu, bool kResidual, typename T>
void batchnorm_backward_cpu(Context& ctx, const BatchNormShape& s, T* dx, float* dgamma, float* dbeta, T* d_residual,
                            const T* dy, const T* y, const T* x, const float* gamma, const float* saved_mean,
                            const float* saved_inv_std) {
  const SumScratch scratch = sum_scratch(ctx, s);
  channel_sums<T>(
      s,
      [&](int ch) {
        return [=, mean = saved_mean[ch], inv_std = saved_inv_std[ch]](long i) {
          const float g = normalized_gradient_at<kFusedRelu>(dy, y, i);
          return SumPair{g, static_cast<double>(g) * ((load(x, i) - mean) * inv_std)};
        };
      },
      scratch.partials, scratch.sums);
  for (int ch = 0; ch < s.c; ++ch) {
    dbeta[ch] = static_cast<float>(scratch.sums[ch].first);
    dgamma[ch] = static_cast<float>(scratch.sums[ch].second);
  }
  // What the GPU uses: the sums as stored in dbeta and dgamma.
  const float m = static_cast<float>(s.per_channel());
  for_each_element<T>(s, [&](int ch) {
    return [=, mean = saved_mean[ch], inv_std = saved_inv_std[ch], gamma_c = gamma[ch], sum_g = dbeta[ch],
            sum_g_x_hat = dgamma[ch]](long i) {
      const float g = normalized_gradient_at<kFusedRelu>(dy, y, i);
      store(dx, i, input_gradient(g, load(x, i), mean, inv_std, gamma_c, m, sum_g, sum_g_x_hat));
      if (kResidual) store(d_residual, i, g);
    };
  });
}

// ---------------------------------------------------------------------------------------------
// CUDA. A channel's statistics are sums over its N x HW plane, cut into chunks; one block writes
// one partial sum pair per chunk and channel, and a second kernel adds each channel's partials in
// a fixed order (in double), so that all SMs share the reduction and the result is the same on
// every run. A third kernel is element-wise.
// - NCHW: a channel's plane is contiguous; a grid of (chunks, channels) blocks, each block
//   striding through kChunk consecutive elements of its channel.
// - NHWC: a pixel's channels are contiguous; blocks tile the [rows, c] matrix as
//   ChannelsLastTiling says, reading eight channels per thread when c allows, and add their row
//   lanes in shared memory in a fixed order.

constexpr int kChunk = 4096;
template <typename T>
constexpr bool kChannelsLast = std::is_same<T, uint16_t>::value;

// Flat index of element j of channel ch in an NCHW tensor (32-bit).
__device__ inline unsigned channel_element(const BatchNormShape& s, int ch, unsigned j) {
  const unsigned image = j / s.hw, pixel = j - image * s.hw;
  return (image * s.c + ch) * s.hw + pixel;
}

// The terms a reduction sums, for `width` neighbouring channels from ch0 at once: channels()
// loads what is constant per channel once, accumulate() adds the terms of the elements from flat
// position i on.

// Forward statistics about a shift K = the channel's first element: sum(x - K) and sum((x - K)^2).
// The shift keeps the one-pass variance free of cancellation when the mean is far from zero.
template <typename T>
struct ShiftedMoments {
  const T* x;
  template <int width>
  struct Channels {
    float shift[width];
  };
  template <int width>
  __device__ Channels<width> channels(const BatchNormShape& s, int ch0) const {
    Channels<width> k;
    for (int j = 0; j < width; ++j) k.shift[j] = load(x, channel_index<T>(s, ch0 + j, 0));
    return k;
  }
  template <int width>
  __device__ void accumulate(const Channels<width>& k, unsigned i, float2 (&sums)[width]) const {
    float xs[width];
    load_values(x, i, xs);
    for (int j = 0; j < width; ++j) {
      const float d = xs[j] - k.shift[j];
      sums[j].x += d;
      sums[j].y += d * d;
    }
  }
};

// Backward sums: sum(g) and sum(g * x_hat), g = dy through the fused ReLU if any (y != null).
template <typename T>
struct GradientSums {
  const T *dy, *y, *x;
  const float *mean, *inv_std;
  template <int width>
  struct Channels {
    float mean[width], inv_std[width];
  };
  template <int width>
  __device__ Channels<width> channels(const BatchNormShape&, int ch0) const {
    Channels<width> k;
    for (int j = 0; j < width; ++j) {
      k.mean[j] = mean[ch0 + j];
      k.inv_std[j] = inv_std[ch0 + j];
    }
    return k;
  }
  template <int width>
  __device__ void accumulate(const Channels<width>& k, unsigned i, float2 (&sums)[width]) const {
    float dys[width], ys[width] = {}, xs[width];
    load_values(dy, i, dys);
    if (y != nullptr) load_values(y, i, ys);
    load_values(x, i, xs);
    for (int j = 0; j < width; ++j) {
      const float g = normalized_gradient(y != nullptr, dys[j], ys[j]);
      sums[j].x += g;
      sums[j].y += g * ((xs[j] - k.mean[j]) * k.inv_std[j]);
    }
  }
};

template <typename Term>
__global__ void channel_partials_nchw_kernel(BatchNormShape s, Term term, float2* partials) {
  __shared__ float scratch[32];
  const int ch = blockIdx.y, chunk = blockIdx.x;
  const unsigned m = static_cast<unsigned>(s.per_channel());
  const unsigned begin = chunk * kChunk, end = min(m, begin + kChunk);
  const auto k = term.template channels<1>(s, ch);
  float2 sum[1] = {make_float2(0.0f, 0.0f)};
  for (unsigned j = begin + threadIdx.x; j < end; j += blockDim.x) term.accumulate(k, channel_element(s, ch, j), sum);
  const float a = block_sum(sum[0].x, scratch);
  const float b = block_sum(sum[0].y, scratch);
  if (threadIdx.x == 0) partials[ch * gridDim.x + chunk] = make_float2(a, b);
}

// The sum of channel ch's partials in double, by one warp in a fixed order (each lane a strided
// run of chunks, then a shuffle tree), so that it is the same on every run. Lane 0 holds it.
__device__ inline double2 add_partials(const float2* partials, int ch, int chunks) {
  const int lane = threadIdx.x % 32;
  double a = 0.0, b = 0.0;
  for (int k = lane; k < chunks; k += 32) {
    a += partials[ch * chunks + k].x;
    b += partials[ch * chunks + k].y;
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, offset);
    b += __shfl_down_sync(0xffffffffu, b, offset);
  }
  return make_double2(a, b);
}

// One warp per channel (grid_size(c * 32) threads): the warp's lanes share a channel, so whole
// warps return together and the shuffles see all 32 lanes.
__device__ inline int warp_channel() { return static_cast<int>((blockIdx.x * blockDim.x + threadIdx.x) / 32); }

template <typename T>
__global__ void batchnorm_statistics_kernel(BatchNormShape s, BatchNormParams p, const T* x, const float2* partials,
                                            int chunks, float* saved_mean, float* saved_inv_std, float* running_mean,
                                            float* running_var) {
  const int ch = warp_channel();
  if (ch >= s.c) return;
  const double2 sums = add_partials(partials, ch, chunks);
  if (threadIdx.x % 32 != 0) return;
  const double m = static_cast<double>(s.per_channel());
  const double shifted_mean = sums.x / m;
  const double var = fmax(sums.y / m - shifted_mean * shifted_mean, 0.0);
  const float mean = static_cast<float>(load(x, channel_index<T>(s, ch, 0)) + shifted_mean);
  saved_mean[ch] = mean;
  saved_inv_std[ch] = static_cast<float>(1.0 / sqrt(var + p.eps));
  const double unbiased = m > 1 ? var * m / (m - 1) : var;
  running_mean[ch] = (1.0f - p.momentum) * running_mean[ch] + p.momentum * mean;
  running_var[ch] = (1.0f - p.momentum) * running_var[ch] + p.momentum * static_cast<float>(unbiased);
}

__global__ void batchnorm_gradient_sums_kernel(BatchNormShape s, const float2* partials, int chunks, float* dgamma,
                                               float* dbeta) {
  const int ch = warp_channel();
  if (ch >= s.c) return;
  const double2 sums = add_partials(partials, ch, chunks);
  if (threadIdx.x % 32 != 0) return;
  dbeta[ch] = static_cast<float>(sums.x);
  dgamma[ch] = static_cast<float>(sums.y);
}

// y = gamma * (x - mean) * inv_std + beta with per-channel mean and inv_std (batch or running).
template <typename T>
__global__ void batchnorm_normalize_kernel(BatchNormShape s, T* y, const T* x, const T* residual, const float* gamma,
                                           const float* beta, const float* mean, const float* inv_std,
                                           const float* running_var, float eps, Activation activation) {
  const unsigned total = static_cast<unsigned>(s.n) * s.c * s.hw;
  for (unsigned i : grid_stride<unsigned>(total)) {
    const int ch = ActivationLayout<T>::channel(i, s.c, s.hw);
    const float scale = inv_std != nullptr ? inv_std[ch] : running_inv_std(running_var[ch], eps);
    store(y, i, normalized(load(x, i), mean[ch], scale, gamma[ch], beta[ch], residual != nullptr,
                           residual != nullptr ? load(residual, i) : 0.0f, activation));
  }
}

template <typename T>
__global__ void batchnorm_input_gradient_kernel(BatchNormShape s, T* dx, T* d_residual, const T* dy, const T* y,
                                                const T* x, const float* gamma, const float* mean,
                                                const float* inv_std, const float* dgamma, const float* dbeta) {
  const unsigned total = static_cast<unsigned>(s.n) * s.c * s.hw;
  const float m = static_cast<float>(s.per_channel());
  for (unsigned i : grid_stride<unsigned>(total)) {
    const int ch = ActivationLayout<T>::channel(i, s.c, s.hw);
    const float g = normalized_gradient(dy, y, i);
    store(dx, i, input_gradient(g, load(x, i), mean[ch], inv_std[ch], gamma[ch], m, dbeta[ch], dgamma[ch]));
    if (d_residual != nullptr) store(d_residual, i, g);
  }
}

// `inputs`: the activations `term` reads, which decide whether bf16 can be read in packs.
template <typename T, typename Term>
ChannelPartials channel_partials(Context& ctx, const BatchNormShape& s, const Term& term,
                                 std::initializer_list<const void*> inputs) {
  if constexpr (kChannelsLast<T>) {
    return packed(s, inputs) ? channels_last_partials<kBf16Pack>(ctx, s, term) : channels_last_partials<1>(ctx, s, term);
  } else {
    const int chunks = static_cast<int>((s.per_channel() + kChunk - 1) / kChunk);
    auto* sums = static_cast<float2*>(ctx.workspace(sizeof(float2) * chunks * s.c));
    channel_partials_nchw_kernel<<<dim3(chunks, s.c), kThreads, 0, ctx.stream>>>(s, term, sums);
    CUDA_CHECK_LAUNCH();
    return {sums, chunks};
  }
}

void check_cuda_shape(const BatchNormShape& s) {
  CHECK(s.n > 0 && s.c > 0 && s.hw > 0, "batchnorm of an empty tensor");
  CHECK(static_cast<double>(s.n) * s.c * s.hw < 2147483648.0, "batchnorm of %d x %d x %d: over 2^31 elements", s.n,
        s.c, s.hw);
  CHECK(s.c <= 65535, "batchnorm of %d channels: over the grid limit", s.c);
}

// y from x with per-channel statistics: the batch's (inv_std given) or the running ones (running_var).
template <typename T>
void normalize(Context& ctx, const BatchNormShape& shape, T* y, const T* x, const T* residual, const float* gamma,
               const float* beta, const float* mean, const float* inv_std, const float* running_var,
               const BatchNormParams& params) {
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  if constexpr (kChannelsLast<T>) {
    if (packed(shape, {y, x, residual})) {
      batchnorm_normalize_packed_kernel<<<grid_size(total / kBf16Pack), kThreads, 0, ctx.stream>>>(
          shape, y, x, residual, gamma, beta, mean, inv_std, running_var, params.eps, params.activation);
      CUDA_CHECK_LAUNCH();
      return;
    }
  }
  batchnorm_normalize_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(
      shape, y, x, residual, gamma, beta, mean, inv_std, running_var, params.eps, params.activation);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

template <typename T>
void batchnorm_forward_train(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* y,
                             const T* x, Optional<const T> residual, const float* gamma, const float* beta,
                             float* saved_mean, float* saved_inv_std, float* running_mean, float* running_var) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda())
    return batchnorm_forward_train_cpu(ctx, shape, params, y, x, residual, gamma, beta, saved_mean, saved_inv_std,
                                       running_mean, running_var);
  check_cuda_shape(shape);
  const ChannelPartials partials = channel_partials<T>(ctx, shape, ShiftedMoments<T>{x}, {x});
  batchnorm_statistics_kernel<<<grid_size(shape.c * 32L), kThreads, 0, ctx.stream>>>(
      shape, params, x, partials.sums, partials.chunks, saved_mean, saved_inv_std, running_mean, running_var);
  CUDA_CHECK_LAUNCH();
  normalize(ctx, shape, y, x, residual, gamma, beta, saved_mean, saved_inv_std, nullptr, params);
}

template <typename T>
void batchnorm_forward_eval(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* y,
                            const T* x, Optional<const T> residual, const float* gamma, const float* beta,
                            const float* running_mean, const float* running_var) {
  NVTX_FUNCTION();
  if (!ctx.is_cuda())
    return batchnorm_forward_eval_cpu(ctx, shape, params, y, x, residual, gamma, beta, running_mean, running_var);
  check_cuda_shape(shape);
  normalize(ctx, shape, y, x, residual, gamma, beta, running_mean, nullptr, running_var, params);
}

template <typename T>
void batchnorm_backward(Context& ctx, const BatchNormShape& shape, const BatchNormParams& params, T* dx, float* dgamma,
                        float* dbeta, Optional<T> d_residual, const T* dy, Optional<const T> y, const T* x,
                        const float* gamma, const float* saved_mean, const float* saved_inv_std) {
  NVTX_FUNCTION();
  CHECK((params.activation == Activation::ReLU) == (y != nullptr), "batchnorm backward: pass y exactly when ReLU is fused");
  if (!ctx.is_cuda())
    return with_flag(y != nullptr, [&](auto fused_relu) {
      with_flag(d_residual != nullptr, [&](auto has_residual) {
        batchnorm_backward_cpu<decltype(fused_relu)::value, decltype(has_residual)::value>(
            ctx, shape, dx, dgamma, dbeta, d_residual, dy, y, x, gamma, saved_mean, saved_inv_std);
      });
    });
  check_cuda_shape(shape);
  const ChannelPartials partials =
      channel_partials<T>(ctx, shape, GradientSums<T>{dy, y, x, saved_mean, saved_inv_std}, {dy, y, x});
  batchnorm_gradient_sums_kernel<<<grid_size(shape.c * 32L), kThreads, 0, ctx.stream>>>(
      shape, partials.sums, partials.chunks, dgamma, dbeta);
  CUDA_CHECK_LAUNCH();
  const size_t total = static_cast<size_t>(shape.n) * shape.c * shape.hw;
  if constexpr (kChannelsLast<T>) {
    if (packed(shape, {dx, d_residual, dy, y, x})) {
      batchnorm_input_gradient_packed_kernel<<<grid_size(total / kBf16Pack), kThreads, 0, ctx.stream>>>(
          shape, dx, d_residual, dy, y, x, gamma, saved_mean, saved_inv_std, dgamma, dbeta);
      CUDA_CHECK_LAUNCH();
      return;
    }
  }
  batchnorm_input_gradient_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(
      shape, dx, d_residual, dy, y, x, gamma, saved_mean, saved_inv_std, dgamma, dbeta);
  CUDA_CHECK_LAUNCH();
}

// The two element types of the activations (engine/batchnorm.h).
#define INSTANTIATE_BATCHNORM(T)                                                                                      \
  template void batchnorm_forward_train<T>(Context&, const BatchNormShape&, const BatchNormParams&, T*, const T*,      \
                                           Optional<const T>, const float*, const float*, float*, float*, float*,      \
                                           float*);                                                                    \
  template void batchnorm_forward_eval<T>(Context&, const BatchNormShape&, const BatchNormParams&, T*, const T*,       \
                                          Optional<const T>, const float*, const float*, const float*, const float*);  \
  template void batchnorm_backward<T>(Context&, const BatchNormShape&, const BatchNormParams&, T*, float*, float*,     \
                                      Optional<T>, const T*, Optional<const T>, const T*, const float*, const float*,  \
                                      const float*);
INSTANTIATE_BATCHNORM(float)
INSTANTIATE_BATCHNORM(uint16_t)
