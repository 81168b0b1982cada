// A dataset in memory: one uint8 NHWC image array and int32 labels, plus the per-channel
// normalisation the batches are built with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

struct Dataset {
  int height = 0, width = 0, classes = 0;
  std::vector<uint8_t> images;  // [size, height, width, 3]
  std::vector<int32_t> labels;  // [size], each in [0, classes)
  std::vector<std::string> class_names;

  size_t size() const { return labels.size(); }
  size_t image_bytes() const { return static_cast<size_t>(height) * width * 3; }
  std::vector<int> class_counts() const;
};

// Per-channel mean and standard deviation on the [0, 1] scale.
struct Normalization {
  float mean[3];
  float std[3];
};

struct DatasetSplits {
  std::string name;
  Dataset train, test;
  Normalization normalization;
};
