// A synthetic, learnable image classification set for tests and for running the whole pipeline
// without data: each class is a coloured stripe pattern, each image that pattern plus noise.
#pragma once

#include <cstdint>

#include "data/dataset.h"

struct SyntheticOptions {
  uint64_t seed = 0;
  int train_size = 4096, test_size = 1024;
  int image_size = 32;
  int classes = 10;
};

DatasetSplits make_synthetic_dataset(const SyntheticOptions& options);
