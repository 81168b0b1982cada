// Everything a rank needs to run work: its device, stream, cuDNN/cuBLAS handles, allocator,
// workspace, RNG, phase timer and precision. Passed explicitly to every op; no hidden globals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/allocator.h"
#include "engine/host_wait.h"
#include "engine/phase_timer.h"
#include "engine/rng.h"

struct ConvAlgorithmCache;  // engine/conv.h: the cuDNN algorithms chosen per shape
struct CpuConvPlans;        // engine/conv_cpu.cpp: the oneDNN primitives made per shape
struct CpuConvPlansDeleter {
  void operator()(CpuConvPlans* plans) const;
};

// The arithmetic of convolutions and matrix products; everything else is float32 in every mode.
// FP32: plain float32 (no tensor cores). TF32: TF32 tensor cores. BF16: bf16 operands with float32
// accumulation and master weights; convolution outputs rounded to bf16, matrix products' kept in
// float32 (the CPU emulates the roundings).
enum class Precision { FP32, TF32, BF16 };
Precision parse_precision(const std::string& name);  // fp32, tf32, bf16; else a user error
const char* precision_name(Precision precision);

struct ContextOptions {
  Device device = Device::CPU;
  int gpu = 0;                 // CUDA device index
  uint64_t seed = 0;           // seeds this context's host RNG
  bool deterministic = false;  // pin deterministic cuDNN algorithms
  Precision precision = Precision::FP32;
};

class Context {
 public:
  explicit Context(const ContextOptions& options);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool is_cuda() const { return device == Device::CUDA; }

  // Scratch memory for cuDNN; grows to the largest request and is then reused every step.
  void* workspace(size_t bytes);
  size_t workspace_bytes() const { return workspace_bytes_; }

  // Host <-> context memory. Downloads wait for the stream; uploads and copies are stream-ordered.
  void upload(void* dst, const void* host_src, size_t bytes);
  void download(void* host_dst, const void* src, size_t bytes);
  void copy(void* dst, const void* src, size_t bytes);
  void fill_zero(void* dst, size_t bytes);
  // The host waits for everything queued on the stream so far, or for one recorded event. Without
  // a wait_watch they block in CUDA; with one they poll, and the watch may give up.
  void synchronize();
  void wait_for(cudaEvent_t event);

  const Device device;
  const int gpu;
  const bool deterministic;
  const Precision precision;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  std::shared_ptr<CachingAllocator> allocator;
  std::unique_ptr<ConvAlgorithmCache> conv_algorithms;
  std::unique_ptr<CpuConvPlans, CpuConvPlansDeleter> cpu_conv_plans;  // made at the first CPU convolution
  Rng rng;
  // Where the step's time goes (compute, compress, exchange, update); marks are cheap, so the
  // algorithms mark their phases unconditionally.
  PhaseTimer timer;
  // Set by a transport whose messages travel on the GPU (comm/nccl.cpp), so that a peer that never
  // sends ends the wait with an error instead of blocking the host forever.
  WaitWatch* wait_watch = nullptr;

 private:
  static constexpr size_t kCublasWorkspaceBytes = 4 << 20;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  void* cublas_workspace_ = nullptr;
};
