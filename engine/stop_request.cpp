// SIGTERM/SIGINT as a request to checkpoint and stop: see stop_request.h.
#include "engine/stop_request.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "engine/check.h"

namespace {

std::atomic<bool> requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set inside a signal handler");

void on_stop_signal(int signal_number) {
  if (requested.exchange(true)) {  // the second signal: the default action, now
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  static const char kNotice[] =
      "\nstop requested: saving a checkpoint at the next log interval, then exiting (signal again to stop "
      "at once)\n";
  const ssize_t ignored = write(STDERR_FILENO, kNotice, sizeof kNotice - 1);  // async-signal-safe
  (void)ignored;
}

}  // namespace

void install_stop_request_handlers() {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and waits under way carry on
  for (int signal_number : {SIGTERM, SIGINT})
    CHECK(sigaction(signal_number, &action, nullptr) == 0, "sigaction: %s", std::strerror(errno));
}

bool stop_requested() { return requested.load(); }
