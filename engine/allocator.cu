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
  ++allocations_;
  auto found = free_blocks_.find(size);
  if (found != free_blocks_.end() && !found->second.empty()) {
    void* ptr = found->second.back();
    found->second.pop_back();
    bytes_cached_ -= size;
    bytes_in_use_ += size;
    return ptr;
  }
  ++system_allocations_;
  void* ptr = system_allocate(size);
  if (ptr == nullptr) {
    // The cache may hold blocks of sizes no longer asked for: give them back and try once more.
    free_cached();
    ptr = system_allocate(size);
  }
  // A run too large for the machine is a setting to change, not an internal failure.
  if (ptr == nullptr)
    fail_input("out of %s memory allocating %.1f MiB with %.1f MiB in use: try a smaller --batch-size or --width, or "
               "fewer --workers per %s",
               device_ == Device::CUDA ? "GPU" : "host", size / 1048576.0, bytes_in_use_ / 1048576.0,
               device_ == Device::CUDA ? "GPU" : "machine");
  bytes_in_use_ += size;
  return ptr;
}

void* CachingAllocator::system_allocate(size_t size) {
  if (device_ == Device::CPU) return std::aligned_alloc(64, size);
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, size);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // not sticky, but cleared so that the next launch check does not report it
    return nullptr;
  }
  CUDA_CHECK(status);
  return ptr;
}

void CachingAllocator::system_free(void* ptr) {
  if (device_ == Device::CUDA)
    CUDA_CHECK(cudaFree(ptr));
  else
    std::free(ptr);
}

void CachingAllocator::free_cached() {
  for (auto& [size, blocks] : free_blocks_) {
    for (void* ptr : blocks) system_free(ptr);
    bytes_cached_ -= size * blocks.size();
    blocks.clear();
  }
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
  system_free(ptr);
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
