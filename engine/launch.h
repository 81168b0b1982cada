// Small helpers shared by the CUDA kernels: grid sizing, the grid-stride loop and a deterministic
// block reduction.
#pragma once

#include <cstddef>

#include <cuda_runtime.h>

constexpr int kThreads = 256;

inline unsigned grid_size(size_t n, int threads = kThreads, unsigned max_blocks = 65535u * 16) {
  const size_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks == 0 ? 1 : (blocks < max_blocks ? blocks : max_blocks));
}

#ifdef __CUDACC__
// The indices of [0, n) that this thread visits when the whole grid strides over them, in the
// index type the kernel counts in (32 bits where n is known to fit):
//   for (uint32_t i : grid_stride(n)) y[i] = f(x[i]);
template <typename Index>
class GridStride {
 public:
  struct Iterator {
    Index at, step;
    __device__ Index operator*() const { return at; }
    __device__ Iterator& operator++() {
      at += step;
      return *this;
    }
    __device__ bool operator!=(const Iterator& end) const { return at < end.at; }  // past n ends it too
  };
  __device__ explicit GridStride(Index n) : n_(n) {}
  __device__ Iterator begin() const {
    return {static_cast<Index>(blockIdx.x) * static_cast<Index>(blockDim.x) + static_cast<Index>(threadIdx.x),
            static_cast<Index>(gridDim.x) * static_cast<Index>(blockDim.x)};
  }
  __device__ Iterator end() const { return {n_, 0}; }

 private:
  Index n_;
};

template <typename Index>
__device__ GridStride<Index> grid_stride(Index n) {
  return GridStride<Index>(n);
}

// Sum of one value per thread over the block, in a fixed order (warp shuffles, then one warp
// over the warp sums), so that results are identical from run to run. Every thread gets the sum.
// `scratch` holds 32 values; blockDim.x must be a multiple of 32.
template <typename T>
__device__ T block_sum(T value, T* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  if (warp == 0) {  // only warp 0 touches scratch now; its shuffles order the read before the write
    const int warps = blockDim.x / 32;
    value = lane < warps ? scratch[lane] : T(0);
    for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_down_sync(0xffffffffu, value, offset);
    if (lane == 0) scratch[0] = value;
  }
  __syncthreads();
  return scratch[0];
}
#endif
