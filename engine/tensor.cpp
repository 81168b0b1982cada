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

Tensor Tensor::empty(Context& ctx, const Shape& shape) {
  Tensor t;
  t.storage_ = std::make_shared<Storage>(ctx.allocator, shape.numel() * sizeof(float));
  t.data_ = static_cast<float*>(t.storage_->ptr);
  t.shape_ = shape;
  t.device_ = ctx.device;
  return t;
}

Tensor Tensor::zeros(Context& ctx, const Shape& shape) {
  Tensor t = empty(ctx, shape);
  ctx.fill_zero(t.data(), t.bytes());
  return t;
}

Tensor Tensor::view(const Tensor& base, size_t offset, const Shape& shape) {
  CHECK(base.defined(), "view of an empty tensor");
  CHECK(offset + shape.numel() <= base.numel(), "view of %s at offset %zu runs past its base %s",
        shape.str().c_str(), offset, base.shape().str().c_str());
  Tensor t = base;
  t.data_ = base.data_ + offset;
  t.shape_ = shape;
  return t;
}

void Tensor::ensure(Context& ctx, const Shape& shape) {
  if (defined() && shape_ == shape && device_ == ctx.device) return;
  *this = empty(ctx, shape);
}

std::vector<float> Tensor::to_host(Context& ctx) const {
  std::vector<float> values(numel());
  ctx.download(values.data(), data_, bytes());
  return values;
}

void Tensor::copy_from_host(Context& ctx, const std::vector<float>& values) {
  CHECK(values.size() == numel(), "copy of %zu values into a tensor of %zu", values.size(), numel());
  ctx.upload(data_, values.data(), bytes());
}
