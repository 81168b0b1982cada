// File-system helpers.
#include "data/files.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/check.h"

bool try_read_file_bytes(const std::string& path, std::vector<uint8_t>* bytes, std::string* error) {
  // A folder would fail only at the first read, without a reason; a named pipe would block forever.
  std::error_code status_error;
  const auto type = std::filesystem::status(path, status_error).type();
  if (type != std::filesystem::file_type::regular && type != std::filesystem::file_type::not_found &&
      !status_error) {
    *error = "cannot read " + path + ": " +
             (type == std::filesystem::file_type::directory ? "it is a folder" : "it is not a regular file");
    return false;
  }
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    *error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  bytes->clear();
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, file)) > 0) bytes->insert(bytes->end(), chunk, chunk + got);
  const bool failed = std::ferror(file) != 0;
  const int reason = errno;
  std::fclose(file);
  if (failed) *error = "error reading " + path + ": " + std::strerror(reason);
  return !failed;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::vector<uint8_t> bytes;
  std::string error;
  if (!try_read_file_bytes(path, &bytes, &error)) fail_input("%s", error.c_str());
  return bytes;
}

std::vector<std::string> read_lines(const std::string& path) { return split_lines(read_file_bytes(path)); }

std::vector<std::string> split_lines(const std::vector<uint8_t>& bytes) {
  std::vector<std::string> lines;
  std::string line;
  for (uint8_t b : bytes) {
    if (b == '\n') {
      lines.push_back(line);
      line.clear();
    } else if (b != '\r') {  // tolerate CRLF files
      line.push_back(static_cast<char>(b));
    }
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

bool is_directory(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

bool is_file(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

std::vector<std::string> list_directory(const std::string& path, bool directories) {
  std::error_code error;
  std::filesystem::directory_iterator it(path, error);
  if (error) fail_input("cannot list %s: %s", path.c_str(), error.message().c_str());
  std::vector<std::string> names;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (name.front() == '.') continue;  // hidden: a file manager's or a notebook's, not data
    const bool is_dir = entry.is_directory(error);
    if (is_dir != directories) continue;
    // Silently skipping an image that cannot be read would train on a different set than listed.
    if (!directories && !entry.is_regular_file(error))
      fail_input("%s/%s is not a file that can be read (%s)", path.c_str(), name.c_str(),
                 entry.is_symlink(error) ? "a link to nothing" : "a device, pipe or socket");
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}
