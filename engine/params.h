// The flat parameter store: every trainable tensor of a model is a view into one contiguous
// parameter vector, and its gradient a view into one contiguous gradient vector, in the order the
// model registered them. Optimizers, compressors and transports act on the flat vectors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

enum class Init {
  Zeros,
  Ones,
  UniformFanIn,  // U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's default for conv and linear
};

struct Param {
  std::string name;  // PyTorch-style, e.g. layer2.0.conv1.weight
  Shape shape;
  Init init;
  int fan_in;
  size_t offset;  // in floats, into the flat vector it belongs to
  Tensor value;   // views, valid once the store is allocated
  Tensor grad;    // (buffers have none)
};

// A (offset, length) range of the flat vector: the unit that blockwise compressors work on.
struct Block {
  size_t offset, length;
};

class ParamStore {
 public:
  // Registration order is the flat-vector order; pointers stay valid for the store's lifetime.
  Param* add_param(const std::string& name, const Shape& shape, Init init, int fan_in = 0);
  // Non-trainable state that belongs to the model (BatchNorm running statistics).
  Param* add_buffer(const std::string& name, const Shape& shape, Init init);

  // Creates the flat vectors on the context's device and points every Param at its slice.
  void allocate(Context& ctx);
  // Draws every parameter from (seed, its index) on the host, so CPU and GPU start identical.
  void initialize(Context& ctx, uint64_t seed);

  size_t param_count() const { return param_count_; }
  size_t buffer_count() const { return buffer_count_; }
  const std::vector<std::unique_ptr<Param>>& params() const { return params_; }
  const std::vector<std::unique_ptr<Param>>& buffers() const { return buffers_; }
  Tensor& values() { return values_; }
  Tensor& grads() { return grads_; }
  Tensor& buffer_values() { return buffer_values_; }

  // Tensors grouped greedily in model order so that no block exceeds bucket_bytes of float32,
  // unless a single tensor does (it then forms a block of its own).
  std::vector<Block> blocks(size_t bucket_bytes) const;

 private:
  std::vector<std::unique_ptr<Param>> params_, buffers_;
  size_t param_count_ = 0, buffer_count_ = 0;
  Tensor values_, grads_, buffer_values_;
};
