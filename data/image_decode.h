// Decoding many JPEG/PNG files into one uint8 NHWC array, spread over all cores.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

// Decodes paths[i] into out + i * size * size * 3 as RGB (grayscale and RGBA become RGB). Every
// file must be `stored_size` square; when size is stored_size / 2 each output pixel is the
// rounded average of a 2x2 box. A file that is missing, corrupt or of another size stops the
// program with an error naming it (the first such file in order, whichever thread met it).
void decode_images(const std::vector<std::string>& paths, int stored_size, int size, uint8_t* out);

// One file's bytes (named `path` in errors) into out, as decode_images does: empty on success,
// else what is wrong with it (empty, undecodable, another size). Any bytes at all are safe input.
std::string decode_image_bytes(const std::vector<uint8_t>& bytes, const std::string& path, int stored_size, int size,
                               uint8_t* out);

// The width and height of an image file, without decoding it.
void image_dimensions(const std::string& path, int* width, int* height);
