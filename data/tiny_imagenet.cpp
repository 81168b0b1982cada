// Tiny ImageNet: wnids, training folders, validation annotations.
#include "data/tiny_imagenet.h"

#include <unordered_map>
#include <unordered_set>

#include "data/files.h"
#include "data/image_decode.h"
#include "data/image_folder.h"
#include "engine/check.h"

// The LIEC-SGD authors' constants for Tiny ImageNet (measured at 32x32; used at 64x64 too).
const Normalization kTinyImageNetNormalization = {{0.4169f, 0.3874f, 0.3430f}, {0.2862f, 0.2728f, 0.2751f}};

namespace {

constexpr int kStoredSize = 64;

Dataset decoded(std::vector<std::string> paths, std::vector<int32_t> labels, const std::vector<std::string>& names,
                int size) {
  Dataset d;
  d.height = d.width = size;
  d.classes = static_cast<int>(names.size());
  d.class_names = names;
  d.labels = std::move(labels);
  d.images.resize(paths.size() * d.image_bytes());
  decode_images(paths, kStoredSize, size, d.images.data());
  return d;
}

}  // namespace

std::string find_tiny_imagenet_dir(const std::string& dir) {
  if (is_file(dir + "/wnids.txt")) return dir;
  if (is_file(dir + "/tiny-imagenet-200/wnids.txt")) return dir + "/tiny-imagenet-200";
  return "";
}

namespace {
// A name from a data file that becomes part of a path: one path component, not hidden.
bool plain_file_name(const std::string& name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}
}  // namespace

std::vector<std::string> parse_wnids(const std::vector<std::string>& lines, const std::string& name) {
  std::vector<std::string> wnids;
  std::unordered_set<std::string> seen;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    if (!plain_file_name(line)) fail_input("%s names class '%s', which is not a folder name", name.c_str(), line.c_str());
    if (!seen.insert(line).second) fail_input("%s names %s twice", name.c_str(), line.c_str());
    wnids.push_back(line);
  }
  if (wnids.empty()) fail_input("%s names no classes", name.c_str());
  return wnids;
}

std::vector<Annotation> parse_val_annotations(const std::vector<std::string>& lines, const std::string& name,
                                              const std::vector<std::string>& wnids) {
  std::unordered_map<std::string, int32_t> label_of;
  for (size_t c = 0; c < wnids.size(); ++c) label_of[wnids[c]] = static_cast<int32_t>(c);
  std::vector<Annotation> annotations;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const size_t tab1 = lines[i].find('\t'), tab2 = lines[i].find('\t', tab1 + 1);
    if (tab1 == std::string::npos) fail_input("%s:%zu: expected <file>\\t<wnid>", name.c_str(), i + 1);
    const std::string file = lines[i].substr(0, tab1);
    if (file.empty()) fail_input("%s:%zu: the line names no image file", name.c_str(), i + 1);
    if (!plain_file_name(file)) fail_input("%s:%zu: '%s' is not a file name in val/images", name.c_str(), i + 1, file.c_str());
    const std::string wnid = lines[i].substr(tab1 + 1, tab2 == std::string::npos ? std::string::npos : tab2 - tab1 - 1);
    const auto found = label_of.find(wnid);
    if (found == label_of.end()) fail_input("%s:%zu: class %s is not in wnids.txt", name.c_str(), i + 1, wnid.c_str());
    annotations.push_back(Annotation{file, found->second});
  }
  if (annotations.empty()) fail_input("%s lists no images", name.c_str());
  return annotations;
}

DatasetSplits load_tiny_imagenet(const std::string& dir, int image_size) {
  const std::string root = find_tiny_imagenet_dir(dir);
  if (root.empty()) fail_input("no Tiny ImageNet (wnids.txt) in %s or %s/tiny-imagenet-200", dir.c_str(), dir.c_str());
  if (image_size == 0) image_size = kStoredSize;
  if (image_size != kStoredSize && image_size * 2 != kStoredSize)
    fail_input("--image-size %d: Tiny ImageNet is 64x64 and can be loaded at 64 or 32", image_size);

  const std::vector<std::string> wnids = parse_wnids(read_lines(root + "/wnids.txt"), root + "/wnids.txt");

  std::vector<std::string> paths;
  std::vector<int32_t> labels;
  for (size_t c = 0; c < wnids.size(); ++c) {
    const std::string images = root + "/train/" + wnids[c] + "/images";
    if (!is_directory(images))
      fail_input("%s/wnids.txt names class %s, but there is no folder %s", root.c_str(), wnids[c].c_str(), images.c_str());
    const size_t before = paths.size();
    for (const std::string& file : list_directory(images, /*directories=*/false))
      if (is_image_file(file)) {
        paths.push_back(images + "/" + file);
        labels.push_back(static_cast<int32_t>(c));
      }
    if (paths.size() == before) fail_input("class folder %s holds no JPEG or PNG images", images.c_str());
  }

  std::vector<std::string> val_paths;
  std::vector<int32_t> val_labels;
  const std::string annotations = root + "/val/val_annotations.txt";
  for (const Annotation& a : parse_val_annotations(read_lines(annotations), annotations, wnids)) {
    val_paths.push_back(root + "/val/images/" + a.file);
    val_labels.push_back(a.label);
  }

  DatasetSplits s;
  s.name = "tinyimagenet";
  s.train = decoded(std::move(paths), std::move(labels), wnids, image_size);
  s.test = decoded(std::move(val_paths), std::move(val_labels), wnids, image_size);
  s.normalization = kTinyImageNetNormalization;
  return s;
}
