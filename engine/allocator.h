// A caching allocator: blocks freed by a tensor are kept and handed out again for the same size,
// so that a training step, whose shapes never change, allocates nothing after the first one.
#pragma once

#include <cstddef>
#include <unordered_map>
#include <vector>

enum class Device { CPU, CUDA };

const char* device_name(Device device);

// True when a CUDA device is usable (a driver, at least one GPU).
bool cuda_available();

class CachingAllocator {
 public:
  explicit CachingAllocator(Device device) : device_(device) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Blocks are reused only on the stream of the owning Context, in stream order, so a block
  // released while a kernel may still read it is safe to hand to the next kernel on that stream.
  // Out of memory even after the cache is given back: a one-line user error (exit code 2).
  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  // Gives a block back to the system at once instead of caching it, for a size that will not be
  // asked for again (an outgrown workspace). On the GPU, cudaFree first waits for the device.
  void free_now(void* ptr, size_t bytes);

  size_t bytes_in_use() const { return bytes_in_use_; }
  size_t bytes_cached() const { return bytes_cached_; }
  // How many blocks came from the system rather than the cache: constant once a step is warm.
  size_t system_allocations() const { return system_allocations_; }
  // How many blocks were handed out, from the cache or not. A step captured into a CUDA graph
  // must take none: even a cached block's address would be baked into the graph, and the block
  // handed out again to whatever allocates next, for every replay to overwrite.
  size_t allocations() const { return allocations_; }

  static size_t rounded_size(size_t bytes) { return (bytes + 511) / 512 * 512; }

 private:
  void* system_allocate(size_t size);  // nullptr when out of memory
  void system_free(void* ptr);
  void free_cached();

  Device device_;
  std::unordered_map<size_t, std::vector<void*>> free_blocks_;
  size_t bytes_in_use_ = 0, bytes_cached_ = 0, system_allocations_ = 0, allocations_ = 0;
};
