// A run folder held by one run at a time: two runs started into one folder would write one log.
#pragma once

#include <string>

// Holds an exclusive lock (flock) on the folder itself, made if missing, for its lifetime; a
// second holder, in this process or another, is refused with a user error. The lock leaves no file
// behind, and the system releases it when the process ends, however it ends. A folder it made and
// that is still empty when it is released (the run failed before writing) is removed again.
class RunFolderLock {
 public:
  explicit RunFolderLock(const std::string& directory);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

 private:
  std::string directory_;
  bool made_ = false;  // the folder did not exist before
  int fd_ = -1;
};
