// ParamStore: registration, flat allocation, seeded initialisation and block grouping.
#include "engine/params.h"

#include <cmath>

#include "engine/check.h"

namespace {

std::vector<float> initial_values(const Param& p, Rng& rng) {
  std::vector<float> values(p.shape.numel());
  switch (p.init) {
    case Init::Zeros: break;
    case Init::Ones: std::fill(values.begin(), values.end(), 1.0f); break;
    case Init::UniformFanIn: {
      const float bound = 1.0f / std::sqrt(static_cast<float>(p.fan_in));
      for (float& v : values) v = rng.uniform(-bound, bound);
      break;
    }
  }
  return values;
}

}  // namespace

Param* ParamStore::add_param(const std::string& name, const Shape& shape, Init init, int fan_in) {
  CHECK(!values_.defined(), "parameter %s registered after allocation", name.c_str());
  CHECK(init != Init::UniformFanIn || fan_in > 0, "parameter %s needs its fan-in", name.c_str());
  params_.push_back(std::make_unique<Param>(Param{name, shape, init, fan_in, param_count_, {}, {}}));
  param_count_ += shape.numel();
  return params_.back().get();
}

Param* ParamStore::add_buffer(const std::string& name, const Shape& shape, Init init) {
  CHECK(!values_.defined(), "buffer %s registered after allocation", name.c_str());
  buffers_.push_back(std::make_unique<Param>(Param{name, shape, init, 0, buffer_count_, {}, {}}));
  buffer_count_ += shape.numel();
  return buffers_.back().get();
}

void ParamStore::allocate(Context& ctx) {
  values_ = Tensor::zeros(ctx, {static_cast<int>(param_count_)});
  grads_ = Tensor::zeros(ctx, {static_cast<int>(param_count_)});
  buffer_values_ = Tensor::zeros(ctx, {static_cast<int>(buffer_count_ > 0 ? buffer_count_ : 1)});
  for (auto& p : params_) {
    p->value = Tensor::view(values_, p->offset, p->shape);
    p->grad = Tensor::view(grads_, p->offset, p->shape);
  }
  for (auto& b : buffers_) b->value = Tensor::view(buffer_values_, b->offset, b->shape);
}

void ParamStore::initialize(Context& ctx, uint64_t seed) {
  CHECK(values_.defined(), "initialize() before allocate()");
  for (size_t i = 0; i < params_.size(); ++i) {
    Rng rng(seed, i);
    params_[i]->value.copy_from_host(ctx, initial_values(*params_[i], rng));
  }
  for (auto& b : buffers_) {
    Rng unused(0);
    b->value.copy_from_host(ctx, initial_values(*b, unused));
  }
}

std::vector<Block> ParamStore::blocks(size_t bucket_bytes) const {
  std::vector<Block> result;
  for (const auto& p : params_) {
    const size_t length = p->shape.numel();
    const bool fits = !result.empty() && (result.back().length + length) * sizeof(float) <= bucket_bytes;
    if (fits)
      result.back().length += length;
    else
      result.push_back(Block{p->offset, length});
  }
  return result;
}
