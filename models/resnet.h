// ResNets for 32x32 and 64x64 inputs: the CIFAR ResNet18 (BasicBlocks, 3x3 stride-1 stem, no
// max-pool) and the pre-activation ResNet18/34 that the LIEC-SGD authors trained.
#pragma once

#include <memory>
#include <vector>

#include "engine/layers.h"
#include "models/model.h"

// A residual block: the unit the network stacks.
class ResidualBlock {
 public:
  virtual ~ResidualBlock() = default;
  virtual const Tensor& forward(Context& ctx, const Tensor& x, bool training) = 0;
  virtual const Tensor& backward(Context& ctx, const Tensor& dy) = 0;
  // Forward multiply-adds on one image of side `size`, which becomes the output's side.
  virtual double forward_macs(int& size) const = 0;
};

// out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), shortcut = 1x1 conv + BN when the
// shape changes, else the identity. relu(bn1(.)) and relu(bn2(.) + shortcut) are fused layers.
class BasicBlock : public ResidualBlock {
 public:
  BasicBlock(ParamStore& store, const std::string& name, int in_channels, int channels, int stride);
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy) override;
  double forward_macs(int& size) const override;

 private:
  Conv2d conv1_;
  BatchNorm2d bn1_;  // with ReLU
  Conv2d conv2_;
  BatchNorm2d bn2_;  // with the shortcut added and ReLU
  std::unique_ptr<Conv2d> shortcut_conv_;
  std::unique_ptr<BatchNorm2d> shortcut_bn_;
  Tensor dx_;
};

// a = relu(bn1(x)); out = conv2(relu(bn2(conv1(a)))) + shortcut, shortcut = 1x1 conv of a (no BN)
// when the shape changes, else x. Both relu(bn(.)) are fused layers.
class PreActBlock : public ResidualBlock {
 public:
  PreActBlock(ParamStore& store, const std::string& name, int in_channels, int channels, int stride);
  const Tensor& forward(Context& ctx, const Tensor& x, bool training) override;
  const Tensor& backward(Context& ctx, const Tensor& dy) override;
  double forward_macs(int& size) const override;

 private:
  BatchNorm2d bn1_;  // with ReLU
  Conv2d conv1_;
  BatchNorm2d bn2_;  // with ReLU
  Conv2d conv2_;
  std::unique_ptr<Conv2d> shortcut_conv_;
  Tensor sum_, da_, dx_;
};

enum class BlockKind { Basic, PreActivation };

class ResNet : public Model {
 public:
  ResNet(BlockKind kind, const std::vector<int>& blocks_per_stage, int classes, int width);
  const Tensor& forward(Context& ctx, const Tensor& images, bool training) override;
  void backward(Context& ctx, const Tensor& dlogits) override;
  double forward_macs(int size) const override;

 private:
  std::unique_ptr<Conv2d> stem_;
  std::unique_ptr<BatchNorm2d> stem_bn_;  // with ReLU; BasicBlock networks only: pre-activation
                                          // ones normalise inside their first block
  std::vector<std::unique_ptr<ResidualBlock>> blocks_;
  GlobalAvgPool pool_;
  std::unique_ptr<Linear> head_;
};
