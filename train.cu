// ./train: trains a ResNet on one worker and writes config.json and metrics.jsonl to its run
// directory. `./train --help` lists every flag.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "data/batch.h"
#include "data/load.h"
#include "data/sharding.h"
#include "engine/check.h"
#include "engine/cross_entropy.h"
#include "engine/flags.h"
#include "engine/lr_schedule.h"
#include "engine/nvtx.h"
#include "engine/run_log.h"
#include "engine/sgd.h"
#include "models/model.h"

#ifndef GIT_COMMIT
#define GIT_COMMIT "unknown"
#endif

namespace {

Flags declare_flags() {
  Flags f("train", "Trains a ResNet with our engine on the CPU or a CUDA GPU.");
  f.add("device", "auto", "cpu, cuda, or auto (cuda when a GPU is present)");
  f.add("model", "resnet18", "resnet18, preact-resnet18 or preact-resnet34");
  f.add("width", "64", "base channel count (64 is the standard network)");
  f.add("dataset", "synthetic", "synthetic, cifar10, cifar100 or tinyimagenet");
  f.add("data-dir", "", "folder with the dataset's files (or their parent folder)");
  f.add("image-size", "0", "32 or 64; 0 keeps the dataset's size (Tiny ImageNet at 32 is box-downsampled)");
  f.add("classes", "10", "number of classes (synthetic data, --print-params)");
  f.add_switch("inspect", "load the dataset, print its sizes and per-class counts, and exit");
  f.add("batch-size", "128", "images per step");
  f.add("steps", "0", "stop after this many steps (0: run --epochs epochs)");
  f.add("epochs", "1", "passes over the training set when --steps is 0");
  f.add("lr", "0.1", "base learning rate");
  f.add("lr-schedule", "constant", "constant, step, cosine or onecycle");
  f.add("decay-epochs", "80", "step schedule: epochs at which the rate is multiplied by 0.1 (comma-separated)");
  f.add("momentum", "0.9", "SGD momentum (0 disables it)");
  f.add("wd", "5e-4", "weight decay");
  f.add_switch("nesterov", "Nesterov momentum");
  f.add("augment", "auto", "random crop and horizontal flip of training images: on, off, or auto (on for real data)");
  f.add("eval-every", "1", "epochs between test-set evaluations (and after the last step)");
  f.add("seed", "0", "seeds initialisation, data order, augmentation and synthetic data");
  f.add("log-every", "10", "steps between metric lines");
  f.add("run-dir", "runs/default", "where config.json and metrics.jsonl go");
  f.add_switch("deterministic", "pick only deterministic cuDNN algorithms");
  f.add_switch("print-params", "print the model's parameter count and exit");
  return f;
}

struct Config {
  Device device;
  std::string model, run_dir;
  DatasetOptions data;
  int width, batch_size, log_every, eval_every;
  long steps, epochs;
  SgdConfig sgd;
  LrSchedule::Kind schedule;
  std::vector<long> decay_epochs;
  std::string augment;
  bool deterministic;
  uint64_t seed;
};

Config read_config(const Flags& f) {
  Config c;
  const std::string device = f.str("device");
  if (device == "auto")
    c.device = cuda_available() ? Device::CUDA : Device::CPU;
  else if (device == "cpu")
    c.device = Device::CPU;
  else if (device == "cuda")
    c.device = Device::CUDA;
  else
    fail_input("unknown --device '%s' (expected cpu, cuda or auto)", device.c_str());
  if (c.device == Device::CUDA && !cuda_available())
    fail_input("--device cuda was asked for, but no CUDA GPU is available");
  c.model = f.str("model");
  c.data.name = f.str("dataset");
  c.data.dir = f.str("data-dir");
  c.data.image_size = static_cast<int>(f.integer("image-size"));
  c.data.classes = static_cast<int>(f.integer("classes"));
  c.run_dir = f.str("run-dir");
  c.width = static_cast<int>(f.integer("width"));
  c.eval_every = static_cast<int>(f.integer("eval-every"));
  c.schedule = parse_lr_schedule(f.str("lr-schedule"));
  c.decay_epochs = parse_epoch_list(f.str("decay-epochs"));
  c.augment = f.str("augment");
  if (c.augment != "auto" && c.augment != "on" && c.augment != "off")
    fail_input("--augment must be on, off or auto, got '%s'", c.augment.c_str());
  c.batch_size = static_cast<int>(f.integer("batch-size"));
  c.log_every = static_cast<int>(f.integer("log-every"));
  c.steps = f.integer("steps");
  c.epochs = f.integer("epochs");
  c.sgd.lr = static_cast<float>(f.number("lr"));
  c.sgd.momentum = static_cast<float>(f.number("momentum"));
  c.sgd.weight_decay = static_cast<float>(f.number("wd"));
  c.sgd.nesterov = f.on("nesterov");
  c.deterministic = f.on("deterministic");
  const long seed = f.integer("seed");
  if (seed < 0) fail_input("--seed must be non-negative, got %ld", seed);
  c.seed = static_cast<uint64_t>(seed);
  if (c.width < 1 || c.width > 1024) fail_input("--width must be in [1, 1024], got %d", c.width);
  // Every parameter tensor then starts 16-byte aligned in the flat vector, as cuDNN's kernels want.
  if (c.device == Device::CUDA && c.width % 4 != 0)
    fail_input("--width must be a multiple of 4 on the GPU, got %d", c.width);
  if (c.data.classes < 2) fail_input("--classes must be at least 2, got %d", c.data.classes);
  c.data.seed = c.seed;
  bool known = false;
  for (const std::string& name : dataset_names()) known |= name == c.data.name;
  if (!known)
    fail_input("unknown --dataset '%s' (expected synthetic, cifar10, cifar100 or tinyimagenet)", c.data.name.c_str());
  if (c.eval_every < 1) fail_input("--eval-every must be at least 1, got %d", c.eval_every);
  if (c.batch_size < 1) fail_input("--batch-size must be at least 1, got %d", c.batch_size);
  if (c.log_every < 1) fail_input("--log-every must be at least 1, got %d", c.log_every);
  if (c.steps < 0) fail_input("--steps must be non-negative, got %ld", c.steps);
  if (c.steps == 0 && c.epochs < 1) fail_input("--epochs must be at least 1, got %ld", c.epochs);
  if (!(c.sgd.lr > 0.0f) || !std::isfinite(c.sgd.lr)) fail_input("--lr must be positive, got %g", c.sgd.lr);
  if (c.sgd.momentum < 0.0f || c.sgd.momentum >= 1.0f) fail_input("--momentum must be in [0, 1), got %g", c.sgd.momentum);
  if (c.sgd.weight_decay < 0.0f) fail_input("--wd must be non-negative, got %g", c.sgd.weight_decay);
  if (c.sgd.nesterov && c.sgd.momentum == 0.0f) fail_input("--nesterov needs a non-zero --momentum");
  return c;
}

std::string device_description(const Config& c) {
  if (c.device == Device::CPU) return "cpu";
  cudaDeviceProp properties;
  CUDA_CHECK(cudaGetDeviceProperties(&properties, 0));
  return std::string("cuda:0 (") + properties.name + ")";
}

void print_settings(const Flags& flags, const std::string& device) {
  std::printf("%-16s %s\n", "setting", "value");
  for (const auto& [name, value] : flags.values()) std::printf("%-16s %s\n", name.c_str(), value.c_str());
  std::printf("%-16s %s\n%-16s %s\n\n", "resolved device", device.c_str(), "commit", GIT_COMMIT);
}

// Mean loss and accuracy of the model, in evaluation mode, over a whole split.
struct Evaluation {
  double loss, accuracy;
};

Evaluation evaluate(Context& ctx, Model& model, const DeviceDataset& data, const Normalization& normalization,
                    int batch_size) {
  NVTX_RANGE("evaluate");
  Buffer<int32_t> order(ctx, data.size), labels(ctx, batch_size);
  std::vector<int32_t> identity(data.size);
  for (size_t i = 0; i < data.size; ++i) identity[i] = static_cast<int32_t>(i);
  ctx.upload(order.data(), identity.data(), identity.size() * sizeof(int32_t));
  Tensor images, dlogits, stats = Tensor::zeros(ctx, {2});
  for (size_t start = 0; start < data.size; start += batch_size) {
    const int n = static_cast<int>(std::min<size_t>(batch_size, data.size - start));
    images.ensure(ctx, {n, 3, data.height, data.width});
    make_batch(ctx, data, order.data() + start, n, normalization, Augmentation{}, images.data(), labels.data());
    const Tensor& logits = model.forward(ctx, images, /*training=*/false);
    dlogits.ensure(ctx, logits.shape());
    // The per-batch mean gradient is unused here; the summed loss and hits are what we want.
    softmax_cross_entropy(ctx, dlogits.data(), stats.data(), logits.data(), labels.data(), n, data.classes);
  }
  const std::vector<float> sums = stats.to_host(ctx);
  return Evaluation{sums[0] / data.size, sums[1] / data.size};
}

// --inspect: what a loader produced, without training.
int inspect(const DatasetOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const DatasetSplits data = load_dataset(options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("train=%zu test=%zu classes=%d shape=%dx%dx3\n", data.train.size(), data.test.size(), data.train.classes,
              data.train.height, data.train.width);
  const std::vector<int> train_counts = data.train.class_counts(), test_counts = data.test.class_counts();
  for (int c = 0; c < data.train.classes; ++c)
    std::printf("%3d %-24s train=%d test=%d\n", c, data.train.class_names[c].c_str(), train_counts[c], test_counts[c]);
  std::printf("loaded in %.2f s\n", seconds);
  return 0;
}

int run(const Flags& flags) {
  const Config c = read_config(flags);
  if (flags.on("print-params")) {
    std::unique_ptr<Model> model = make_model(c.model, c.data.classes, c.width);
    std::printf("%s: %zu parameters (%d classes, width %d)\n", c.model.c_str(), model->store().param_count(),
                c.data.classes, c.width);
    return 0;
  }
  if (flags.on("inspect")) return inspect(c.data);

  const std::string device = device_description(c);
  print_settings(flags, device);
  RunLog log(c.run_dir);
  JsonObject config;
  for (const auto& [name, value] : flags.values()) config.add(name, value);
  config.add("resolved_device", device).add("commit", GIT_COMMIT);
  log.write_config(config);

  const DatasetSplits data = load_dataset(c.data);
  Context ctx(ContextOptions{c.device, 0, c.seed, c.deterministic});
  const DeviceDataset train(ctx, data.train), test(ctx, data.test);
  const int steps_in_epoch = steps_per_epoch(static_cast<int>(train.size), 1, c.batch_size);
  if (steps_in_epoch == 0)
    fail_input("--batch-size %d is larger than the training set (%zu images)", c.batch_size, train.size);
  const long total_steps = c.steps > 0 ? c.steps : c.epochs * steps_in_epoch;
  const bool augment = c.augment == "on" || (c.augment == "auto" && data.name != "synthetic");
  LrSchedule schedule;
  schedule.kind = c.schedule;
  schedule.base_lr = c.sgd.lr;
  schedule.total_steps = total_steps;
  schedule.steps_per_epoch = steps_in_epoch;
  schedule.decay_epochs = c.decay_epochs;
  SgdConfig sgd = c.sgd;

  std::unique_ptr<Model> model = make_model(c.model, data.train.classes, c.width);
  ParamStore& store = model->store();
  store.allocate(ctx);
  store.initialize(ctx, c.seed);
  std::printf("model %s: %zu parameters\n", c.model.c_str(), store.param_count());
  Tensor momentum = c.sgd.momentum != 0.0f ? Tensor::zeros(ctx, {static_cast<int>(store.param_count())}) : Tensor();

  Tensor images = Tensor::empty(ctx, {c.batch_size, 3, train.height, train.width});
  Tensor dlogits = Tensor::empty(ctx, {c.batch_size, train.classes});
  Tensor stats = Tensor::zeros(ctx, {2});  // loss sum, correct count since the last log line
  Buffer<int32_t> labels(ctx, c.batch_size), order;

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  Clock::time_point last_log = start;
  long step = 0, logged_step = 0;
  for (long epoch = 0; step < total_steps; ++epoch) {
    const std::vector<int32_t> shard = worker_shard(c.seed, epoch, static_cast<int>(train.size), 1, 0, c.batch_size);
    order.ensure(ctx, shard.size());
    ctx.upload(order.data(), shard.data(), shard.size() * sizeof(int32_t));
    // Padding of 4 pixels at 32x32, 8 at 64x64: the same fraction of the image.
    const Augmentation augmentation{augment, train.height / 8, c.seed, static_cast<uint64_t>(epoch)};
    for (int s = 0; s < steps_in_epoch && step < total_steps; ++s) {
      {
        NVTX_RANGE("forward");
        make_batch(ctx, train, order.data() + static_cast<long>(s) * c.batch_size, c.batch_size, data.normalization,
                   augmentation, images.data(), labels.data());
        const Tensor& logits = model->forward(ctx, images, /*training=*/true);
        softmax_cross_entropy(ctx, dlogits.data(), stats.data(), logits.data(), labels.data(), c.batch_size,
                              train.classes);
      }
      {
        NVTX_RANGE("backward");
        model->backward(ctx, dlogits);
      }
      {
        NVTX_RANGE("update");
        sgd.lr = schedule.at(step);
        sgd_update(ctx, sgd, store.values().data(), store.grads().data(),
                   momentum.defined() ? momentum.data() : nullptr, store.param_count());
      }
      ++step;
      if (step % c.log_every != 0 && step != total_steps) continue;

      const std::vector<float> sums = stats.to_host(ctx);  // waits for the step to finish
      ctx.fill_zero(stats.data(), stats.bytes());
      const Clock::time_point now = Clock::now();
      const long images_seen = (step - logged_step) * c.batch_size;
      const double loss = sums[0] / images_seen, accuracy = sums[1] / images_seen;
      const double seconds = std::chrono::duration<double>(now - last_log).count();
      const double images_per_s = seconds > 0 ? images_seen / seconds : 0.0;
      if (!std::isfinite(loss)) {
        std::fprintf(stderr, "error: the loss became %g at step %ld; stopping (try a smaller --lr)\n", loss, step);
        return 1;
      }
      log.append_metrics(JsonObject()
                             .add("step", step)
                             .add("epoch", epoch)
                             .add("loss", loss)
                             .add("acc", accuracy)
                             .add("lr", static_cast<double>(sgd.lr))
                             .add("images_per_s", images_per_s)
                             .add("wall_s", std::chrono::duration<double>(now - start).count()));
      std::printf("step %6ld/%ld  epoch %3ld  loss %.4f  acc %.4f  lr %.4g  %8.0f img/s\n", step, total_steps, epoch,
                  loss, accuracy, sgd.lr, images_per_s);
      std::fflush(stdout);
      last_log = now;
      logged_step = step;
    }
    const bool evaluation_due = step % steps_in_epoch == 0 && (epoch + 1) % c.eval_every == 0;
    if (evaluation_due || step == total_steps) {
      const Evaluation e = evaluate(ctx, *model, test, data.normalization, c.batch_size);
      log.append_metrics(
          JsonObject().add("step", step).add("epoch", epoch).add("test_loss", e.loss).add("test_acc", e.accuracy));
      std::printf("epoch %3ld  test loss %.4f  test acc %.4f\n", epoch, e.loss, e.accuracy);
      last_log = Clock::now();  // evaluation time is not training throughput
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = declare_flags();
  flags.parse(argc, argv);
  return run(flags);
}
