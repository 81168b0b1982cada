// Files written whole or not at all: into a temporary beside the target, flushed to the disk, then
// renamed over it. A reader (or a resumed run) finds the old file or the new one, never a torn one.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

// A file that cannot be written (a full disk, a missing folder) is a one-line user error, and
// whatever was at `path` before stays there; the temporary is removed. `on_failure` runs first
// (a caller's own clean-up of what else this write was part of).
void write_file_atomically(const std::string& path, const void* data, size_t size,
                           const std::function<void()>& on_failure = {});
