// The CIFAR-10/100 binary record reader on arbitrary bytes.
//
// Input: one byte choosing the layout (CIFAR-10, CIFAR-100 fine or coarse labels), then the file.
// An accepted file must hold whole records, each label in range, and exactly 32x32x3 pixels each.
#include <cstdlib>

#include "data/cifar.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput input(data, size);
  const CifarLayout layouts[] = {kCifar10Layout, kCifar100FineLayout, kCifar100CoarseLayout};
  const CifarLayout& layout = layouts[input.byte() % 3];
  const std::vector<uint8_t> bytes = input.rest();
  Dataset d;
  try {
    append_cifar_records(bytes, "fuzzed.bin", layout, d);
  } catch (const UserError&) {
    return 0;
  }
  const size_t records = bytes.size() / (layout.label_bytes + 3072);
  if (records == 0 || d.labels.size() != records || d.images.size() != records * 3072) std::abort();
  for (int32_t label : d.labels)
    if (label < 0 || label >= layout.classes) std::abort();
  return 0;
}
