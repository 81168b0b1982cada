// The one translation unit that compiles stb_image (header-only, from the system's libstb-dev).
#include <cstdlib>

// stb_image asserts its own invariants, and a damaged file can break one (the image fuzzer found a
// JPEG whose Huffman code leads to a symbol of another length): an assert would end the process
// over one bad image, and evaluating that check can itself shift by 32 bits or more. Without them
// stb_image goes on within bounds, as in an NDEBUG build (the fuzzer checks it under ASan and
// UBSan), and decodes garbage or refuses the file further on.
#define STBI_ASSERT(condition) ((void)0)
// Its decoder state is allocated zeroed: a damaged file can make it read table entries no table
// wrote, which would otherwise hold whatever the heap held and decode differently from run to run.
#define STBI_MALLOC(bytes) std::calloc(1, bytes)
#define STBI_REALLOC(pointer, bytes) std::realloc(pointer, bytes)
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

