// Tiny ImageNet's two text files, wnids.txt and val/val_annotations.txt, on arbitrary bytes.
//
// Input: wnids.txt, a zero byte, val_annotations.txt. Accepted class names are distinct plain
// folder names; accepted annotations name a plain file and a label in range.
#include <cstdlib>
#include <set>

#include "data/files.h"
#include "data/tiny_imagenet.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::vector<uint8_t>> parts = split_bytes(std::vector<uint8_t>(data, data + size), 0);
  std::vector<std::string> wnids;
  try {
    wnids = parse_wnids(split_lines(parts[0]), "wnids.txt");
  } catch (const UserError&) {
    return 0;
  }
  if (wnids.empty() || std::set<std::string>(wnids.begin(), wnids.end()).size() != wnids.size()) std::abort();
  for (const std::string& w : wnids)
    if (w.empty() || w[0] == '.' || w.find('/') != std::string::npos) std::abort();
  if (parts.size() < 2) return 0;
  try {
    for (const Annotation& a : parse_val_annotations(split_lines(parts[1]), "val_annotations.txt", wnids))
      if (a.label < 0 || a.label >= static_cast<int32_t>(wnids.size()) || a.file.empty() || a.file[0] == '.' ||
          a.file.find('/') != std::string::npos)
        std::abort();
  } catch (const UserError&) {
  }
  return 0;
}
