// The polling wait: a short sleep between polls keeps a core free for the other ranks' threads.
#include "engine/host_wait.h"

#include <chrono>
#include <thread>

void wait_polling(const std::function<bool()>& done, WaitWatch& watch) {
  const auto start = std::chrono::steady_clock::now();
  while (!done()) {
    watch.waiting(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}
