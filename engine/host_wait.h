// The host waiting for work queued on the GPU, with a watch that can give up. A blocking CUDA
// wait (cudaStreamSynchronize) cannot be interrupted: where the work may never finish, because it
// waits for a peer's message that does not come (NCCL), the host polls instead and asks the watch.
#pragma once

#include <functional>

class WaitWatch {
 public:
  virtual ~WaitWatch() = default;
  // Told, between polls, how long the host has waited so far. Throws to give up, after making the
  // unfinished work end (the NCCL transport aborts its communicator).
  virtual void waiting(double seconds) = 0;
};

// Polls `done` until it returns true, telling `watch` the seconds waited after each miss.
void wait_polling(const std::function<bool()>& done, WaitWatch& watch);
