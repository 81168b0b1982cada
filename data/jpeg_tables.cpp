// Walks a JPEG's marker segments (and over its entropy-coded scans) to check every DHT segment
// as stb_image reads it.
#include "data/jpeg_tables.h"

namespace {

// stb_image reads zeros past the end of the file.
uint8_t byte_at(const uint8_t* bytes, size_t size, size_t at) { return at < size ? bytes[at] : 0; }

// A DHT segment whose body starts at `at` and declares `length` bytes (after the length field):
// tables of a class/id byte, 16 counts and that many symbols, read while the declared length
// lasts, as stb_image reads them (a class or id out of range stops it, which is safe).
bool dht_safe(const uint8_t* bytes, size_t size, size_t at, long length) {
  while (length > 0) {
    const uint8_t id = byte_at(bytes, size, at++);
    if ((id >> 4) > 1 || (id & 15) > 3) return true;
    long codes = 0;
    for (int i = 0; i < 16; ++i) codes += byte_at(bytes, size, at++);
    if (codes > 256) return false;
    at += static_cast<size_t>(codes);
    length -= 17 + codes;
    if (at > size + (1u << 20)) return true;  // far past the end: stb_image has long given up
  }
  return true;
}

}  // namespace

bool jpeg_huffman_tables_safe(const uint8_t* bytes, size_t size) {
  // stb_image takes a file for a JPEG when it starts with 0xFF, any more 0xFF fill, then SOI.
  size_t at = 0;
  if (size == 0 || bytes[0] != 0xFF) return true;
  while (at < size && bytes[at] == 0xFF) ++at;
  if (at >= size || bytes[at] != 0xD8) return true;
  ++at;
  while (at < size) {
    if (bytes[at] != 0xFF) {  // inside a scan's entropy-coded data (or junk): on to the next marker
      ++at;
      continue;
    }
    while (at < size && bytes[at] == 0xFF) ++at;  // fill bytes
    if (at >= size) break;
    const uint8_t marker = bytes[at++];
    // Stuffed 0xFF in a scan, restart markers, SOI and TEM carry no length.
    if (marker == 0x00 || (marker >= 0xD0 && marker <= 0xD8) || marker == 0x01) continue;
    if (marker == 0xD9) break;  // EOI
    const long length = (static_cast<long>(byte_at(bytes, size, at)) << 8) | byte_at(bytes, size, at + 1);
    if (marker == 0xC4 && !dht_safe(bytes, size, at + 2, length - 2)) return false;
    if (length < 2) break;  // stb_image refuses such a segment
    at += static_cast<size_t>(length);
  }
  return true;
}
