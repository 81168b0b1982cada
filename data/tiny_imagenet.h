// Tiny ImageNet (200 classes, 64x64) in its official layout: wnids.txt fixes the label order,
// train/<wnid>/images/*.JPEG, val/images/*.JPEG labelled by val/val_annotations.txt; the
// validation split is the test split. Image size 32 box-downsamples at load time.
#pragma once

#include <string>

#include "data/dataset.h"

// `dir` holds wnids.txt or is the parent of tiny-imagenet-200/.
DatasetSplits load_tiny_imagenet(const std::string& dir, int image_size);
std::string find_tiny_imagenet_dir(const std::string& dir);

extern const Normalization kTinyImageNetNormalization;
