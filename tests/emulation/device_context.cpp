// The emulated build's Context and allocator (in place of engine/context.cu, engine/allocator.cu, engine/tensor.cpp's Storage): "device" memory is host memory of exactly the size asked for.
//
// The real allocator rounds sizes up to 512 bytes and caches blocks, which would hide a kernel that
// reads or writes past the end of its buffer; here every allocation is its own malloc of the exact
// size, so AddressSanitizer reports such an access at the kernel's line. Fresh allocations are
// filled with 0xFF bytes (NaN as float or bf16), as fresh device memory holds garbage: an output
// element a kernel forgets to write shows up. Stream operations complete at once.
#include <cstdlib>
#include <cstring>

#include "engine/context.h"
#include "engine/conv.h"
#include "engine/tensor.h"

namespace {
void* allocate_poisoned(size_t bytes) {
  void* p = std::malloc(bytes);  // even for 0 bytes: any access to an empty buffer is then reported
  if (p == nullptr && bytes != 0) std::abort();
  std::memset(p, 0xFF, bytes);
  return p;
}
}  // namespace

const char* device_name(Device device) { return device == Device::CUDA ? "cuda (emulated)" : "cpu"; }
bool cuda_available() { return true; }

CachingAllocator::~CachingAllocator() {}
void* CachingAllocator::allocate(size_t bytes) { return allocate_poisoned(bytes); }
void CachingAllocator::release(void* ptr, size_t) { std::free(ptr); }
void CachingAllocator::free_now(void* ptr, size_t) { std::free(ptr); }

Storage::Storage(std::shared_ptr<CachingAllocator> a, size_t b) : allocator(std::move(a)), ptr(allocator->allocate(b)), bytes(b) {}
Storage::~Storage() { allocator->release(ptr, bytes); }

ConvAlgorithmCache::~ConvAlgorithmCache() {}
void CpuConvPlansDeleter::operator()(CpuConvPlans*) const {}  // no convolution runs emulated: none is ever made
PhaseTimer::~PhaseTimer() {}

Context::Context(const ContextOptions& options)
    : device(options.device), gpu(options.gpu), deterministic(options.deterministic), precision(options.precision),
      allocator(std::make_shared<CachingAllocator>(options.device)),
      conv_algorithms(std::make_unique<ConvAlgorithmCache>()), rng(options.seed), timer(*this) {}
Context::~Context() { std::free(workspace_); }

// A new block of exactly the size asked for on every call (the real one keeps the largest).
void* Context::workspace(size_t bytes) {
  std::free(workspace_);
  workspace_ = allocate_poisoned(bytes);
  workspace_bytes_ = bytes;
  return workspace_;
}

// CUDA copies nothing for 0 bytes, whatever the pointers (an empty vector's may be null).
void Context::upload(void* dst, const void* src, size_t bytes) { if (bytes) std::memmove(dst, src, bytes); }
void Context::download(void* dst, const void* src, size_t bytes) { if (bytes) std::memmove(dst, src, bytes); }
void Context::copy(void* dst, const void* src, size_t bytes) { if (bytes) std::memmove(dst, src, bytes); }
void Context::fill_zero(void* dst, size_t bytes) { if (bytes) std::memset(dst, 0, bytes); }
void Context::synchronize() {}
