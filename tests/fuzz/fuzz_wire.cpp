// Every compressor's decoder on hostile messages, on the CPU and on the emulated GPU.
//
// Input: 8 bytes that choose the compressor and its layout, then the message (tests/fuzz/README.md
// has the layout). The decoders' contract (compress/compressor.h): a message is decoded into
// exactly count() floats or refused, with MessageError at once on the CPU; on the GPU the decoding
// kernels write zeros and check_messages() throws. Both ends decode the same bytes alike, so a
// message the CPU accepts must decode to the same bits on the GPU, and one it refuses must be
// refused there too. Output buffers are exactly count() floats, so a decoder that writes one past
// the vector is an AddressSanitizer finding.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "compress/compressor.h"
#include "fuzz_support.h"
#include "fuzz_wire_layout.h"

namespace {

Context& cpu() {
  static Context context(ContextOptions{Device::CPU});
  return context;
}
Context& gpu() {  // its kernels run under tests/emulation's emulator
  static Context context(ContextOptions{Device::CUDA});
  return context;
}

// Exactly n elements of malloc'd memory, so that one past the end is reported.
template <typename T>
struct Exact {
  explicit Exact(size_t n) : data(static_cast<T*>(std::malloc(n * sizeof(T) + (n == 0)))) {}
  ~Exact() { std::free(data); }
  T* data;
};

// Decodes on `ctx`; false if the message was refused.
bool decode(Compressor& compressor, Context& ctx, const std::vector<uint8_t>& message, float* out, const MessageKey& key) {
  Exact<uint8_t> copy(message.size());
  if (!message.empty()) std::memcpy(copy.data, message.data(), message.size());
  try {
    compressor.decompress(ctx, copy.data, message.size(), out, key);  // a receive buffer, even for 0 bytes
    compressor.check_messages(ctx);
    return true;
  } catch (const MessageError&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput input(data, size);
  const WireCase c = read_wire_case(input);
  const std::vector<uint8_t> message = input.rest();

  auto on_cpu = make_compressor(cpu(), c.config, c.blocks);
  auto on_gpu = make_compressor(gpu(), c.config, c.blocks);
  const size_t n = on_cpu->count();
  Exact<float> cpu_out(n), gpu_out(n);
  const bool cpu_accepted = decode(*on_cpu, cpu(), message, cpu_out.data, c.key);
  const bool gpu_accepted = decode(*on_gpu, gpu(), message, gpu_out.data, c.key);
  if (cpu_accepted != gpu_accepted) {
    std::fprintf(stderr, "%s: the CPU %s the message, the GPU %s it\n", compressor_name(c.config.kind),
                 cpu_accepted ? "accepted" : "refused", gpu_accepted ? "accepted" : "refused");
    std::abort();
  }
  for (size_t i = 0; i < n; ++i) {
    const float want = cpu_accepted ? cpu_out.data[i] : 0.0f;  // a refused message decodes to zeros on the GPU
    if (std::memcmp(&gpu_out.data[i], &want, sizeof(float)) != 0) {
      std::fprintf(stderr, "%s: element %zu decodes to %g on the GPU, %g expected (message %s)\n",
                   compressor_name(c.config.kind), i, gpu_out.data[i], want, cpu_accepted ? "accepted" : "refused");
      std::abort();
    }
  }
  return 0;
}
