// Error checking for CUDA, cuDNN and cuBLAS calls, and the one-line fatal errors the CLI uses.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

// Bad input from the user (flags, data files, configurations): one line on stderr, exit code 2.
// In a thread that several ranks of one process share the process with, exiting would pull the
// process from under the other ranks; there it throws UserError instead, which the thread's
// launcher carries back to main (see run_local_ranks), and main exits with code 2.
[[noreturn]] void fail_input(const char* format, ...) __attribute__((format(printf, 1, 2)));

struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
void report_user_errors_by_exception(bool enabled);  // for the calling thread
// Off: a user error exits with code 2 without its line. For checks that every process of an
// mpirun job makes alike (the flags), so that the user reads one line, not one per rank.
void print_user_errors(bool enabled);  // for the whole process

// Runs a program's body and returns its exit code. What it throws (a rank thread's error, which
// run_local_ranks carries back) is said in one line and becomes exit code 2 for a UserError, 1
// for anything else.
int exit_code_of(const std::function<int()>& body);

// An internal failure (a library call that failed, an impossible state): exit code 1.
[[noreturn]] void fail_internal(const char* file, int line, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

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
