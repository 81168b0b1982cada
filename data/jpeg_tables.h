// A check of a JPEG's Huffman tables before stb_image sees them: Debian's stb_image (2022-09)
// writes past its 257-entry size table when a DHT segment's 16 counts add up to more than 256
// (found by tests/fuzz/fuzz_image.cpp), so such a file must never reach it.
#pragma once

#include <cstddef>
#include <cstdint>

// False if stb_image would take these bytes for a JPEG and meet a Huffman table of more than 256
// codes in a DHT segment (read as it reads them, zeros past the end); true otherwise, damaged or
// not: what this check does not look at, the decoder refuses itself.
bool jpeg_huffman_tables_safe(const uint8_t* bytes, size_t size);
