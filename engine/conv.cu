// Convolution: the cuDNN path with per-shape plans, and the dispatch to the CPU's (engine/conv_cpu.h).
#include "engine/conv.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "engine/bf16.h"
#include "engine/check.h"
#include "engine/conv_cpu.h"
#include "engine/nvtx.h"

// ---------------------------------------------------------------------------------------------
// CPU: float32 on oneDNN (engine/conv_cpu.h); bf16 emulated on top of it.

namespace {

size_t input_count(const ConvShape& s) { return static_cast<size_t>(s.n) * s.c * s.h * s.w; }
size_t output_count(const ConvShape& s) { return static_cast<size_t>(s.n) * s.k * s.out_h() * s.out_w(); }
int output_pixels(const ConvShape& s) { return s.out_h() * s.out_w(); }

// The CPU's bf16 convolutions: bf16 activations and weights widened to float32 NCHW (exactly),
// float32 arithmetic, the result rounded to bf16.
std::vector<float> widened(Context& ctx, const uint16_t* nhwc, int n, int c, int hw) {
  std::vector<float> nchw(static_cast<size_t>(n) * c * hw);
  nhwc_bf16_to_nchw(ctx, nchw.data(), nhwc, n, c, hw);
  return nchw;
}

std::vector<float> widened_weights(Context& ctx, const ConvShape& s, const uint16_t* w) {
  return widened(ctx, w, s.k, s.c, s.r * s.s);
}

void conv2d_forward_bf16_cpu(Context& ctx, const ConvShape& s, uint16_t* y, const uint16_t* x, const uint16_t* w) {
  const std::vector<float> x_wide = widened(ctx, x, s.n, s.c, s.h * s.w), w_wide = widened_weights(ctx, s, w);
  std::vector<float> y_wide(output_count(s));
  conv2d_forward_cpu(ctx, s, y_wide.data(), x_wide.data(), w_wide.data());
  nchw_to_nhwc_bf16(ctx, y, y_wide.data(), s.n, s.k, output_pixels(s));
}

void conv2d_backward_data_bf16_cpu(Context& ctx, const ConvShape& s, uint16_t* dx, const uint16_t* dy,
                                   const uint16_t* w) {
  const std::vector<float> dy_wide = widened(ctx, dy, s.n, s.k, output_pixels(s)), w_wide = widened_weights(ctx, s, w);
  std::vector<float> dx_wide(input_count(s));
  conv2d_backward_data_cpu(ctx, s, dx_wide.data(), dy_wide.data(), w_wide.data());
  nchw_to_nhwc_bf16(ctx, dx, dx_wide.data(), s.n, s.c, s.h * s.w);
}

void conv2d_backward_filter_bf16_cpu(Context& ctx, const ConvShape& s, float* dw, const uint16_t* dy, const uint16_t* x) {
  const std::vector<float> dy_wide = widened(ctx, dy, s.n, s.k, output_pixels(s)), x_wide = widened(ctx, x, s.n, s.c, s.h * s.w);
  conv2d_backward_filter_cpu(ctx, s, dw, dy_wide.data(), x_wide.data());
  round_to_bf16_cpu(dw, s.weight_count());
}

// ---------------------------------------------------------------------------------------------
// cuDNN. Normally cudnnFind* times every algorithm once per shape and the fastest wins. With
// --deterministic the choice must not depend on timing either, so cuDNN's heuristic ranking
// (cudnnGet*_v7) is used instead, keeping only algorithms that are deterministic. Either way an
// algorithm must fit its workspace in kMaxWorkspace: the heuristic ranks without looking at
// memory (an FFT algorithm can ask for gigabytes), and the workspace is one buffer that grows to
// the largest plan's need.

constexpr int kMaxAlgorithms = 16;
constexpr size_t kMaxWorkspace = size_t{1} << 30;

// Whether a result's math may run under `precision`. cudnnFind times each algorithm in the math it
// reports: fp32 keeps only FMA math (default math allows TF32 tensor cores on Ampere and later, and
// a result timed that way would not be what fp32 runs); nothing converts operands down to fp16.
bool math_allowed(Precision precision, cudnnMathType_t math) {
  if (precision == Precision::FP32) return math == CUDNN_FMA_MATH;
  return math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// `query` fills up to kMaxAlgorithms results, best first; the first usable one is returned.
template <typename Perf, typename Query>
Perf choose_algorithm(const Context& ctx, bool deterministic, const Query& query, const char* what) {
  Perf results[kMaxAlgorithms];
  int count = 0;
  query(results, &count);
  for (int i = 0; i < count; ++i) {
    if (results[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && results[i].determinism != CUDNN_DETERMINISTIC) continue;
    if (!math_allowed(ctx.precision, results[i].mathType)) continue;
    if (results[i].memory > kMaxWorkspace) continue;
    return results[i];
  }
  fail_internal(__FILE__, __LINE__, "cuDNN found no usable %s algorithm%s within a %zu MiB workspace", what,
                deterministic ? " that is deterministic" : "", kMaxWorkspace >> 20);
}

cudnnConvolutionDescriptor_t convolution_descriptor(const ConvShape& s, cudnnMathType_t math) {
  cudnnConvolutionDescriptor_t desc;
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(desc, s.pad, s.pad, s.stride, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionMathType(desc, math));
  return desc;
}

// One direction of the plan: its algorithm (timed by `find`, or ranked by `heuristic` under
// --deterministic), its descriptor set to the math type cudnnFind timed the algorithm with, so that
// what runs is what was timed (fp32 keeps FMA math: math_allowed took only such results), and the
// workspace the algorithm needs.
template <typename Perf, typename Find, typename Heuristic, typename WorkspaceSize>
void plan_direction(const Context& ctx, const char* what, cudnnConvolutionDescriptor_t desc, const Find& find,
                    const Heuristic& heuristic, const WorkspaceSize& workspace_size, decltype(Perf::algo)* algo,
                    size_t* workspace) {
  const Perf chosen = ctx.deterministic ? choose_algorithm<Perf>(ctx, true, heuristic, what)
                                        : choose_algorithm<Perf>(ctx, false, find, what);
  *algo = chosen.algo;
  if (ctx.precision != Precision::FP32) CUDNN_CHECK(cudnnSetConvolutionMathType(desc, chosen.mathType));
  workspace_size(chosen.algo, workspace);
}

ConvPlan make_plan(Context& ctx, const ConvShape& s) {
  ConvPlan p;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x_desc));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y_desc));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w_desc));
  // bf16 activations are NHWC, the layout of cuDNN's tensor-core kernels, and so is the bf16 copy
  // of the weights; float32 ones stay NCHW. Accumulation is float32 either way.
  const bool bf16 = ctx.precision == Precision::BF16;
  const cudnnTensorFormat_t layout = bf16 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
  const cudnnDataType_t type = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x_desc, layout, type, s.n, s.c, s.h, s.w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y_desc, layout, type, s.n, s.k, s.out_h(), s.out_w()));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w_desc, type, layout, s.k, s.c, s.r, s.s));
  // FMA math excludes TF32 tensor cores, so fp32 results stay comparable with the CPU reference;
  // default math lets cuDNN use them (--precision tf32); bf16 runs on tensor cores.
  const cudnnMathType_t math = ctx.precision == Precision::FP32 ? CUDNN_FMA_MATH
                               : bf16                          ? CUDNN_TENSOR_OP_MATH
                                                               : CUDNN_DEFAULT_MATH;
  p.forward_desc = convolution_descriptor(s, math);
  p.backward_data_desc = convolution_descriptor(s, math);
  p.backward_filter_desc = convolution_descriptor(s, math);
  cudnnHandle_t h = ctx.cudnn;

  using Forward = cudnnConvolutionFwdAlgoPerf_t;
  plan_direction<Forward>(
      ctx, "forward convolution", p.forward_desc,
      [&](Forward* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p.x_desc, p.w_desc, p.forward_desc, p.y_desc, kMaxAlgorithms, n, r));
      },
      [&](Forward* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x_desc, p.w_desc, p.forward_desc, p.y_desc, kMaxAlgorithms, n, r));
      },
      [&](cudnnConvolutionFwdAlgo_t algo, size_t* bytes) {
        CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x_desc, p.w_desc, p.forward_desc, p.y_desc, algo, bytes));
      },
      &p.forward_algo, &p.forward_workspace);

  using BackwardData = cudnnConvolutionBwdDataAlgoPerf_t;
  plan_direction<BackwardData>(
      ctx, "backward-data convolution", p.backward_data_desc,
      [&](BackwardData* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p.w_desc, p.y_desc, p.backward_data_desc, p.x_desc, kMaxAlgorithms, n, r));
      },
      [&](BackwardData* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w_desc, p.y_desc, p.backward_data_desc, p.x_desc, kMaxAlgorithms, n, r));
      },
      [&](cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w_desc, p.y_desc, p.backward_data_desc, p.x_desc, algo, bytes));
      },
      &p.backward_data_algo, &p.backward_data_workspace);

  using BackwardFilter = cudnnConvolutionBwdFilterAlgoPerf_t;
  plan_direction<BackwardFilter>(
      ctx, "backward-filter convolution", p.backward_filter_desc,
      [&](BackwardFilter* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x_desc, p.y_desc, p.backward_filter_desc, p.w_desc, kMaxAlgorithms, n, r));
      },
      [&](BackwardFilter* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x_desc, p.y_desc, p.backward_filter_desc, p.w_desc, kMaxAlgorithms, n, r));
      },
      [&](cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x_desc, p.y_desc, p.backward_filter_desc, p.w_desc, algo, bytes));
      },
      &p.backward_filter_algo, &p.backward_filter_workspace);
  return p;
}

std::string shape_text(const ConvShape& s) {
  return "n" + std::to_string(s.n) + " c" + std::to_string(s.c) + " " + std::to_string(s.h) + "x" + std::to_string(s.w) +
         " k" + std::to_string(s.k) + " " + std::to_string(s.r) + "x" + std::to_string(s.s) + " stride " +
         std::to_string(s.stride) + " pad " + std::to_string(s.pad);
}

// Plans are made one at a time in the process: cudnnFind times each algorithm by running it, and
// rank threads sharing a GPU would time each other's work (and could choose differently).
std::mutex plan_making;

const ConvPlan& plan_for(Context& ctx, const ConvShape& shape) {
  auto& plans = ctx.conv_algorithms->plans;
  auto found = plans.find(shape);
  if (found != plans.end()) return found->second;
  std::lock_guard<std::mutex> one_at_a_time(plan_making);
  try {
    return plans.emplace(shape, make_plan(ctx, shape)).first->second;
  } catch (const InternalError& e) {
    throw InternalError("cannot plan the convolution " + shape_text(shape) + " in " + precision_name(ctx.precision) +
                        ": " + e.what());
  }
}

}  // namespace

ConvAlgorithmCache::~ConvAlgorithmCache() {
  for (auto& [shape, p] : plans) {
    cudnnDestroyTensorDescriptor(p.x_desc);
    cudnnDestroyTensorDescriptor(p.y_desc);
    cudnnDestroyFilterDescriptor(p.w_desc);
    cudnnDestroyConvolutionDescriptor(p.forward_desc);
    cudnnDestroyConvolutionDescriptor(p.backward_data_desc);
    cudnnDestroyConvolutionDescriptor(p.backward_filter_desc);
  }
}

namespace {

void require_precision(const Context& ctx, bool bf16, const char* what) {
  CHECK((ctx.precision == Precision::BF16) == bf16, "%s with %s activations under --precision %s", what,
        bf16 ? "bf16" : "float32", precision_name(ctx.precision));
}

}  // namespace

void conv2d_weights_to_bf16(Context& ctx, const ConvShape& shape, uint16_t* w_bf16, const float* w) {
  nchw_to_nhwc_bf16(ctx, w_bf16, w, shape.k, shape.c, shape.r * shape.s);
}

namespace {

// The cuDNN calls take untyped operands: the plan's descriptors say float32 NCHW or bf16 NHWC.
// Each `workspace` holds at least the plan's workspace for its direction.
void cudnn_forward(Context& ctx, const ConvPlan& p, void* y, const void* x, const void* w, void* workspace) {
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn, &one, p.x_desc, x, p.w_desc, w, p.forward_desc, p.forward_algo,
                                      workspace, p.forward_workspace, &zero, p.y_desc, y));
}

void cudnn_backward_data(Context& ctx, const ConvPlan& p, void* dx, const void* dy, const void* w, void* workspace) {
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn, &one, p.w_desc, w, p.y_desc, dy, p.backward_data_desc,
                                           p.backward_data_algo, workspace, p.backward_data_workspace, &zero,
                                           p.x_desc, dx));
}

void cudnn_backward_filter(Context& ctx, const ConvPlan& p, void* dw, const void* dy, const void* x, void* workspace) {
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn, &one, p.x_desc, x, p.y_desc, dy, p.backward_filter_desc,
                                             p.backward_filter_algo, workspace, p.backward_filter_workspace, &zero,
                                             p.w_desc, dw));
}

// One block of the context's workspace for a bf16 convolution: cuDNN's own part first, then bf16
// arrays of the given lengths, each 256-byte aligned. Stream-ordered, so consecutive calls share it.
class Bf16Scratch {
 public:
  Bf16Scratch(Context& ctx, size_t cudnn_bytes, std::initializer_list<size_t> counts) {
    size_t at = aligned(cudnn_bytes);
    for (size_t count : counts) {
      offsets_.push_back(at);
      at += aligned(count * sizeof(uint16_t));
    }
    base_ = static_cast<uint8_t*>(ctx.workspace(at));
  }
  void* cudnn() const { return base_; }
  uint16_t* operator[](size_t i) const { return reinterpret_cast<uint16_t*>(base_ + offsets_[i]); }

 private:
  static size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }
  uint8_t* base_ = nullptr;
  std::vector<size_t> offsets_;
};

// cuDNN's bf16 NHWC kernels work on channel counts that are multiples of 8 (16-byte vectors): for
// others (the stem's 3 image channels) cuDNN may have no algorithm at all. Such a convolution runs
// on operands widened with zero channels, in and out: a zero adds nothing to any sum, and the
// outputs of the added filters are dropped.
int padded_channels(int channels) { return (channels + 7) / 8 * 8; }

ConvShape padded_for_bf16(const ConvShape& s) {
  ConvShape p = s;
  p.c = padded_channels(s.c);
  p.k = padded_channels(s.k);
  return p;
}

size_t pixels_in(const ConvShape& s) { return static_cast<size_t>(s.n) * s.h * s.w; }
size_t pixels_out(const ConvShape& s) { return static_cast<size_t>(s.n) * s.out_h() * s.out_w(); }
size_t filter_taps(const ConvShape& s) { return static_cast<size_t>(s.k) * s.r * s.s; }  // rows of [k][r][s][c]

// `rows` rows of bf16 channels from `src` (`from` a row) into `dst` (`to` a row): the first
// min(from, to) of each row. Widening zeroes `dst` first, for the channels (and rows past `rows`)
// that `src` does not have.
void copy_channels(Context& ctx, uint16_t* dst, int to, size_t dst_rows, const uint16_t* src, int from, size_t rows) {
  if (to > from || dst_rows > rows) ctx.fill_zero(dst, dst_rows * to * sizeof(uint16_t));
  const size_t width = static_cast<size_t>(std::min(from, to)) * sizeof(uint16_t);
  CUDA_CHECK(cudaMemcpy2DAsync(dst, to * sizeof(uint16_t), src, from * sizeof(uint16_t), width, rows,
                               cudaMemcpyDeviceToDevice, ctx.stream));
}

void cudnn_forward_bf16(Context& ctx, const ConvShape& s, uint16_t* y, const uint16_t* x, const uint16_t* w) {
  const ConvShape p = padded_for_bf16(s);
  if (p.c == s.c && p.k == s.k) {
    const ConvPlan& plan = plan_for(ctx, s);
    return cudnn_forward(ctx, plan, y, x, w, ctx.workspace(plan.forward_workspace));
  }
  const ConvPlan& plan = plan_for(ctx, p);
  const Bf16Scratch scratch(ctx, plan.forward_workspace, {pixels_in(p) * p.c, filter_taps(p) * p.c, pixels_out(p) * p.k});
  copy_channels(ctx, scratch[0], p.c, pixels_in(s), x, s.c, pixels_in(s));
  copy_channels(ctx, scratch[1], p.c, filter_taps(p), w, s.c, filter_taps(s));
  cudnn_forward(ctx, plan, scratch[2], scratch[0], scratch[1], scratch.cudnn());
  copy_channels(ctx, y, s.k, pixels_out(s), scratch[2], p.k, pixels_out(s));
}

void cudnn_backward_data_bf16(Context& ctx, const ConvShape& s, uint16_t* dx, const uint16_t* dy, const uint16_t* w) {
  const ConvShape p = padded_for_bf16(s);
  if (p.c == s.c && p.k == s.k) {
    const ConvPlan& plan = plan_for(ctx, s);
    return cudnn_backward_data(ctx, plan, dx, dy, w, ctx.workspace(plan.backward_data_workspace));
  }
  const ConvPlan& plan = plan_for(ctx, p);
  const Bf16Scratch scratch(ctx, plan.backward_data_workspace,
                            {pixels_out(p) * p.k, filter_taps(p) * p.c, pixels_in(p) * p.c});
  copy_channels(ctx, scratch[0], p.k, pixels_out(s), dy, s.k, pixels_out(s));
  copy_channels(ctx, scratch[1], p.c, filter_taps(p), w, s.c, filter_taps(s));
  cudnn_backward_data(ctx, plan, scratch[2], scratch[0], scratch[1], scratch.cudnn());
  copy_channels(ctx, dx, s.c, pixels_in(s), scratch[2], p.c, pixels_in(s));
}

// cuDNN writes a bf16 filter gradient, which comes back to the float32 [k][c][r][s] gradient.
void cudnn_backward_filter_bf16(Context& ctx, const ConvShape& s, float* dw, const uint16_t* dy, const uint16_t* x) {
  const ConvShape p = padded_for_bf16(s);
  const ConvPlan& plan = plan_for(ctx, p);
  const bool padded = p.c != s.c || p.k != s.k;
  const Bf16Scratch scratch(ctx, plan.backward_filter_workspace,
                            {s.weight_count(), padded ? pixels_in(p) * p.c : 0, padded ? pixels_out(p) * p.k : 0,
                             padded ? p.weight_count() : 0});
  uint16_t* dw_bf16 = scratch[0];
  if (!padded) {
    cudnn_backward_filter(ctx, plan, dw_bf16, dy, x, scratch.cudnn());
  } else {
    copy_channels(ctx, scratch[1], p.c, pixels_in(s), x, s.c, pixels_in(s));
    copy_channels(ctx, scratch[2], p.k, pixels_out(s), dy, s.k, pixels_out(s));
    cudnn_backward_filter(ctx, plan, scratch[3], scratch[2], scratch[1], scratch.cudnn());
    copy_channels(ctx, dw_bf16, s.c, filter_taps(s), scratch[3], p.c, filter_taps(s));
  }
  nhwc_bf16_to_nchw(ctx, dw, dw_bf16, s.k, s.c, s.r * s.s);
}

}  // namespace

void conv2d_forward(Context& ctx, const ConvShape& shape, float* y, const float* x, const float* w) {
  NVTX_FUNCTION();
  require_precision(ctx, false, "conv2d_forward");
  if (!ctx.is_cuda()) return conv2d_forward_cpu(ctx, shape, y, x, w);
  const ConvPlan& p = plan_for(ctx, shape);
  cudnn_forward(ctx, p, y, x, w, ctx.workspace(p.forward_workspace));
}

void conv2d_backward_data(Context& ctx, const ConvShape& shape, float* dx, const float* dy, const float* w) {
  NVTX_FUNCTION();
  require_precision(ctx, false, "conv2d_backward_data");
  if (!ctx.is_cuda()) return conv2d_backward_data_cpu(ctx, shape, dx, dy, w);
  const ConvPlan& p = plan_for(ctx, shape);
  cudnn_backward_data(ctx, p, dx, dy, w, ctx.workspace(p.backward_data_workspace));
}

void conv2d_backward_filter(Context& ctx, const ConvShape& shape, float* dw, const float* dy, const float* x) {
  NVTX_FUNCTION();
  require_precision(ctx, false, "conv2d_backward_filter");
  if (!ctx.is_cuda()) return conv2d_backward_filter_cpu(ctx, shape, dw, dy, x);
  const ConvPlan& p = plan_for(ctx, shape);
  cudnn_backward_filter(ctx, p, dw, dy, x, ctx.workspace(p.backward_filter_workspace));
}

void conv2d_forward(Context& ctx, const ConvShape& shape, uint16_t* y, const uint16_t* x, const uint16_t* w_bf16) {
  NVTX_FUNCTION();
  require_precision(ctx, true, "conv2d_forward");
  if (!ctx.is_cuda()) return conv2d_forward_bf16_cpu(ctx, shape, y, x, w_bf16);
  cudnn_forward_bf16(ctx, shape, y, x, w_bf16);
}

void conv2d_backward_data(Context& ctx, const ConvShape& shape, uint16_t* dx, const uint16_t* dy,
                          const uint16_t* w_bf16) {
  NVTX_FUNCTION();
  require_precision(ctx, true, "conv2d_backward_data");
  if (!ctx.is_cuda()) return conv2d_backward_data_bf16_cpu(ctx, shape, dx, dy, w_bf16);
  cudnn_backward_data_bf16(ctx, shape, dx, dy, w_bf16);
}

void conv2d_backward_filter(Context& ctx, const ConvShape& shape, float* dw, const uint16_t* dy, const uint16_t* x) {
  NVTX_FUNCTION();
  require_precision(ctx, true, "conv2d_backward_filter");
  if (!ctx.is_cuda()) return conv2d_backward_filter_bf16_cpu(ctx, shape, dw, dy, x);
  cudnn_backward_filter_bf16(ctx, shape, dw, dy, x);
}
