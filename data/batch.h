// Building a training batch on the rank's device: gather images by index from the resident
// uint8 dataset, random crop (zero padding) and horizontal flip keyed by (seed, epoch, sample),
// normalise, and write float NCHW. One kernel on the GPU; the same arithmetic on the CPU.
#pragma once

#include <cstdint>

#include "data/dataset.h"
#include "engine/step_clock.h"
#include "engine/tensor.h"

// The dataset copied once onto a context's device.
struct DeviceDataset {
  DeviceDataset(Context& ctx, const Dataset& dataset);
  int height, width, classes;
  size_t size;
  Buffer<uint8_t> images;  // NHWC
  Buffer<int32_t> labels;
};

struct Augmentation {
  bool enabled = false;
  int pad = 4;  // crop window shifted by up to pad pixels each way
  uint64_t seed = 0;
  uint64_t epoch = 0;
};

// The crop offsets (each in [0, 2 * pad]) and flip drawn for one sample.
struct SampleTransform {
  int offset_y, offset_x;
  bool flip;
};
SampleTransform sample_transform(const Augmentation& augmentation, uint64_t sample);

// images[n, 3, h, w] and labels[n] from the samples indices[0..n) (indices on the context's device).
void make_batch(Context& ctx, const DeviceDataset& data, const int32_t* indices, int n,
                const Normalization& normalization, const Augmentation& augmentation, float* images,
                int32_t* labels);

// The training batch of the step at `position` (in the context's memory, engine/step_clock.h):
// the samples shard[position->batch * n, + n), augmented as in epoch position->epoch (the epoch
// of `augmentation` is not used). A captured step calls this: which batch it is comes from
// memory, not from the arguments.
void make_training_batch(Context& ctx, const DeviceDataset& data, const int32_t* shard, int n,
                         const Normalization& normalization, const Augmentation& augmentation,
                         const StepPosition* position, float* images, int32_t* labels);
