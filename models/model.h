// What the training loop sees of a network: parameters in a flat store, forward to logits,
// backward from the logits' gradient into the store's gradient vector.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/params.h"

class Model {
 public:
  virtual ~Model() = default;
  // images [n, 3, h, w] -> logits [n, classes]. In training mode BatchNorm uses batch statistics
  // and updates its running averages; in evaluation mode it uses the running averages.
  virtual const Tensor& forward(Context& ctx, const Tensor& images, bool training) = 0;
  // Overwrites every parameter's gradient (each parameter is used once, so nothing accumulates).
  virtual void backward(Context& ctx, const Tensor& dlogits) = 0;
  // Multiply-adds of the convolutions and the head for one square image of side `size`: the
  // arithmetic a forward pass must do (a training step does about three times as much).
  virtual double forward_macs(int size) const = 0;

  ParamStore& store() { return store_; }

 protected:
  ParamStore store_;
};

const std::vector<std::string>& model_names();

// Builds the named network with `width` base channels; an unknown name is a user error (exit 2).
// The store is registered but not yet allocated.
std::unique_ptr<Model> make_model(const std::string& name, int classes, int width);
