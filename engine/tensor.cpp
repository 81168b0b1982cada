// Tensor, Shape and Storage.
#include "engine/tensor.h"

#include "engine/check.h"

Storage::Storage(std::shared_ptr<CachingAllocator> allocator_in, size_t bytes_in)
    : allocator(std::move(allocator_in)), ptr(allocator->allocate(bytes_in)), bytes(bytes_in) {}

Storage::~Storage() { allocator->release(ptr, bytes); }

Shape::Shape(std::initializer_list<int> dims_in) {
  CHECK(dims_in.size() <= static_cast<size_t>(kMaxRank), "shape of rank %zu > %d", dims_in.size(),
        kMaxRank);
  for (int d : dims_in) dims[rank++] = d;
}

size_t Shape::numel() const {
  if (rank == 0) return 0;
  size_t n = 1;
  for (int i = 0; i < rank; ++i) n *= static_cast<size_t>(dims[i]);
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (rank != other.rank) return false;
  for (int i = 0; i < rank; ++i)
    if (dims[i] != other.dims[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank; ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

const char* dtype_name(DType dtype) { return dtype == DType::BF16 ? "bf16" : "float32"; }

Tensor Tensor::empty(Context& ctx, const Shape& shape, DType dtype) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>(ctx.allocator, shape.numel() * dtype_size(dtype));
  t.data_ = t.storage_->ptr;
  t.shape_ = shape;
  t.device_ = ctx.device;
  t.dtype_ = dtype;
  return t;
}

void* Tensor::typed(DType wanted) const {
  CHECK(dtype_ == wanted || data_ == nullptr, "a %s tensor %s used as %s", dtype_name(dtype_), shape_.str().c_str(),
        dtype_name(wanted));
  return data_;
}

Tensor Tensor::zeros(Context& ctx, const Shape& shape) {
  Tensor t = empty(ctx, shape);
  ctx.fill_zero(t.data(), t.bytes());
  return t;
}

Tensor Tensor::view(const Tensor& base, size_t offset, const Shape& shape) {
  CHECK(base.defined() && base.dtype() == DType::F32, "view of an empty or bf16 tensor");
  CHECK(offset + shape.numel() <= base.numel(), "view of %s at offset %zu runs past its base %s",
        shape.str().c_str(), offset, base.shape().str().c_str());
  Tensor t = base;
  t.data_ = static_cast<float*>(base.data_) + offset;
  t.shape_ = shape;
  return t;
}

void Tensor::ensure(Context& ctx, const Shape& shape, DType dtype) {
  if (defined() && shape_ == shape && dtype_ == dtype && device_ == ctx.device) return;
  *this = empty(ctx, shape, dtype);
}

std::vector<float> Tensor::to_host(Context& ctx) const {
  std::vector<float> values(numel());
  ctx.download(values.data(), data(), bytes());
  return values;
}

void Tensor::copy_from_host(Context& ctx, const std::vector<float>& values) {
  CHECK(values.size() == numel(), "copy of %zu values into a tensor of %zu", values.size(), numel());
  ctx.upload(data(), values.data(), bytes());
}
