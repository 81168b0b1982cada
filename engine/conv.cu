// Convolution: the CPU reference (im2col + GEMM) and the cuDNN path with per-shape plans.
#include "engine/conv.h"

#include <functional>
#include <vector>

#include "engine/check.h"
#include "engine/gemm_cpu.h"
#include "engine/nvtx.h"

// ---------------------------------------------------------------------------------------------
// CPU reference. One image at a time: col[c*r*s, out_h*out_w] holds every receptive field, so the
// convolution is the product w[k, c*r*s] * col.

namespace {

void im2col(const ConvShape& s, const float* image, float* col) {
  const int out_h = s.out_h(), out_w = s.out_w();
  for (int ch = 0; ch < s.c; ++ch)
    for (int kr = 0; kr < s.r; ++kr)
      for (int ks = 0; ks < s.s; ++ks) {
        float* row = col + ((static_cast<long>(ch) * s.r + kr) * s.s + ks) * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy) {
          const int iy = oy * s.stride - s.pad + kr;
          for (int ox = 0; ox < out_w; ++ox) {
            const int ix = ox * s.stride - s.pad + ks;
            const bool inside = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
            row[oy * out_w + ox] = inside ? image[(static_cast<long>(ch) * s.h + iy) * s.w + ix] : 0.0f;
          }
        }
      }
}

// The adjoint of im2col: every column entry adds back into the pixel it was read from.
void col2im(const ConvShape& s, const float* col, float* image) {
  const int out_h = s.out_h(), out_w = s.out_w();
  std::fill(image, image + static_cast<long>(s.c) * s.h * s.w, 0.0f);
  for (int ch = 0; ch < s.c; ++ch)
    for (int kr = 0; kr < s.r; ++kr)
      for (int ks = 0; ks < s.s; ++ks) {
        const float* row = col + ((static_cast<long>(ch) * s.r + kr) * s.s + ks) * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy) {
          const int iy = oy * s.stride - s.pad + kr;
          if (iy < 0 || iy >= s.h) continue;
          for (int ox = 0; ox < out_w; ++ox) {
            const int ix = ox * s.stride - s.pad + ks;
            if (ix >= 0 && ix < s.w) image[(static_cast<long>(ch) * s.h + iy) * s.w + ix] += row[oy * out_w + ox];
          }
        }
      }
}

void conv2d_forward_cpu(const ConvShape& s, float* y, const float* x, const float* w) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    im2col(s, x + static_cast<long>(img) * s.c * s.h * s.w, col.data());
    gemm_cpu(false, false, s.k, pixels, rows, 1.0f, w, rows, col.data(), pixels, 0.0f,
             y + static_cast<long>(img) * s.k * pixels, pixels);
  }
}

void conv2d_backward_data_cpu(const ConvShape& s, float* dx, const float* dy, const float* w) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    gemm_cpu(true, false, rows, pixels, s.k, 1.0f, w, rows, dy + static_cast<long>(img) * s.k * pixels,
             pixels, 0.0f, col.data(), pixels);
    col2im(s, col.data(), dx + static_cast<long>(img) * s.c * s.h * s.w);
  }
}

void conv2d_backward_filter_cpu(const ConvShape& s, float* dw, const float* dy, const float* x) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    im2col(s, x + static_cast<long>(img) * s.c * s.h * s.w, col.data());
    gemm_cpu(false, true, s.k, rows, pixels, 1.0f, dy + static_cast<long>(img) * s.k * pixels, pixels,
             col.data(), pixels, img == 0 ? 0.0f : 1.0f, dw, rows);
  }
}

// ---------------------------------------------------------------------------------------------
// cuDNN. Normally cudnnFind* times every algorithm once per shape and the fastest wins. With
// --deterministic the choice must not depend on timing either, so cuDNN's heuristic ranking
// (cudnnGet*_v7) is used instead, keeping only algorithms that are deterministic.

constexpr int kMaxAlgorithms = 16;

// `query` fills up to kMaxAlgorithms results, best first; the first usable one is returned.
template <typename Perf, typename Query>
Perf choose_algorithm(bool deterministic, Query find, Query heuristic, const char* what) {
  Perf results[kMaxAlgorithms];
  int count = 0;
  (deterministic ? heuristic : find)(results, &count);
  for (int i = 0; i < count; ++i) {
    if (results[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (deterministic && results[i].determinism != CUDNN_DETERMINISTIC) continue;
    return results[i];
  }
  fail_internal(__FILE__, __LINE__, "cuDNN found no usable %s algorithm%s", what,
                deterministic ? " that is deterministic" : "");
}

ConvPlan make_plan(Context& ctx, const ConvShape& s) {
  ConvPlan p;
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x_desc));
  CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y_desc));
  CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w_desc));
  CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv_desc));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c, s.h, s.w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.k,
                                         s.out_h(), s.out_w()));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.k, s.c, s.r, s.s));
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv_desc, s.pad, s.pad, s.stride, s.stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  // FMA math excludes TF32 tensor cores, so fp32 results stay comparable with the CPU reference;
  // default math lets cuDNN use them (--precision tf32).
  CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv_desc, ctx.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  cudnnHandle_t h = ctx.cudnn;

  using Forward = cudnnConvolutionFwdAlgoPerf_t;
  using Query = std::function<void(Forward*, int*)>;
  const Forward f = choose_algorithm<Forward, Query>(
      ctx.deterministic,
      [&](Forward* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h, p.x_desc, p.w_desc, p.conv_desc, p.y_desc, kMaxAlgorithms, n, r));
      },
      [&](Forward* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(h, p.x_desc, p.w_desc, p.conv_desc, p.y_desc, kMaxAlgorithms, n, r));
      },
      "forward convolution");
  p.forward_algo = f.algo;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, p.x_desc, p.w_desc, p.conv_desc, p.y_desc, f.algo,
                                                      &p.forward_workspace));

  using BackwardData = cudnnConvolutionBwdDataAlgoPerf_t;
  using DataQuery = std::function<void(BackwardData*, int*)>;
  const BackwardData bd = choose_algorithm<BackwardData, DataQuery>(
      ctx.deterministic,
      [&](BackwardData* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h, p.w_desc, p.y_desc, p.conv_desc, p.x_desc, kMaxAlgorithms, n, r));
      },
      [&](BackwardData* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w_desc, p.y_desc, p.conv_desc, p.x_desc, kMaxAlgorithms, n, r));
      },
      "backward-data convolution");
  p.backward_data_algo = bd.algo;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w_desc, p.y_desc, p.conv_desc, p.x_desc, bd.algo,
                                                           &p.backward_data_workspace));

  using BackwardFilter = cudnnConvolutionBwdFilterAlgoPerf_t;
  using FilterQuery = std::function<void(BackwardFilter*, int*)>;
  const BackwardFilter bf = choose_algorithm<BackwardFilter, FilterQuery>(
      ctx.deterministic,
      [&](BackwardFilter* r, int* n) {
        CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h, p.x_desc, p.y_desc, p.conv_desc, p.w_desc, kMaxAlgorithms, n, r));
      },
      [&](BackwardFilter* r, int* n) {
        CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x_desc, p.y_desc, p.conv_desc, p.w_desc, kMaxAlgorithms, n, r));
      },
      "backward-filter convolution");
  p.backward_filter_algo = bf.algo;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x_desc, p.y_desc, p.conv_desc, p.w_desc, bf.algo,
                                                             &p.backward_filter_workspace));
  return p;
}

const ConvPlan& plan_for(Context& ctx, const ConvShape& shape) {
  auto& plans = ctx.conv_algorithms->plans;
  auto found = plans.find(shape);
  if (found == plans.end()) found = plans.emplace(shape, make_plan(ctx, shape)).first;
  return found->second;
}

}  // namespace

ConvAlgorithmCache::~ConvAlgorithmCache() {
  for (auto& [shape, p] : plans) {
    cudnnDestroyTensorDescriptor(p.x_desc);
    cudnnDestroyTensorDescriptor(p.y_desc);
    cudnnDestroyFilterDescriptor(p.w_desc);
    cudnnDestroyConvolutionDescriptor(p.conv_desc);
  }
}

void conv2d_forward(Context& ctx, const ConvShape& shape, float* y, const float* x, const float* w) {
  NVTX_RANGE("conv2d_forward");
  if (!ctx.is_cuda()) return conv2d_forward_cpu(shape, y, x, w);
  const ConvPlan& p = plan_for(ctx, shape);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn, &one, p.x_desc, x, p.w_desc, w, p.conv_desc, p.forward_algo,
                                      ctx.workspace(p.forward_workspace), p.forward_workspace, &zero,
                                      p.y_desc, y));
}

void conv2d_backward_data(Context& ctx, const ConvShape& shape, float* dx, const float* dy, const float* w) {
  NVTX_RANGE("conv2d_backward_data");
  if (!ctx.is_cuda()) return conv2d_backward_data_cpu(shape, dx, dy, w);
  const ConvPlan& p = plan_for(ctx, shape);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn, &one, p.w_desc, w, p.y_desc, dy, p.conv_desc,
                                           p.backward_data_algo, ctx.workspace(p.backward_data_workspace),
                                           p.backward_data_workspace, &zero, p.x_desc, dx));
}

void conv2d_backward_filter(Context& ctx, const ConvShape& shape, float* dw, const float* dy, const float* x) {
  NVTX_RANGE("conv2d_backward_filter");
  if (!ctx.is_cuda()) return conv2d_backward_filter_cpu(shape, dw, dy, x);
  const ConvPlan& p = plan_for(ctx, shape);
  const float one = 1.0f, zero = 0.0f;
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn, &one, p.x_desc, x, p.y_desc, dy, p.conv_desc,
                                             p.backward_filter_algo, ctx.workspace(p.backward_filter_workspace),
                                             p.backward_filter_workspace, &zero, p.w_desc, dw));
}
