// A run folder held by one run at a time: two runs started into one folder would write one log.
#pragma once

#include <string>

// Holds an exclusive lock (flock) on the folder itself, made if missing, for its lifetime; a
// second holder, in this process or another, is refused with a user error. The lock leaves no file
// behind, and the system releases it when the process ends, however it ends.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& directory);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  int fd_ = -1;
};
