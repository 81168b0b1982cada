// Atomic file replacement: write path.tmp, fsync it, rename it over path.
#include "engine/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "engine/check.h"

void write_file_atomically(const std::string& path, const void* data, size_t size) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) fail_input("cannot write %s: %s", temporary.c_str(), std::strerror(errno));
  // fsync before the rename: else a crash soon after could leave the new name on empty blocks.
  const bool written =
      std::fwrite(data, 1, size, file) == size && std::fflush(file) == 0 && fsync(fileno(file)) == 0;
  if (std::fclose(file) != 0 || !written) fail_input("cannot write %s: %s", temporary.c_str(), std::strerror(errno));
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    fail_input("cannot rename %s to %s: %s", temporary.c_str(), path.c_str(), std::strerror(errno));
}
