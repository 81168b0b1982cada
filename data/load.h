// One entry point for every dataset the trainer knows, by name.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

struct DatasetOptions {
  std::string name;        // synthetic, cifar10, cifar100, tinyimagenet
  std::string dir;         // where the files are (not used by synthetic)
  int image_size = 0;      // 0: the dataset's own size
  int classes = 10;        // synthetic only
  bool coarse_labels = false;  // CIFAR-100: the 20 superclasses instead of the 100 classes
  uint64_t seed = 0;       // the synthetic images, and which images a subset keeps
  int train_subset = 0;    // keep N training images, balanced over the classes (0: all); for quick runs
  int test_subset = 0;     // the same for the test set: quicker evaluations
};

// Stops with a one-line error (exit code 2) unless `name` is one of the datasets above; checks
// the flag before anything is loaded.
void validate_dataset_name(const std::string& name);

// The classes the dataset has, known without loading it: 10, 100 (20 coarse), 200, or the
// synthetic dataset's --classes.
int dataset_classes(const DatasetOptions& options);

// Stops with a one-line error (exit code 2) on an unknown name or bad files.
DatasetSplits load_dataset(const DatasetOptions& options);

// ./train --inspect: loads the dataset and prints "train=<n> test=<n> classes=<c> shape=<H>x<W>x3",
// the per-class counts and the load time. Returns the exit code.
int inspect_dataset(const DatasetOptions& options);
