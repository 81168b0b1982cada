// The reference convolution: col[c*r*s, out_h*out_w] holds every receptive field of one image, so
// that the convolution is the product w[k, c*r*s] * col.
#include "engine/conv_reference.h"

#include <algorithm>
#include <vector>

#include "engine/gemm_cpu.h"

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

}  // namespace

void conv2d_forward_reference(const ConvShape& s, float* y, const float* x, const float* w) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    im2col(s, x + static_cast<long>(img) * s.c * s.h * s.w, col.data());
    gemm_cpu(false, false, s.k, pixels, rows, 1.0f, w, rows, col.data(), pixels, 0.0f,
             y + static_cast<long>(img) * s.k * pixels, pixels);
  }
}

void conv2d_backward_data_reference(const ConvShape& s, float* dx, const float* dy, const float* w) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    gemm_cpu(true, false, rows, pixels, s.k, 1.0f, w, rows, dy + static_cast<long>(img) * s.k * pixels, pixels, 0.0f,
             col.data(), pixels);
    col2im(s, col.data(), dx + static_cast<long>(img) * s.c * s.h * s.w);
  }
}

void conv2d_backward_filter_reference(const ConvShape& s, float* dw, const float* dy, const float* x) {
  const int rows = s.c * s.r * s.s, pixels = s.out_h() * s.out_w();
  std::vector<float> col(static_cast<size_t>(rows) * pixels);
  for (int img = 0; img < s.n; ++img) {
    im2col(s, x + static_cast<long>(img) * s.c * s.h * s.w, col.data());
    gemm_cpu(false, true, s.k, rows, pixels, 1.0f, dy + static_cast<long>(img) * s.k * pixels, pixels, col.data(),
             pixels, img == 0 ? 0.0f : 1.0f, dw, rows);
  }
}
