// Errors: the two kinds a failure can be, the check macros for CUDA, cuDNN and cuBLAS calls, and
// the one place where an error becomes a line on stderr and an exit code.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

// Every failure is thrown where it is found and said once, where a process or a rank thread ends
// (exit_code_of in main; run_local_ranks carries a rank thread's error back to it). Nothing deep in
// the code exits: a test binary sees a failing CUDA call fail its test case, and the ranks sharing
// a process are never pulled from under each other.

// Bad input from the user (flags, data files, configurations): exit code 2.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A user error that another process of the same mpirun job says: this one exits with code 2
// without a line, so that the user reads one line, not one per rank.
struct UserErrorSaidElsewhere : UserError {
  using UserError::UserError;
};
// Anything else (a library call that failed, an impossible state): exit code 1. Its text starts
// with the file and line that found it.
struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throw UserError and InternalError; the message is formatted as one printable line.
[[noreturn]] void fail_input(const char* format, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fail_internal(const char* file, int line, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// The error's line on stderr ("error: ..." or "fatal: file:line: ...", nothing for
// UserErrorSaidElsewhere) and its exit code: 2 for a user error, 1 for anything else.
int report_error(const std::exception& error);

// Runs a program's body and returns its exit code, or the reported error's.
int exit_code_of(const std::function<int()>& body);

const char* cublas_status_string(cublasStatus_t status);

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    cudaError_t status_ = (call);                                                          \
    if (status_ != cudaSuccess)                                                            \
      fail_internal(__FILE__, __LINE__, "CUDA: %s (%s)", cudaGetErrorString(status_), #call); \
  } while (0)

#define CUDNN_CHECK(call)                                                                      \
  do {                                                                                         \
    cudnnStatus_t status_ = (call);                                                            \
    if (status_ != CUDNN_STATUS_SUCCESS)                                                       \
      fail_internal(__FILE__, __LINE__, "cuDNN: %s (%s)", cudnnGetErrorString(status_), #call); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                        \
  do {                                                                                            \
    cublasStatus_t status_ = (call);                                                              \
    if (status_ != CUBLAS_STATUS_SUCCESS)                                                         \
      fail_internal(__FILE__, __LINE__, "cuBLAS: %s (%s)", cublas_status_string(status_), #call); \
  } while (0)

// After a kernel launch: catches bad launch configurations at the launch site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())

#define CHECK(condition, ...)                                         \
  do {                                                                \
    if (!(condition)) fail_internal(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
