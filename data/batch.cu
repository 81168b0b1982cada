// Batch assembly: one element rule shared by the CPU loop and the CUDA kernel.
#include "data/batch.h"

#include "engine/check.h"
#include "engine/launch.h"
#include "engine/nvtx.h"
#include "engine/rng.h"

namespace {

__host__ __device__ inline SampleTransform draw_transform(const Augmentation& a, uint64_t sample) {
  if (!a.enabled) return SampleTransform{a.pad, a.pad, false};  // the centred, unflipped window
  const Philox4 r = philox(a.seed, a.epoch, sample);
  const uint32_t positions = 2 * a.pad + 1;
  return SampleTransform{static_cast<int>(r.v[0] % positions), static_cast<int>(r.v[1] % positions),
                         (r.v[2] & 1u) != 0};
}

struct BatchGeometry {
  int n, height, width;
};

// Output element i of the batch (NCHW order).
__host__ __device__ inline void batch_element(size_t i, const BatchGeometry& g, const uint8_t* images,
                                              const int32_t* indices, const Normalization& norm,
                                              const Augmentation& a, float* out) {
  const int x = static_cast<int>(i % g.width);
  const int y = static_cast<int>((i / g.width) % g.height);
  const int c = static_cast<int>((i / (static_cast<size_t>(g.width) * g.height)) % 3);
  const int image = static_cast<int>(i / (static_cast<size_t>(g.width) * g.height * 3));
  const int32_t sample = indices[image];
  const SampleTransform t = draw_transform(a, static_cast<uint64_t>(sample));
  // Crop from the image padded by `pad` black pixels, then mirror the crop if flipped.
  const int crop_x = t.flip ? g.width - 1 - x : x;
  const int src_y = y + t.offset_y - a.pad, src_x = crop_x + t.offset_x - a.pad;
  float pixel = 0.0f;
  if (src_y >= 0 && src_y < g.height && src_x >= 0 && src_x < g.width)
    pixel = images[((static_cast<size_t>(sample) * g.height + src_y) * g.width + src_x) * 3 + c] * (1.0f / 255.0f);
  out[i] = (pixel - norm.mean[c]) / norm.std[c];
}

__global__ void make_batch_kernel(BatchGeometry g, const uint8_t* images, const int32_t* dataset_labels,
                                  const int32_t* indices, Normalization norm, Augmentation a, float* out,
                                  int32_t* labels) {
  const size_t total = static_cast<size_t>(g.n) * 3 * g.height * g.width;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    batch_element(i, g, images, indices, norm, a, out);
    if (i < static_cast<size_t>(g.n)) labels[i] = dataset_labels[indices[i]];
  }
}

}  // namespace

DeviceDataset::DeviceDataset(Context& ctx, const Dataset& dataset)
    : height(dataset.height),
      width(dataset.width),
      classes(dataset.classes),
      size(dataset.size()),
      images(ctx, dataset.images.size()),
      labels(ctx, dataset.labels.size()) {
  // Checked here, once, so that the kernels that index by label can trust it.
  for (size_t i = 0; i < dataset.labels.size(); ++i)
    CHECK(dataset.labels[i] >= 0 && dataset.labels[i] < dataset.classes, "sample %zu has label %d outside [0, %d)",
          i, dataset.labels[i], dataset.classes);
  CHECK(dataset.images.size() == dataset.size() * dataset.image_bytes(), "dataset of %zu labels holds %zu image bytes",
        dataset.size(), dataset.images.size());
  ctx.upload(images.data(), dataset.images.data(), dataset.images.size());
  ctx.upload(labels.data(), dataset.labels.data(), dataset.labels.size() * sizeof(int32_t));
}

SampleTransform sample_transform(const Augmentation& augmentation, uint64_t sample) {
  return draw_transform(augmentation, sample);
}

void make_batch(Context& ctx, const DeviceDataset& data, const int32_t* indices, int n,
                const Normalization& normalization, const Augmentation& augmentation, float* images,
                int32_t* labels) {
  NVTX_RANGE("make_batch");
  const BatchGeometry g{n, data.height, data.width};
  const size_t total = static_cast<size_t>(n) * 3 * data.height * data.width;
  if (!ctx.is_cuda()) {
    for (size_t i = 0; i < total; ++i)
      batch_element(i, g, data.images.data(), indices, normalization, augmentation, images);
    for (int i = 0; i < n; ++i) labels[i] = data.labels.data()[indices[i]];
    return;
  }
  make_batch_kernel<<<grid_size(total), kThreads, 0, ctx.stream>>>(g, data.images.data(), data.labels.data(),
                                                                  indices, normalization, augmentation, images,
                                                                  labels);
  CUDA_CHECK_LAUNCH();
}
