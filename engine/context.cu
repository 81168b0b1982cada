// Context: creates and tears down the per-rank stream, library handles and memory.
#include "engine/context.h"

#include <cstring>

#include "engine/check.h"
#include "engine/conv.h"

Context::Context(const ContextOptions& options)
    : device(options.device),
      gpu(options.gpu),
      deterministic(options.deterministic),
      precision(options.precision),
      allocator(std::make_shared<CachingAllocator>(options.device)),
      conv_algorithms(std::make_unique<ConvAlgorithmCache>()),
      rng(options.seed),
      timer(*this) {
  if (device != Device::CUDA) return;
  if (!cuda_available()) fail_input("--device cuda was asked for, but no CUDA GPU is available");
  CUDA_CHECK(cudaSetDevice(gpu));
  if (precision != Precision::FP32) {
    int major = 0;
    CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, gpu));
    if (major < 8)
      fail_input("--precision %s needs an Ampere or newer GPU (compute capability 8.0+); GPU %d has %d.x: use fp32",
                 precision_name(precision), gpu, major);
  }
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CUDNN_CHECK(cudnnCreate(&cudnn));
  CUDNN_CHECK(cudnnSetStream(cudnn, stream));
  CUBLAS_CHECK(cublasCreate(&cublas));
  CUBLAS_CHECK(cublasSetStream(cublas, stream));
  // Plain fp32 unless asked otherwise: the products pass their compute type (engine/linear.cu).
  CUBLAS_CHECK(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH));
  // cuBLAS's own workspace, given once: left to itself, it would allocate one in every captured
  // graph. Our only products are the classifier head's, small enough for cuBLAS's 4 MiB default.
  cublas_workspace_ = allocator->allocate(kCublasWorkspaceBytes);
  CUBLAS_CHECK(cublasSetWorkspace(cublas, cublas_workspace_, kCublasWorkspaceBytes));
}

Context::~Context() {
  if (device == Device::CUDA) cudaStreamSynchronize(stream);
  if (workspace_ != nullptr) allocator->release(workspace_, workspace_bytes_);
  if (cublas != nullptr) cublasDestroy(cublas);
  if (cublas_workspace_ != nullptr) allocator->release(cublas_workspace_, kCublasWorkspaceBytes);
  if (cudnn != nullptr) cudnnDestroy(cudnn);
  if (stream != nullptr) cudaStreamDestroy(stream);
}

void* Context::workspace(size_t bytes) {
  if (bytes > workspace_bytes_) {
    // Workspaces only grow: the outgrown block's size will not come back, so it is not cached.
    if (workspace_ != nullptr) allocator->free_now(workspace_, workspace_bytes_);
    workspace_ = allocator->allocate(bytes);
    workspace_bytes_ = bytes;
  }
  return workspace_;
}

// A copy between the GPU and pageable host memory waits in CUDA for the work queued before it
// (CUDA runtime, "API synchronization behavior"): uploads before they start, downloads until they
// complete. Under a wait watch (NCCL) that work may be a receive from a peer that never sends, so
// the host first waits through the watch, which can give up; the copy then finds the stream idle.
void Context::upload(void* dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  if (is_cuda()) {
    if (wait_watch != nullptr) synchronize();
    CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream));
  } else {
    std::memcpy(dst, host_src, bytes);
  }
}

void Context::download(void* host_dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (is_cuda()) {
    if (wait_watch != nullptr) synchronize();
    CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream));
    synchronize();
  } else {
    std::memcpy(host_dst, src, bytes);
  }
}

void Context::copy(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  if (is_cuda())
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
  else
    std::memmove(dst, src, bytes);
}

void Context::fill_zero(void* dst, size_t bytes) {
  if (bytes == 0) return;
  if (is_cuda())
    CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream));
  else
    std::memset(dst, 0, bytes);
}

namespace {

// A query's answer: done, not yet (cudaErrorNotReady), or an error that stops the run.
bool finished(cudaError_t status, const char* what) {
  if (status == cudaErrorNotReady) return false;
  if (status != cudaSuccess) fail_internal(__FILE__, __LINE__, "CUDA: %s (%s)", cudaGetErrorString(status), what);
  return true;
}

}  // namespace

void Context::synchronize() {
  if (!is_cuda()) return;
  if (wait_watch == nullptr) {
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return;
  }
  wait_polling([&] { return finished(cudaStreamQuery(stream), "cudaStreamQuery"); }, *wait_watch);
}

void Context::wait_for(cudaEvent_t event) {
  if (!is_cuda()) return;
  if (wait_watch == nullptr) {
    CUDA_CHECK(cudaEventSynchronize(event));
    return;
  }
  wait_polling([&] { return finished(cudaEventQuery(event), "cudaEventQuery"); }, *wait_watch);
}
