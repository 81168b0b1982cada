// The one translation unit that compiles stb_image (header-only, from the system's libstb-dev).
#include <cstdlib>

// stb_image asserts its own invariants, and a damaged file can break one (the image fuzzer found a
// JPEG whose Huffman code leads to a symbol of another length): an assert would end the process
// over one bad image, and evaluating that check can itself shift by 32 bits or more. Without them
// stb_image goes on within bounds, as in an NDEBUG build (the fuzzer checks it under ASan and
// UBSan), and decodes garbage or refuses the file further on.
#define STBI_ASSERT(condition) ((void)0)
// Its allocations are zeroed and capped. Zeroed: a damaged file can make it read table entries no
// table wrote, which would otherwise hold whatever the heap held and decode differently from run to
// run. Capped: it sizes buffers by what a file claims before reading it (a PNG data chunk that
// says it holds 2 GiB, found by the fuzzer), and the images it is given here are at most 64x64,
// checked from the header first; past the cap it refuses the file as out of memory.
namespace {
constexpr size_t kMaxStbAllocation = size_t{64} << 20;
void* stb_allocate(size_t bytes) { return bytes > kMaxStbAllocation ? nullptr : std::calloc(1, bytes); }
void* stb_reallocate(void* pointer, size_t bytes) {
  return bytes > kMaxStbAllocation ? nullptr : std::realloc(pointer, bytes);
}
}  // namespace
#define STBI_MALLOC(bytes) stb_allocate(bytes)
#define STBI_REALLOC(pointer, bytes) stb_reallocate(pointer, bytes)
#define STBI_FREE(pointer) std::free(pointer)
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

