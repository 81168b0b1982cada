// SIGTERM/SIGINT/SIGUSR1 as a request to checkpoint and stop: see stop_request.h.
#include "engine/stop_request.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/check.h"

namespace {

// When the first signal came (monotonic clock, ms; 0: none yet).
std::atomic<int64_t> first_signal_ms{0};
static_assert(std::atomic<int64_t>::is_always_lock_free, "it is set inside a signal handler");

// `timeout` signals the process and then its whole group, so one request can arrive twice within
// microseconds: only a signal this long after the first means "stop at once".
constexpr int64_t kRepeatAfterMs = 2000;

int64_t monotonic_ms() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);  // async-signal-safe
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

void on_stop_signal(int signal_number) {
  const int saved_errno = errno;  // the interrupted code may be about to read it
  const int64_t now = monotonic_ms() + 1;  // never 0
  int64_t first = 0;
  if (first_signal_ms.compare_exchange_strong(first, now)) {
    static const char kNotice[] =
        "\nstop requested: saving a checkpoint at the next log interval, then exiting (signal again, 2 s or "
        "more later, to stop at once)\n";
    const ssize_t ignored = write(STDERR_FILENO, kNotice, sizeof kNotice - 1);
    (void)ignored;
  } else if (now - first >= kRepeatAfterMs) {  // the default action, now
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
  }
  errno = saved_errno;
}

}  // namespace

void install_stop_request_handlers(bool under_mpirun) {
  struct sigaction action = {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // reads and waits under way carry on
  // Under mpirun a SIGTERM is how mpirun ends the job (a rank failed, or it was itself signalled):
  // it kills the rank a moment later, so promising a checkpoint would be a lie.
  const std::vector<int> signals = under_mpirun ? std::vector<int>{SIGINT, SIGUSR1} : std::vector<int>{SIGTERM, SIGINT, SIGUSR1};
  for (int signal_number : signals)
    CHECK(sigaction(signal_number, &action, nullptr) == 0, "sigaction: %s", std::strerror(errno));
}

bool stop_requested() { return first_signal_ms.load() != 0; }
