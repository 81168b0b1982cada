// CIFAR-10 and CIFAR-100 in their official binary formats. CIFAR-10: data_batch_1..5.bin and
// test_batch.bin, records of 1 label byte + 3072 pixel bytes (planes R, G, B). CIFAR-100:
// train.bin and test.bin, records of coarse label, fine label, 3072 pixel bytes.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.h"

enum class Cifar100Labels { Fine, Coarse };

// Reads whole files of 32x32 records; a file whose size is not a whole number of records, or a
// label out of range, stops with an error naming the file.
Dataset read_cifar10_files(const std::vector<std::string>& paths);
Dataset read_cifar100_files(const std::vector<std::string>& paths, Cifar100Labels labels);

// `dir` holds the .bin files or is their parent (cifar-10-batches-bin/, cifar-100-binary/).
DatasetSplits load_cifar10_binary(const std::string& dir);
DatasetSplits load_cifar100_binary(const std::string& dir, Cifar100Labels labels);

// The folder that holds CIFAR-10's (or CIFAR-100's) .bin files under `dir`, or "" if none does.
std::string find_cifar10_binary_dir(const std::string& dir);
std::string find_cifar100_binary_dir(const std::string& dir);

extern const Normalization kCifarNormalization;
