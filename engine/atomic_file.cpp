// Atomic file replacement: write path.tmp, fsync it, rename it over path.
#include "engine/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "engine/check.h"

void write_file_atomically(const std::string& path, const void* data, size_t size,
                           const std::function<void()>& on_failure) {
  const std::string temporary = path + ".tmp";
  const auto fail = [&](const char* what, const std::string& name) {
    const std::string why = std::strerror(errno);
    std::remove(temporary.c_str());
    if (on_failure) on_failure();
    fail_input("cannot %s %s: %s", what, name.c_str(), why.c_str());
  };
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) fail("write", temporary);
  // fsync before the rename: else a crash soon after could leave the new name on empty blocks.
  const bool written =
      std::fwrite(data, 1, size, file) == size && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  if (std::fclose(file) != 0 || !written) fail("write", temporary);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) fail("rename into place", path);
}
