// The caching allocator: exact-size free lists, on the host (64-byte aligned) or the device.
#include "engine/allocator.h"

#include <cstdlib>

#include "engine/check.h"

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

bool cuda_available() {
  static const bool available = [] {
    int count = 0;
    // No driver or no GPU both come back as errors; either way there is nothing to run on.
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky error so later checks do not see it
      return false;
    }
    return count > 0;
  }();
  return available;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = rounded_size(bytes == 0 ? 1 : bytes);
  bytes_in_use_ += size;
  ++allocations_;
  auto found = free_blocks_.find(size);
  if (found != free_blocks_.end() && !found->second.empty()) {
    void* ptr = found->second.back();
    found->second.pop_back();
    bytes_cached_ -= size;
    return ptr;
  }
  void* ptr = nullptr;
  ++system_allocations_;
  if (device_ == Device::CUDA) {
    CUDA_CHECK(cudaMalloc(&ptr, size));
  } else {
    ptr = std::aligned_alloc(64, size);
    CHECK(ptr != nullptr, "out of host memory allocating %zu bytes", size);
  }
  return ptr;
}

void CachingAllocator::release(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  const size_t size = rounded_size(bytes == 0 ? 1 : bytes);
  bytes_in_use_ -= size;
  bytes_cached_ += size;
  free_blocks_[size].push_back(ptr);
}

void CachingAllocator::free_now(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  bytes_in_use_ -= rounded_size(bytes == 0 ? 1 : bytes);
  if (device_ == Device::CUDA)
    CUDA_CHECK(cudaFree(ptr));
  else
    std::free(ptr);
}

CachingAllocator::~CachingAllocator() {
  for (auto& [size, blocks] : free_blocks_)
    for (void* ptr : blocks) {
      if (device_ == Device::CUDA)
        cudaFree(ptr);  // unchecked: a destructor at exit must not fail the process again
      else
        std::free(ptr);
    }
}
