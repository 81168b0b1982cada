// A PNG's empty image-data chunks, dropped before stb_image sees the file: Debian's stb_image
// (2022-09) copies a zero-length IDAT chunk to a buffer it has not allocated yet, memcpy(NULL, ...,
// 0), which is undefined behaviour (found by tests/fuzz/fuzz_image.cpp). An empty IDAT holds no
// data, so the file without it is the same image.
#pragma once

#include <cstdint>
#include <vector>

// True, with `without` the file minus its zero-length IDAT chunks, if these bytes are a PNG that
// has any (walked chunk by chunk while the lengths stay inside the file, the last chunk's CRC
// perhaps cut off); false otherwise.
bool drop_empty_png_data_chunks(const std::vector<uint8_t>& bytes, std::vector<uint8_t>* without);
