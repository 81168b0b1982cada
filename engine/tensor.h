// Tensor: a float32 or bf16 view (shape, device, pointer) into reference-counted storage from a
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

// Element types. Parameters, gradients and every float32 activation are F32, NCHW. Under
// --precision bf16 the activations between layers are BF16 (a bf16 value is stored as its 16
// bits), and a 4-D BF16 tensor [n, c, h, w] is laid out NHWC, as cuDNN's tensor-core
// convolutions want it: the shape always names the dimensions, the dtype says how they are stored.
enum class DType { F32, BF16 };
inline size_t dtype_size(DType dtype) { return dtype == DType::BF16 ? 2 : 4; }
const char* dtype_name(DType dtype);

class Tensor {
 public:
  Tensor() = default;
  // Uninitialised memory on the context's device.
  static Tensor empty(Context& ctx, const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(Context& ctx, const Shape& shape);
  // A float32 view of `shape` starting `offset` floats into `base`'s memory (shares its storage).
  static Tensor view(const Tensor& base, size_t offset, const Shape& shape);

  // The elements as float32 (an F32 tensor) or as bf16 bits (a BF16 one); asking a tensor for the
  // other type is an internal error.
  float* data() { return static_cast<float*>(typed(DType::F32)); }
  const float* data() const { return static_cast<const float*>(typed(DType::F32)); }
  uint16_t* bf16_data() { return static_cast<uint16_t*>(typed(DType::BF16)); }
  const uint16_t* bf16_data() const { return static_cast<const uint16_t*>(typed(DType::BF16)); }
  // data() or bf16_data() by element type (float or uint16_t), for code templated on it.
  template <typename T>
  T* elements();
  template <typename T>
  const T* elements() const;
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int dim(int i) const { return shape_[i]; }
  size_t numel() const { return shape_.numel(); }
  size_t bytes() const { return numel() * dtype_size(dtype_); }
  Device device() const { return device_; }
  bool defined() const { return data_ != nullptr; }

  // Reallocates only if the shape or type changed: layers call this every step, it allocates once.
  void ensure(Context& ctx, const Shape& shape, DType dtype = DType::F32);

  // Float32 tensors only.
  std::vector<float> to_host(Context& ctx) const;
  void copy_from_host(Context& ctx, const std::vector<float>& values);

 private:
  void* typed(DType wanted) const;

  std::shared_ptr<Storage> storage_;
  void* data_ = nullptr;
  Shape shape_;
  Device device_ = Device::CPU;
  DType dtype_ = DType::F32;
};

template <>
inline float* Tensor::elements<float>() { return data(); }
template <>
inline const float* Tensor::elements<float>() const { return data(); }
template <>
inline uint16_t* Tensor::elements<uint16_t>() { return bf16_data(); }
template <>
inline const uint16_t* Tensor::elements<uint16_t>() const { return bf16_data(); }

// Calls f with a value of the element type that `dtype` stores: float for F32, uint16_t (the
// bits of a bf16) for BF16; f is generic, so one body serves both.
template <typename F>
void visit_dtype(DType dtype, F&& f) {
  if (dtype == DType::BF16)
    f(uint16_t{});
  else
    f(float{});
}

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
