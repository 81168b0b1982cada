// Dataset dispatch and folder resolution.
#include "data/load.h"

#include <filesystem>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "data/cifar.h"
#include "data/files.h"
#include "data/image_folder.h"
#include "data/subset.h"
#include "data/synthetic.h"
#include "data/tiny_imagenet.h"
#include "engine/check.h"

void validate_dataset_name(const std::string& name) {
  for (const char* known : {"synthetic", "cifar10", "cifar100", "tinyimagenet"})
    if (name == known) return;
  fail_input("unknown --dataset '%s' (expected synthetic, cifar10, cifar100 or tinyimagenet)", name.c_str());
}

namespace {

void require_size(const std::string& name, int image_size, int native) {
  if (image_size != 0 && image_size != native)
    fail_input("--image-size %d: %s images are %dx%d", image_size, name.c_str(), native, native);
}

// --data-dir must name a folder: a missing one and a file in its place are told apart.
void require_data_folder(const std::string& dir) {
  if (is_directory(dir)) return;
  if (std::filesystem::exists(dir)) fail_input("%s is not a folder (--data-dir)", dir.c_str());
  fail_input("missing folder %s (--data-dir)", dir.c_str());
}

// CIFAR-10 is read from the official binary batches or from an image folder with train/ and
// test/ (as the JPEG archive unpacks, also as a cifar10-jpg/ subfolder).
DatasetSplits load_cifar10(const std::string& dir, int image_size) {
  require_size("cifar10", image_size, 32);
  require_data_folder(dir);
  if (!find_cifar10_binary_dir(dir).empty()) return load_cifar10_binary(dir);
  for (const std::string& root : {dir, dir + "/cifar10-jpg"})
    if (is_directory(root + "/train")) return load_image_folder(root, 32, "cifar10", kCifarNormalization);
  fail_input("no CIFAR-10 in %s: expected data_batch_1.bin, cifar-10-batches-bin/, train/ and test/, or cifar10-jpg/",
             dir.c_str());
}

DatasetSplits load_named_dataset(const DatasetOptions& o) {
  if (o.name == "synthetic") {
    if (o.image_size != 0 && o.image_size != 32 && o.image_size != 64)
      fail_input("--image-size %d: synthetic images are 32 or 64", o.image_size);
    SyntheticOptions s;
    s.seed = o.seed;
    s.classes = o.classes;
    s.image_size = o.image_size == 0 ? 32 : o.image_size;
    return make_synthetic_dataset(s);
  }
  if (o.dir.empty()) fail_input("--dataset %s needs --data-dir", o.name.c_str());
  if (o.name == "cifar10") return load_cifar10(o.dir, o.image_size);
  if (o.name == "cifar100") {
    require_size("cifar100", o.image_size, 32);
    require_data_folder(o.dir);
    return load_cifar100_binary(o.dir, o.coarse_labels ? Cifar100Labels::Coarse : Cifar100Labels::Fine);
  }
  if (o.name == "tinyimagenet") {
    require_data_folder(o.dir);
    return load_tiny_imagenet(o.dir, o.image_size);
  }
  validate_dataset_name(o.name);
  fail_internal(__FILE__, __LINE__, "dataset %s is known but has no loader", o.name.c_str());
}

}  // namespace

DatasetSplits load_dataset(const DatasetOptions& o) {
  DatasetSplits data = load_named_dataset(o);
  // Normalization stays the whole training set's: a subset changes what is seen, not how.
  // A subset larger than the set would silently be the whole set, while config.json says otherwise.
  if (static_cast<size_t>(o.train_subset) > data.train.size())
    fail_input("--train-subset %d is more than the %zu training images", o.train_subset, data.train.size());
  if (static_cast<size_t>(o.test_subset) > data.test.size())
    fail_input("--test-subset %d is more than the %zu test images", o.test_subset, data.test.size());
  if (o.train_subset > 0) keep_balanced_subset(data.train, static_cast<size_t>(o.train_subset), o.seed);
  if (o.test_subset > 0) keep_balanced_subset(data.test, static_cast<size_t>(o.test_subset), o.seed + 1);
  return data;
}

int inspect_dataset(const DatasetOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const DatasetSplits data = load_dataset(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("train=%zu test=%zu classes=%d shape=%dx%dx3\n", data.train.size(), data.test.size(), data.train.classes,
              data.train.height, data.train.width);
  const std::vector<int> train_counts = data.train.class_counts(), test_counts = data.test.class_counts();
  for (int c = 0; c < data.train.classes; ++c)
    std::printf("%3d %-24s train=%d test=%d\n", c, data.train.class_names[c].c_str(), train_counts[c], test_counts[c]);
  std::printf("loaded in %.2f s\n", seconds);
  return 0;
}

int dataset_classes(const DatasetOptions& o) {
  validate_dataset_name(o.name);
  if (o.name == "cifar10") return 10;
  if (o.name == "cifar100") return o.coarse_labels ? 20 : 100;
  if (o.name == "tinyimagenet") return 200;
  return o.classes;
}
