// The CUDA execution model emulated on the CPU: what a kernel's source sees (threadIdx, barriers, warp collectives, __shared__) and how a launch runs.
//
// The test build compiles the repository's own .cu files with g++ after tests/emulation/rewrite_cuda.py
// has turned each `kernel<<<grid, block, shared, stream>>>(args)` into emu::launch(...) and each
// `__shared__` declaration into EMU_SHARED(...). This header is force-included (-include) in front
// of every such file, so the kernels compile unchanged otherwise.
//
// How a launch runs (emulator.cpp): the grid block by block; inside a block, every CUDA thread is a
// fiber (its own stack, switched cooperatively on one OS thread). A fiber runs until it waits at a
// barrier (__syncthreads, or the exchange inside a warp collective) or returns; a barrier opens when
// every live thread it covers waits at it. The emulator records a *finding* when
//   - the threads waiting at one __syncthreads, or the lanes of one warp collective, are at
//     different source lines (divergent barrier: undefined behaviour on a GPU);
//   - a warp collective's mask is not the full warp, or names lanes that have exited;
//   - a launch configuration is invalid (also returned by cudaGetLastError, as on a GPU).
// A barrier that can never open (some threads wait, the others wait elsewhere) is a deadlock: the
// emulator prints where every thread waits and aborts.
//
// Shared memory is allocated per block with its exact size (AddressSanitizer sees an overrun) and
// filled with 0xFF bytes, a NaN for floats and bf16, so a read before any write shows up in the
// results. A block's threads take turns first to last, last to first, or one warp at a time (a
// warp running ahead through its own collectives), the order changing from block to block and
// from launch to launch, and every other launch runs its blocks last to first: a missing barrier
// between a write and a read shows up in the results whichever thread writes first.
//
// What this cannot show: a fiber runs uninterrupted to its next barrier, so two threads' racing
// updates of one address never lose one; barriers are told apart by file and line only, so a
// helper called from two places looks like one barrier; the
// arithmetic is the host's (`__CUDA_ARCH__` is not defined, so no device-only branch is compiled,
// and nvcc's FMA contraction and device math functions are not reproduced): equal to the CPU
// reference here means equal on the GPU only up to those.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

// CUDA's function qualifiers mean nothing on the CPU.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct float2 {
  float x, y;
};
struct double2 {
  double x, y;
};
inline float2 make_float2(float x, float y) { return float2{x, y}; }
inline double2 make_double2(double x, double y) { return double2{x, y}; }

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9 };
cudaError_t cudaGetLastError();  // the last launch's configuration error, then cleared
const char* cudaGetErrorString(cudaError_t error);
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }  // launches run to completion

// The built-in variables of the running CUDA thread, set by the emulator before it resumes one.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
constexpr int warpSize = 32;

// Device functions that the kernels call and the host library lacks. (No approximate intrinsic
// such as rsqrtf is emulated: an emulation could not round as the GPU does, and the kernels use none.)
inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
// CUDA's integer min/max, which the host library has only as std::min/std::max.
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }

namespace emu {

// A rewritten launch: body() runs once per CUDA thread of the grid. `kernel` names the kernel in
// findings and in launch_count().
void launch_body(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const char* kernel, void (*body)(void*), void* data);
template <typename Body>
void launch(dim3 grid, dim3 block, size_t dynamic_shared_bytes, cudaStream_t, const char* kernel, Body&& body) {
  launch_body(grid, block, dynamic_shared_bytes, kernel, [](void* b) { (*static_cast<Body*>(b))(); }, &body);
}

// The running block's copy of one __shared__ declaration (`key` identifies the declaration).
void* shared_storage(const void* key, size_t bytes, size_t alignment);
template <typename T>
T& shared(const void* key) {
  return *static_cast<T*>(shared_storage(key, sizeof(T), alignof(T)));
}

void syncthreads(const char* file, int line);
// The running thread's lane: its linear index in the block (x fastest, as CUDA forms warps) mod 32.
int lane();
// Every lane of the calling warp deposits `value` (up to 8 bytes); once all have, each lane gets
// the 32 deposits in `lanes`, lane by lane.
void warp_exchange(unsigned mask, uint64_t value, uint64_t lanes[32], const char* file, int line);

template <typename T>
T shfl_down(unsigned mask, T value, unsigned delta, const char* file, int line) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "a shuffle moves up to 8 bytes");
  uint64_t mine = 0, lanes[32];
  std::memcpy(&mine, &value, sizeof value);
  warp_exchange(mask, mine, lanes, file, line);
  const unsigned source = lane() + delta;
  if (source < 32) std::memcpy(&value, &lanes[source], sizeof value);  // else: the lane keeps its own value
  return value;
}
inline unsigned ballot(unsigned mask, bool predicate, const char* file, int line) {
  uint64_t lanes[32];
  warp_exchange(mask, predicate, lanes, file, line);
  unsigned word = 0;
  for (int lane = 0; lane < 32; ++lane) word |= static_cast<unsigned>(lanes[lane] != 0) << lane;
  return word;
}

// Findings since the last call (one line each), or "" when there were none.
std::string take_findings();
// Launches so far of kernels whose name contains `name`: tells a test which code path ran.
long launch_count(const std::string& name);
// The same, counting only launches of that grid (which tells, e.g., a tiling's width apart).
long launch_count(const std::string& name, dim3 grid);

}  // namespace emu

// Call sites pass their source line so that findings point at the kernel's own line.
#define __syncthreads() ::emu::syncthreads(__FILE__, __LINE__)
#define __shfl_down_sync(mask, value, delta) ::emu::shfl_down(mask, value, delta, __FILE__, __LINE__)
#define __ballot_sync(mask, predicate) ::emu::ballot(mask, predicate, __FILE__, __LINE__)

// What rewrite_cuda.py writes for `__shared__ T name dims;`: a reference to the block's storage.
// The static key is unique per declaration and per template instantiation.
#define EMU_SHARED(T, name, dims) \
  static char name##_emu_key;     \
  auto& name = ::emu::shared<T dims>(&name##_emu_key)
