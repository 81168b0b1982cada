// Tensor: a float32 view (shape, device, pointer) into reference-counted storage from a
// Context's allocator; Buffer<T> is the same for other element types (labels, packed messages).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"

// A block from a caching allocator, given back when the last tensor viewing it goes away.
struct Storage {
  Storage(std::shared_ptr<CachingAllocator> allocator, size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  std::shared_ptr<CachingAllocator> allocator;
  void* ptr;
  size_t bytes;
};

// Up to four dimensions, stored inline so that copying a Tensor never touches the heap.
struct Shape {
  static constexpr int kMaxRank = 4;
  Shape() = default;
  Shape(std::initializer_list<int> dims);
  size_t numel() const;
  int operator[](int i) const { return dims[i]; }
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  std::string str() const;

  int rank = 0;
  int dims[kMaxRank] = {0, 0, 0, 0};
};

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised memory on the context's device.
  static Tensor empty(Context& ctx, const Shape& shape);
  static Tensor zeros(Context& ctx, const Shape& shape);
  // A view of `shape` starting `offset` floats into `base`'s memory (shares its storage).
  static Tensor view(const Tensor& base, size_t offset, const Shape& shape);

  float* data() { return data_; }
  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int dim(int i) const { return shape_[i]; }
  size_t numel() const { return shape_.numel(); }
  size_t bytes() const { return numel() * sizeof(float); }
  Device device() const { return device_; }
  bool defined() const { return data_ != nullptr; }

  // Reallocates only if the shape changed: layers call this every step, it allocates once.
  void ensure(Context& ctx, const Shape& shape);

  std::vector<float> to_host(Context& ctx) const;
  void copy_from_host(Context& ctx, const std::vector<float>& values);

 private:
  std::shared_ptr<Storage> storage_;
  float* data_ = nullptr;
  Shape shape_;
  Device device_ = Device::CPU;
};

template <typename T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Context& ctx, size_t count)
      : storage_(std::make_shared<Storage>(ctx.allocator, count * sizeof(T))),
        data_(static_cast<T*>(storage_->ptr)),
        count_(count) {}

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  void ensure(Context& ctx, size_t count) {
    if (count != count_ || storage_ == nullptr) *this = Buffer(ctx, count);
  }

 private:
  std::shared_ptr<Storage> storage_;
  T* data_ = nullptr;
  size_t count_ = 0;
};
