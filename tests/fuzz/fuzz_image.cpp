// The image decoder (stb_image's JPEG and PNG, behind our size checks) on arbitrary bytes.
//
// Input: the file. It is decoded as each dataset would: stored 32x32 (CIFAR folders) and 64x64
// (Tiny ImageNet), each at full and half size, into buffers of exactly the output's size.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "data/image_decode.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  for (int stored : {32, 64})
    for (int out_size : {stored, stored / 2}) {
      const size_t out_bytes = static_cast<size_t>(out_size) * out_size * 3;
      uint8_t* out = static_cast<uint8_t*>(std::malloc(out_bytes));
      const std::string error = decode_image_bytes(bytes, "fuzzed.jpg", stored, out_size, out);
      // An error is one line that names the file.
      if (!error.empty() && (error.find("fuzzed.jpg") == std::string::npos || error.find('\n') != std::string::npos))
      {
        std::fprintf(stderr, "not one line naming the file: '%s'\n", error.c_str());
        std::abort();
      }
      std::free(out);
    }
  return 0;
}
