// Tiny ImageNet (200 classes, 64x64) in its official layout: wnids.txt fixes the label order,
// train/<wnid>/images/*.JPEG, val/images/*.JPEG labelled by val/val_annotations.txt; the
// validation split is the test split. Image size 32 box-downsamples at load time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

// `dir` holds wnids.txt or is the parent of tiny-imagenet-200/.
DatasetSplits load_tiny_imagenet(const std::string& dir, int image_size);
std::string find_tiny_imagenet_dir(const std::string& dir);

// The two text files, as lines (any bytes at all are safe input: tests/fuzz/fuzz_tiny_imagenet.cpp).
// wnids.txt: one class name per line, in label order; blank lines are skipped; a name given twice,
// a name that is not one plain folder name, or no name at all is a user error naming `name`.
std::vector<std::string> parse_wnids(const std::vector<std::string>& lines, const std::string& name);
// val_annotations.txt: <file>\t<wnid>[\t...] per line; the file a plain name in val/images, the
// wnid one of `wnids`, at least one line.
struct Annotation {
  std::string file;
  int32_t label;
};
std::vector<Annotation> parse_val_annotations(const std::vector<std::string>& lines, const std::string& name,
                                              const std::vector<std::string>& wnids);

extern const Normalization kTinyImageNetNormalization;
