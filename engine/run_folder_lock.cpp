// RunFolderLock: flock on the run folder's own descriptor.
#include "engine/run_folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/check.h"

RunFolderLock::RunFolderLock(const std::string& directory) : directory_(directory) {
  std::error_code error;
  made_ = std::filesystem::create_directories(directory, error);
  if (error) fail_input("cannot create run directory %s: %s", directory.c_str(), error.message().c_str());
  fd_ = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) fail_input("cannot open run directory %s: %s", directory.c_str(), std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
  const int reason = errno;
  ::close(fd_);
  fd_ = -1;
  if (reason == EWOULDBLOCK)
    fail_input("%s is in use by another run that has not ended: wait for it, or give another --run-dir",
               directory.c_str());
  fail_input("cannot lock run directory %s: %s", directory.c_str(), std::strerror(reason));
}

RunFolderLock::~RunFolderLock() {
  if (fd_ < 0) return;
  // rmdir removes the folder only while it is empty; done while the lock is held, so that no other
  // run has it yet.
  if (made_) ::rmdir(directory_.c_str());
  ::close(fd_);  // closing the descriptor releases the lock
}
