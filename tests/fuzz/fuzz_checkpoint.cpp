// The checkpoint reader on arbitrary bytes.
//
// Input: one byte, then the file. A file's last 8 bytes are a checksum of the rest, which random
// bytes almost never match; when the first byte is odd, the harness writes the right checksum over
// them, so that the fuzzer reaches the parser behind it (counts, names, lengths).
#include <cstdlib>
#include <cstring>

#include "engine/checkpoint.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput input(data, size);
  const bool fix_checksum = input.byte() & 1;
  std::vector<uint8_t> bytes = input.rest();
  if (fix_checksum && bytes.size() >= 8) {
    const uint64_t h = checkpoint_checksum(bytes.data(), bytes.size() - 8);
    std::memcpy(bytes.data() + bytes.size() - 8, &h, 8);
  }
  try {
    const CheckpointReader reader(bytes, "fuzzed.bin");
    size_t floats = 0;
    for (const auto& [name, v] : reader.vectors()) floats += v.size();
    if (floats * sizeof(float) > bytes.size()) std::abort();  // nothing is sized past what the file holds
    Context cpu(ContextOptions{Device::CPU});
    for (const auto& [name, v] : reader.vectors()) {
      std::vector<float> out(v.size());
      reader.read_vector(name, cpu, out.data(), out.size());
      if (!v.empty() && std::memcmp(out.data(), v.data(), v.size() * sizeof(float)) != 0) std::abort();
    }
  } catch (const UserError&) {
  }
  return 0;
}
