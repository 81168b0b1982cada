// ResNet18 and PreAct-ResNet18/34. Parameters are registered in PyTorch's named_parameters()
// order, which fixes the flat vector and the compression blocks.
#include "models/resnet.h"

#include "engine/check.h"

namespace {
bool needs_projection(int in_channels, int channels, int stride) { return stride != 1 || in_channels != channels; }

// Both block kinds convolve the same way: two 3x3 convs in sequence, a 1x1 projection beside them.
double block_macs(const Conv2d& conv1, const Conv2d& conv2, const Conv2d* shortcut, int& size) {
  int shortcut_size = size;
  double macs = conv1.forward_macs(size) + conv2.forward_macs(size);
  if (shortcut != nullptr) macs += shortcut->forward_macs(shortcut_size);
  return macs;
}
}  // namespace

BasicBlock::BasicBlock(ParamStore& store, const std::string& name, int in_channels, int channels, int stride)
    : conv1_(store, name + ".conv1", in_channels, channels, 3, stride, 1),
      bn1_(store, name + ".bn1", channels, Activation::ReLU),
      conv2_(store, name + ".conv2", channels, channels, 3, 1, 1),
      bn2_(store, name + ".bn2", channels, Activation::ReLU) {
  if (needs_projection(in_channels, channels, stride)) {
    shortcut_conv_ = std::make_unique<Conv2d>(store, name + ".shortcut.0", in_channels, channels, 1, stride, 0);
    shortcut_bn_ = std::make_unique<BatchNorm2d>(store, name + ".shortcut.1", channels);
  }
}

const Tensor& BasicBlock::forward(Context& ctx, const Tensor& x, bool training) {
  const Tensor& h = bn1_.forward(ctx, conv1_.forward(ctx, x), training);
  const Tensor& shortcut = shortcut_conv_ ? shortcut_bn_->forward(ctx, shortcut_conv_->forward(ctx, x), training) : x;
  return bn2_.forward(ctx, conv2_.forward(ctx, h), training, &shortcut);
}

const Tensor& BasicBlock::backward(Context& ctx, const Tensor& dy) {
  const Tensor& d_main = conv1_.backward(ctx, bn1_.backward(ctx, conv2_.backward(ctx, bn2_.backward(ctx, dy))));
  const Tensor& d_sum = bn2_.residual_grad();  // dy through the output ReLU: what the shortcut gets
  const Tensor& d_shortcut = shortcut_conv_ ? shortcut_conv_->backward(ctx, shortcut_bn_->backward(ctx, d_sum)) : d_sum;
  return sum_into(ctx, dx_, d_main, d_shortcut);
}

double BasicBlock::forward_macs(int& size) const { return block_macs(conv1_, conv2_, shortcut_conv_.get(), size); }

PreActBlock::PreActBlock(ParamStore& store, const std::string& name, int in_channels, int channels, int stride)
    : bn1_(store, name + ".bn1", in_channels, Activation::ReLU),
      conv1_(store, name + ".conv1", in_channels, channels, 3, stride, 1),
      bn2_(store, name + ".bn2", channels, Activation::ReLU),
      conv2_(store, name + ".conv2", channels, channels, 3, 1, 1) {
  if (needs_projection(in_channels, channels, stride))
    shortcut_conv_ = std::make_unique<Conv2d>(store, name + ".shortcut.0", in_channels, channels, 1, stride, 0);
}

const Tensor& PreActBlock::forward(Context& ctx, const Tensor& x, bool training) {
  const Tensor& a = bn1_.forward(ctx, x, training);
  const Tensor& shortcut = shortcut_conv_ ? shortcut_conv_->forward(ctx, a) : x;
  const Tensor& h = bn2_.forward(ctx, conv1_.forward(ctx, a), training);
  return sum_into(ctx, sum_, conv2_.forward(ctx, h), shortcut);
}

const Tensor& PreActBlock::backward(Context& ctx, const Tensor& dy) {
  const Tensor& d_h = conv2_.backward(ctx, dy);
  const Tensor& d_a_main = conv1_.backward(ctx, bn2_.backward(ctx, d_h));
  if (shortcut_conv_) {
    // Both paths start from a: their gradients meet there, before the pre-activation.
    const Tensor& d_a = sum_into(ctx, da_, d_a_main, shortcut_conv_->backward(ctx, dy));
    return bn1_.backward(ctx, d_a);
  }
  return sum_into(ctx, dx_, bn1_.backward(ctx, d_a_main), dy);
}

double PreActBlock::forward_macs(int& size) const { return block_macs(conv1_, conv2_, shortcut_conv_.get(), size); }

ResNet::ResNet(BlockKind kind, const std::vector<int>& blocks_per_stage, int classes, int width) {
  // Members are created here, not in an initialiser list, so that registration follows
  // PyTorch's order: conv1, bn1, layer1..layer4, linear.
  stem_ = std::make_unique<Conv2d>(store_, "conv1", 3, width, 3, 1, 1);
  if (kind == BlockKind::Basic) {
    stem_bn_ = std::make_unique<BatchNorm2d>(store_, "bn1", width, Activation::ReLU);
  }
  int in_channels = width;
  for (size_t stage = 0; stage < blocks_per_stage.size(); ++stage) {
    const int channels = width << stage;
    for (int i = 0; i < blocks_per_stage[stage]; ++i) {
      const int stride = (stage > 0 && i == 0) ? 2 : 1;
      const std::string name = "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
      if (kind == BlockKind::Basic)
        blocks_.push_back(std::make_unique<BasicBlock>(store_, name, in_channels, channels, stride));
      else
        blocks_.push_back(std::make_unique<PreActBlock>(store_, name, in_channels, channels, stride));
      in_channels = channels;
    }
  }
  head_ = std::make_unique<Linear>(store_, "linear", in_channels, classes);
}

const Tensor& ResNet::forward(Context& ctx, const Tensor& images, bool training) {
  const Tensor* h = &stem_->forward(ctx, images);
  if (stem_bn_) h = &stem_bn_->forward(ctx, *h, training);
  for (auto& block : blocks_) h = &block->forward(ctx, *h, training);
  return head_->forward(ctx, pool_.forward(ctx, *h));
}

void ResNet::backward(Context& ctx, const Tensor& dlogits) {
  const Tensor* d = &pool_.backward(ctx, head_->backward(ctx, dlogits));
  for (auto block = blocks_.rbegin(); block != blocks_.rend(); ++block) d = &(*block)->backward(ctx, *d);
  if (stem_bn_) d = &stem_bn_->backward(ctx, *d);
  stem_->backward(ctx, *d, /*need_input_grad=*/false);
}

double ResNet::forward_macs(int size) const {
  double macs = stem_->forward_macs(size);
  for (const auto& block : blocks_) macs += block->forward_macs(size);
  return macs + head_->macs();
}

std::unique_ptr<Model> make_model(const std::string& name, int classes, int width) {
  if (classes < 2) fail_input("a model needs at least 2 classes, got %d", classes);
  if (width < 1) fail_input("--width must be at least 1, got %d", width);
  if (name == "resnet18") return std::make_unique<ResNet>(BlockKind::Basic, std::vector<int>{2, 2, 2, 2}, classes, width);
  if (name == "preact-resnet18")
    return std::make_unique<ResNet>(BlockKind::PreActivation, std::vector<int>{2, 2, 2, 2}, classes, width);
  if (name == "preact-resnet34")
    return std::make_unique<ResNet>(BlockKind::PreActivation, std::vector<int>{3, 4, 6, 3}, classes, width);
  fail_input("unknown --model '%s' (expected resnet18, preact-resnet18 or preact-resnet34)", name.c_str());
}
