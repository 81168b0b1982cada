// Batch assembly: one element rule shared by the CPU loop and the CUDA kernel.
#include "data/batch.h"

#include "engine/check.h"
#include "engine/exact_math.h"
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

// Element (c, y, x) of one output image whose source sample and transform are known.
__host__ __device__ inline float batch_pixel(int c, int y, int x, const BatchGeometry& g, const uint8_t* images,
                                             int32_t sample, const SampleTransform& t, int pad,
                                             const Normalization& norm) {
  // Crop from the image padded by `pad` black pixels, then mirror the crop if flipped.
  const int crop_x = t.flip ? g.width - 1 - x : x;
  const int src_y = y + t.offset_y - pad, src_x = crop_x + t.offset_x - pad;
  float pixel = 0.0f;
  if (src_y >= 0 && src_y < g.height && src_x >= 0 && src_x < g.width)
    pixel = mul_rn(images[((static_cast<size_t>(sample) * g.height + src_y) * g.width + src_x) * 3 + c], 1.0f / 255.0f);
  return div_rn(sub_rn(pixel, norm.mean[c]), norm.std[c]);  // single roundings: the CPU gets the same bits
}

// With a step position, the batch and the epoch come from it (a captured training step).
__host__ __device__ inline const int32_t* batch_indices(const int32_t* indices, int n, const StepPosition* position) {
  return position != nullptr ? indices + position->batch * n : indices;
}

__host__ __device__ inline Augmentation batch_augmentation(Augmentation a, const StepPosition* position) {
  if (position != nullptr) a.epoch = static_cast<uint64_t>(position->epoch);
  return a;
}

// Grid: (pixel chunks, images). The image's transform is drawn once per block.
__global__ void make_batch_kernel(BatchGeometry g, const uint8_t* images, const int32_t* dataset_labels,
                                  const int32_t* indices, const StepPosition* position, Normalization norm,
                                  Augmentation a, float* out, int32_t* labels) {
  __shared__ SampleTransform transform;
  const int image = blockIdx.y;
  const int32_t sample = batch_indices(indices, g.n, position)[image];
  a = batch_augmentation(a, position);
  if (threadIdx.x == 0) transform = draw_transform(a, static_cast<uint64_t>(sample));
  __syncthreads();
  const int plane = g.height * g.width, per_image = 3 * plane;
  float* image_out = out + static_cast<size_t>(image) * per_image;
  for (int i : grid_stride<int>(per_image)) {
    const int c = i / plane, y = (i % plane) / g.width, x = i % g.width;
    image_out[i] = batch_pixel(c, y, x, g, images, sample, transform, a.pad, norm);
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) labels[image] = dataset_labels[sample];
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

namespace {

void assemble_batch(Context& ctx, const DeviceDataset& data, const int32_t* indices, int n,
                    const Normalization& normalization, const Augmentation& augmentation,
                    const StepPosition* position, float* images, int32_t* labels) {
  const BatchGeometry g{n, data.height, data.width};
  const int per_image = 3 * data.height * data.width;
  if (!ctx.is_cuda()) {
    indices = batch_indices(indices, n, position);
    const Augmentation a = batch_augmentation(augmentation, position);
#pragma omp parallel for schedule(static)  // each image depends on its sample only
    for (int image = 0; image < n; ++image) {
      const int32_t sample = indices[image];
      const SampleTransform t = draw_transform(a, static_cast<uint64_t>(sample));
      float* out = images + static_cast<size_t>(image) * per_image;
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < g.height; ++y)
          for (int x = 0; x < g.width; ++x)
            *out++ = batch_pixel(c, y, x, g, data.images.data(), sample, t, a.pad, normalization);
      labels[image] = data.labels.data()[sample];
    }
    return;
  }
  if (n == 0) return;
  CHECK(n <= 65535, "a batch of %d images exceeds the grid's y dimension", n);
  const dim3 grid((per_image + kThreads * 4 - 1) / (kThreads * 4), n);  // about four pixels per thread
  make_batch_kernel<<<grid, kThreads, 0, ctx.stream>>>(g, data.images.data(), data.labels.data(), indices, position,
                                                       normalization, augmentation, images, labels);
  CUDA_CHECK_LAUNCH();
}

}  // namespace

void make_batch(Context& ctx, const DeviceDataset& data, const int32_t* indices, int n,
                const Normalization& normalization, const Augmentation& augmentation, float* images,
                int32_t* labels) {
  NVTX_FUNCTION();
  assemble_batch(ctx, data, indices, n, normalization, augmentation, nullptr, images, labels);
}

void make_training_batch(Context& ctx, const DeviceDataset& data, const int32_t* shard, int n,
                         const Normalization& normalization, const Augmentation& augmentation,
                         const StepPosition* position, float* images, int32_t* labels) {
  NVTX_RANGE("make_batch");
  CHECK(position != nullptr, "a training batch needs the step position");
  assemble_batch(ctx, data, shard, n, normalization, augmentation, position, images, labels);
}
