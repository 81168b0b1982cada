// The two error kinds thrown, and where an error becomes one line on stderr and an exit code.
#include "engine/check.h"

#include <chrono>
#include <cstdarg>
#include <thread>

namespace {

// Formats a message as one printable line: text taken from a damaged file (a binary wnids.txt)
// must not break the one-line error with newlines or reach the terminal as control codes.
std::string format_line(const char* format, va_list args) {
  char line[2048];
  std::vsnprintf(line, sizeof line, format, args);
  for (char* c = line; *c; ++c)
    if (static_cast<unsigned char>(*c) < 0x20 || *c == 0x7f) *c = '?';
  return line;
}

}  // namespace

void fail_input(const char* format, ...) {
  va_list args;
  va_start(args, format);
  const std::string message = format_line(format, args);
  va_end(args);
  throw UserError(message);
}

void fail_internal(const char* file, int line, const char* format, ...) {
  va_list args;
  va_start(args, format);
  const std::string message = format_line(format, args);
  va_end(args);
  throw InternalError(std::string(file) + ":" + std::to_string(line) + ": " + message);
}

int report_error(const std::exception& error) {
  std::fflush(stdout);  // whatever the run printed comes before its error
  if (dynamic_cast<const UserErrorSaidElsewhere*>(&error) != nullptr) {
    // mpirun ends the whole job when one rank exits: the rank that says it gets a head start.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    return 2;
  }
  const bool internal = dynamic_cast<const InternalError*>(&error) != nullptr;
  std::fprintf(stderr, "%s%s\n", internal ? "fatal: " : "error: ", error.what());
  return dynamic_cast<const UserError*>(&error) != nullptr ? 2 : 1;
}

int exit_code_of(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return report_error(e);
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
