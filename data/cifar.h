// CIFAR-10 and CIFAR-100 in their official binary formats. CIFAR-10: data_batch_1..5.bin and
// test_batch.bin, records of 1 label byte + 3072 pixel bytes (planes R, G, B). CIFAR-100:
// train.bin and test.bin, records of coarse label, fine label, 3072 pixel bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

enum class Cifar100Labels { Fine, Coarse };

// Reads whole files of 32x32 records; a file whose size is not a whole number of records, or a
// label out of range, stops with an error naming the file.
Dataset read_cifar10_files(const std::vector<std::string>& paths);
Dataset read_cifar100_files(const std::vector<std::string>& paths, Cifar100Labels labels);

// A record's leading label bytes, which of them is the label, and how many classes there are.
struct CifarLayout {
  int label_bytes, label_index, classes;
};
extern const CifarLayout kCifar10Layout, kCifar100FineLayout, kCifar100CoarseLayout;
// One file's bytes (named `name` in errors) appended to d, with the checks above. Any bytes at all
// are safe input (tests/fuzz/fuzz_cifar.cpp).
void append_cifar_records(const std::vector<uint8_t>& bytes, const std::string& name, const CifarLayout& layout,
                          Dataset& d);

// `dir` holds the .bin files or is their parent (cifar-10-batches-bin/, cifar-100-binary/).
DatasetSplits load_cifar10_binary(const std::string& dir);
DatasetSplits load_cifar100_binary(const std::string& dir, Cifar100Labels labels);

// The folder that holds CIFAR-10's (or CIFAR-100's) .bin files under `dir`, or "" if none does.
std::string find_cifar10_binary_dir(const std::string& dir);
std::string find_cifar100_binary_dir(const std::string& dir);

extern const Normalization kCifarNormalization;
