// Image folders: list, sort, decode in parallel.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>

#include "data/files.h"
#include "data/image_decode.h"
#include "engine/check.h"

bool is_image_file(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".jpg", ".jpeg", ".png"}) {
    const std::string e = ext;
    if (lower.size() > e.size() && lower.compare(lower.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

Dataset load_image_folder_split(const std::string& split_dir, int size) {
  if (!is_directory(split_dir)) fail_input("missing folder %s", split_dir.c_str());
  Dataset d;
  d.class_names = list_directory(split_dir, /*directories=*/true);
  if (d.class_names.empty()) fail_input("no class folders in %s", split_dir.c_str());
  d.classes = static_cast<int>(d.class_names.size());
  std::vector<std::string> paths;
  for (int c = 0; c < d.classes; ++c) {
    const std::string class_dir = split_dir + "/" + d.class_names[c];
    size_t found = 0;
    for (const std::string& file : list_directory(class_dir, /*directories=*/false))
      if (is_image_file(file)) {
        paths.push_back(class_dir + "/" + file);
        d.labels.push_back(c);
        ++found;
      }
    if (found == 0) fail_input("class folder %s holds no JPEG or PNG images", class_dir.c_str());
  }
  int width = 0, height = 0;
  image_dimensions(paths[0], &width, &height);
  if (width != height) fail_input("image %s is %dx%d; only square images are supported", paths[0].c_str(), width, height);
  if (size == 0) size = width;
  if (size != width && size * 2 != width)
    fail_input("images in %s are %dx%d: loading them at %dx%d needs %dx%d or %dx%d images", split_dir.c_str(), width,
               height, size, size, size, size, 2 * size, 2 * size);
  d.height = d.width = size;
  d.images.resize(paths.size() * d.image_bytes());
  decode_images(paths, width, size, d.images.data());
  return d;
}

DatasetSplits load_image_folder(const std::string& root, int size, const std::string& name,
                                const Normalization& normalization) {
  DatasetSplits s;
  s.name = name;
  s.train = load_image_folder_split(root + "/train", size);
  s.test = load_image_folder_split(root + "/test", size);
  if (s.test.class_names != s.train.class_names)
    fail_input("%s/test has other class folders than %s/train", root.c_str(), root.c_str());
  if (s.test.height != s.train.height)
    fail_input("%s: test images are %dx%d, training images %dx%d", root.c_str(), s.test.height, s.test.width,
               s.train.height, s.train.width);
  s.normalization = normalization;
  return s;
}
