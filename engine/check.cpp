// The fatal-error functions behind the check macros.
#include "engine/check.h"

#include <atomic>
#include <chrono>
#include <cstdarg>
#include <mutex>
#include <thread>

namespace {
thread_local bool throw_user_errors = false;

thread_local bool exiting = false;
std::atomic<bool> print_user_error_lines{true};

// Formats a message as one printable line: text taken from a damaged file (a binary wnids.txt)
// must not break the one-line error with newlines or reach the terminal as control codes.
void format_line(char* line, size_t size, const char* format, va_list args) {
  std::vsnprintf(line, size, format, args);
  for (char* c = line; *c; ++c)
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) *c = '?';
}

// One line on stderr, after whatever stdout still holds, then the exit. When the ranks of one
// process fail together, the first thread through prints its line whole and ends the process; the
// others wait here (std::exit from two threads at once is undefined, and lines would interleave).
// A failure during the exit itself (a destructor's check) ends the process at once.
[[noreturn]] void fail(int code, const char* prefix, const char* format, va_list args) {
  if (exiting) std::_Exit(code);
  static std::mutex* const first = new std::mutex;  // never destroyed: it stays locked to the end
  first->lock();
  exiting = true;
  char message[2048];
  format_line(message, sizeof message, format, args);
  std::fflush(stdout);
  std::fprintf(stderr, "%s%s\n", prefix, message);
  std::exit(code);
}
}  // namespace

void report_user_errors_by_exception(bool enabled) { throw_user_errors = enabled; }

void print_user_errors(bool enabled) { print_user_error_lines = enabled; }

void fail_input(const char* format, ...) {
  va_list args;
  va_start(args, format);
  if (throw_user_errors) {
    char message[1024];
    format_line(message, sizeof message, format, args);
    va_end(args);
    throw UserError(message);
  }
  if (!print_user_error_lines) {
    // mpirun ends the whole job when one rank exits: the rank that prints gets a head start.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::exit(2);
  }
  fail(2, "error: ", format, args);
}

void fail_internal(const char* file, int line, const char* format, ...) {
  char prefix[512];
  std::snprintf(prefix, sizeof prefix, "fatal: %s:%d: ", file, line);
  va_list args;
  va_start(args, format);
  fail(1, prefix, format, args);
}

int exit_code_of(const std::function<int()>& body) {
  try {
    return body();
  } catch (const UserError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

const char* cublas_status_string(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized (is a GPU present?)";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_MAPPING_ERROR: return "mapping error";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "unknown status";
  }
}
