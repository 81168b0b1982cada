// CIFAR binary readers: channel-planar records turned into NHWC.
#include "data/cifar.h"

#include "data/files.h"
#include "engine/check.h"

const Normalization kCifarNormalization = {{0.491f, 0.482f, 0.447f}, {0.247f, 0.243f, 0.262f}};

namespace {

constexpr int kSide = 32, kPixels = kSide * kSide * 3;

Dataset read_records(const std::vector<std::string>& paths, const CifarLayout& layout) {
  Dataset d;
  d.height = d.width = kSide;
  d.classes = layout.classes;
  for (const std::string& path : paths) append_cifar_records(read_file_bytes(path), path, layout, d);
  return d;
}

std::vector<std::string> names_from(const std::string& path, int classes) {
  std::vector<std::string> names;
  if (is_file(path))
    for (const std::string& line : read_lines(path))
      if (!line.empty()) names.push_back(line);
  if (static_cast<int>(names.size()) != classes) {
    names.clear();
    for (int c = 0; c < classes; ++c) names.push_back("class" + std::to_string(c));
  }
  return names;
}

std::string find_dir_with(const std::string& dir, const std::string& file, const std::string& subfolder) {
  if (is_file(dir + "/" + file)) return dir;
  if (is_file(dir + "/" + subfolder + "/" + file)) return dir + "/" + subfolder;
  return "";
}

}  // namespace

const CifarLayout kCifar10Layout{1, 0, 10}, kCifar100FineLayout{2, 1, 100}, kCifar100CoarseLayout{2, 0, 20};

void append_cifar_records(const std::vector<uint8_t>& bytes, const std::string& name, const CifarLayout& layout,
                          Dataset& d) {
  const size_t record = layout.label_bytes + kPixels;
  if (bytes.empty() || bytes.size() % record != 0)
    fail_input("%s is truncated or not a CIFAR file: %zu bytes is not a whole number of %zu-byte records",
               name.c_str(), bytes.size(), record);
  const size_t count = bytes.size() / record, first = d.labels.size();
  d.labels.resize(first + count);
  d.images.resize((first + count) * kPixels);
  for (size_t r = 0; r < count; ++r) {
    const uint8_t* in = bytes.data() + r * record;
    const int label = in[layout.label_index];
    if (label >= layout.classes)
      fail_input("%s: record %zu has label %d, outside [0, %d)", name.c_str(), r, label, layout.classes);
    d.labels[first + r] = label;
    const uint8_t* planes = in + layout.label_bytes;
    uint8_t* out = d.images.data() + (first + r) * kPixels;
    for (int c = 0; c < 3; ++c)
      for (int i = 0; i < kSide * kSide; ++i) out[i * 3 + c] = planes[c * kSide * kSide + i];
  }
}

Dataset read_cifar10_files(const std::vector<std::string>& paths) { return read_records(paths, kCifar10Layout); }

Dataset read_cifar100_files(const std::vector<std::string>& paths, Cifar100Labels labels) {
  return read_records(paths, labels == Cifar100Labels::Fine ? kCifar100FineLayout : kCifar100CoarseLayout);
}

std::string find_cifar10_binary_dir(const std::string& dir) {
  return find_dir_with(dir, "data_batch_1.bin", "cifar-10-batches-bin");
}

std::string find_cifar100_binary_dir(const std::string& dir) { return find_dir_with(dir, "train.bin", "cifar-100-binary"); }

DatasetSplits load_cifar10_binary(const std::string& dir) {
  const std::string root = find_cifar10_binary_dir(dir);
  if (root.empty()) fail_input("no CIFAR-10 binary files (data_batch_1.bin) in %s or %s/cifar-10-batches-bin", dir.c_str(), dir.c_str());
  DatasetSplits s;
  s.name = "cifar10";
  std::vector<std::string> train_files;
  for (int i = 1; i <= 5; ++i) train_files.push_back(root + "/data_batch_" + std::to_string(i) + ".bin");
  s.train = read_cifar10_files(train_files);
  s.test = read_cifar10_files({root + "/test_batch.bin"});
  s.train.class_names = s.test.class_names = names_from(root + "/batches.meta.txt", 10);
  s.normalization = kCifarNormalization;
  return s;
}

DatasetSplits load_cifar100_binary(const std::string& dir, Cifar100Labels labels) {
  const std::string root = find_cifar100_binary_dir(dir);
  if (root.empty()) fail_input("no CIFAR-100 binary files (train.bin) in %s or %s/cifar-100-binary", dir.c_str(), dir.c_str());
  DatasetSplits s;
  s.name = "cifar100";
  s.train = read_cifar100_files({root + "/train.bin"}, labels);
  s.test = read_cifar100_files({root + "/test.bin"}, labels);
  const bool fine = labels == Cifar100Labels::Fine;
  s.train.class_names = s.test.class_names =
      names_from(root + (fine ? "/fine_label_names.txt" : "/coarse_label_names.txt"), fine ? 100 : 20);
  s.normalization = kCifarNormalization;
  return s;
}
