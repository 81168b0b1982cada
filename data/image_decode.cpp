// Parallel image decoding with stb_image: threads take files from a shared counter; errors are
// collected, not raised in a worker thread, and reported after all threads have joined.
#include "data/image_decode.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <stb/stb_image.h>

#include "data/files.h"
#include "data/jpeg_tables.h"
#include "data/png_chunks.h"
#include "engine/check.h"

namespace {

// stb_image's reason for its last failure, when it is a short printable text: on some damaged PNGs
// (found by tests/fuzz/fuzz_image.cpp) it hands back bytes that are not one.
std::string decoder_reason() {
  const char* reason = stbi_failure_reason();
  const std::string unknown = "not a JPEG or PNG that can be decoded";
  if (reason == nullptr) return unknown;
  // data/stb_image.cpp caps stb_image's allocations: past the cap it says "outofmem".
  if (std::string(reason) == "outofmem") return "damaged (it claims more data than a 64x64 image holds)";
  for (size_t i = 0; i < 64; ++i) {
    if (reason[i] == '\0') return i == 0 ? unknown : std::string(reason, i);
    if (reason[i] < 0x20 || reason[i] > 0x7e) return unknown;
  }
  return unknown;
}

// The size from the file's header, or what is wrong with it: read before anything is decoded, so
// that a damaged or hostile header claiming 16384x16384 is refused before a gigabyte is asked for.
std::string read_image_header(const std::vector<uint8_t>& bytes, const std::string& path, int* width, int* height) {
  if (bytes.empty()) return "image " + path + " is empty (0 bytes)";
  if (bytes.size() > (1u << 30)) return "image " + path + " is over 1 GiB: not an image of this dataset";
  if (!jpeg_huffman_tables_safe(bytes.data(), bytes.size()))
    return "cannot decode image " + path + ": corrupt JPEG (a Huffman table with more than 256 codes)";
  int channels = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), width, height, &channels))
    return "cannot decode image " + path + ": " + decoder_reason();
  return "";
}

}  // namespace

std::string decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& path, int stored_size, int size,
                               uint8_t* out) {
  int width = 0, height = 0, channels = 0;
  const auto wrong_size = [&] {
    return "image " + path + " is " + std::to_string(width) + "x" + std::to_string(height) + ", expected " +
           std::to_string(stored_size) + "x" + std::to_string(stored_size);
  };
  const std::string error = read_image_header(bytes, path, &width, &height);
  if (!error.empty()) return error;
  if (width != stored_size || height != stored_size) return wrong_size();
  std::vector<uint8_t> without_empty_chunks;
  const std::vector<uint8_t>& decoded =
      drop_empty_png_data_chunks(bytes, &without_empty_chunks) ? without_empty_chunks : bytes;
  stbi_uc* pixels =
      stbi_load_from_memory(decoded.data(), static_cast<int>(decoded.size()), &width, &height, &channels, 3);
  if (pixels == nullptr) return "cannot decode image " + path + ": " + decoder_reason();
  if (width != stored_size || height != stored_size) {  // the header and the decoder agree, but be sure
    stbi_image_free(pixels);
    return wrong_size();
  }
  const int factor = stored_size / size;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) {
        int sum = 0;
        for (int dy = 0; dy < factor; ++dy)
          for (int dx = 0; dx < factor; ++dx) sum += pixels[((y * factor + dy) * stored_size + x * factor + dx) * 3 + c];
        const int count = factor * factor;
        out[(y * size + x) * 3 + c] = static_cast<uint8_t>((sum + count / 2) / count);
      }
  stbi_image_free(pixels);
  return "";
}

namespace {

// Empty on success, else what went wrong with this file.
std::string decode_one(const std::string& path, int stored_size, int size, uint8_t* out) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!try_read_file_bytes(path, &bytes, &error)) return error;
  return decode_image_bytes(bytes, path, stored_size, size, out);
}

}  // namespace

void decode_images(const std::vector<std::string>& paths, int stored_size, int size, uint8_t* out) {
  CHECK(size == stored_size || size * 2 == stored_size, "cannot resize %d to %d", stored_size, size);
  std::vector<std::string> errors(paths.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < paths.size(); i = next++)
      errors[i] = decode_one(paths[i], stored_size, size, out + i * static_cast<size_t>(size) * size * 3);
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), 64));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (const std::string& error : errors)
    if (!error.empty()) fail_input("%s", error.c_str());
}

void image_dimensions(const std::string& path, int* width, int* height) {
  const std::string error = read_image_header(read_file_bytes(path), path, width, height);
  if (!error.empty()) fail_input("%s", error.c_str());
}
