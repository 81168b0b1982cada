// The training program's flags and their checks: see train_config.h.
#include "train_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "engine/check.h"
#include "models/model.h"

namespace {

template <typename T>
void require(bool ok, const char* format, T value) {
  if (!ok) fail_input(format, value);
}

// A flag that the run's other settings ignore is an error: config.json records every flag, and
// would then say that a setting took effect which never did.
void refuse_inapplicable(const Flags& f, const Config& c) {
  const AlgorithmInfo& algo = algorithm_info(c.algorithm.name);
  const bool gossip = algo.family == AlgorithmFamily::Gossip;
  const CompressorKind kind = c.algorithm.compressor.kind;
  const auto refuse = [&f](const char* flag, bool applies, const char* why) {
    if (f.given(flag) && !applies) fail_input("--%s does not apply: %s", flag, why);
  };
  refuse("compressor", algo.compressed || (!gossip && kind == CompressorKind::Identity),
         gossip ? "CHOCO-SGD always quantizes with dither-fixed and Malcom-PSGD with dither (--levels sets their s)"
                : "P-SGD sends full precision (MEM-SGD is P-SGD with a compressor and error feedback)");
  refuse("bucket-bytes", gossip || kind != CompressorKind::Identity, "the identity compressor sends every block alike");
  refuse("ratio", !gossip && (kind == CompressorKind::TopK || kind == CompressorKind::RandomK),
         "--ratio is for --compressor topk or randk");
  refuse("levels", gossip || kind == CompressorKind::Dither || kind == CompressorKind::DitherFixed,
         "--levels is for the dithered quantizer (--compressor dither or dither-fixed, choco, malcom)");
  refuse("period", algo.periodic, "--period is LIEC-SGD's H and CSER's reset period");
  refuse("topology", gossip, "--topology is for the gossip algorithms (choco, malcom)");
  refuse("gamma", gossip, "--gamma is the gossip algorithms' consensus step (choco, malcom)");
  refuse("l1", algo.proximal, "--l1 is Malcom-PSGD's proximal step");
  refuse("decay-epochs", c.schedule == LrSchedule::Step, "--decay-epochs is for --lr-schedule step");
  refuse("data-dir", c.data.name != "synthetic", "the synthetic dataset is made, not read");
  refuse("classes", c.data.name == "synthetic", "a real dataset has its own classes (--classes is for synthetic data)");
  if (c.precision == Precision::TF32 && c.device != Device::CUDA)
    fail_input("--precision tf32 is for the GPU's tensor cores; the CPU computes in fp32 (or bf16)");
  if (c.deterministic && c.device != Device::CUDA)  // a switch: --deterministic=false asks for nothing
    fail_input("--deterministic does not apply: the CPU is always deterministic (--deterministic picks cuDNN's algorithms)");
  refuse("epochs", c.steps == 0, "--steps sets the run's length");
  // --print-params and --inspect train nothing: a flag of a run would be read and silently dropped.
  for (const char* mode : {"print-params", "inspect"}) {
    if (!f.on(mode)) continue;
    const std::vector<std::string> reads =
        std::string(mode) == "print-params"
            ? std::vector<std::string>{"print-params", "device", "model", "width", "classes", "dataset", "image-size",
                                       "coarse-labels"}
            : std::vector<std::string>{"inspect", "device", "dataset", "data-dir", "image-size", "coarse-labels", "classes",
                                       "train-subset", "test-subset", "seed"};
    for (const auto& [name, value] : f.values())
      if (f.given(name) && std::find(reads.begin(), reads.end(), name) == reads.end())
        fail_input("--%s does not apply to --%s, which trains nothing", name.c_str(), mode);
  }
}

}  // namespace

Flags declare_flags() {
  Flags f("train", "Trains a ResNet with N workers running a (compressed) distributed SGD algorithm.");
  f.add("device", "auto", "cpu, cuda, or auto (cuda when a GPU is present)");
  f.add("model", "resnet18", "resnet18, preact-resnet18 or preact-resnet34");
  f.add("width", "64", "base channel count (64 is the standard network)");
  f.add("dataset", "synthetic", "synthetic, cifar10, cifar100 or tinyimagenet");
  f.add("data-dir", "", "folder with the dataset's files (or their parent folder)");
  f.add("image-size", "0", "32 or 64; 0 keeps the dataset's size (Tiny ImageNet at 32 is box-downsampled)");
  f.add("classes", "10", "number of classes of the synthetic dataset");
  f.add_switch("coarse-labels", "CIFAR-100: train on the 20 coarse labels instead of the 100 fine ones");
  f.add("train-subset", "0", "train on N training images (0: all), a seeded sample balanced over the classes; for quick runs");
  f.add("test-subset", "0", "evaluate on N test images (0: all), a seeded sample balanced over the classes");
  f.add_switch("inspect", "load the dataset, print its sizes and per-class counts, and exit");
  f.add("algo", "psgd", algorithm_help());
  f.add("compressor", "identity", "identity, sign, topk, randk, dither or dither-fixed (server/worker algorithms)");
  f.add("bucket-bytes", "5242880", "compression blocks: tensors grouped up to this many bytes (huge: one block)");
  f.add("ratio", "0.01", "top-k and random-k: fraction of each block kept");
  f.add("levels", "16", "dithered quantizer: levels s (choco, malcom, --compressor dither)");
  f.add("period", "32", "LIEC-SGD synchronisation period H, CSER reset period");
  f.add("topology", "ring", "choco, malcom: ring, torus or complete");
  f.add("gamma", "0.5", "choco, malcom: consensus step size");
  f.add("l1", "0", "malcom: l1 regularisation lambda (proximal step lr * lambda)");
  f.add("workers", "1", "simulated workers with --comm local (mpirun -np sets it otherwise)");
  f.add_switch("dedicated-server",
               "server/worker algorithms: rank 0 is the server only, not also worker 0 (--comm local adds a rank "
               "for it; under mpirun the workers are -np minus 1)");
  f.add("comm", "local", "local (threads), mpi (processes under mpirun) or nccl (one GPU per rank)");
  f.add("comm-timeout", "120", "seconds a rank waits for a peer before it gives up with an error");
  f.add("link-gbps", "0",
        "modelled network: each rank's full-duplex link to a switch in Gbit/s, for the time_network and sim_s "
        "metrics (0: off); training is unchanged");
  f.add("link-latency-us", "0", "modelled network: microseconds each direction of an exchange costs once");
  f.add("link-compute-s", "measured",
        "modelled network: a step's compute time in seconds, or measured (one worker's, shared time divided by the "
        "workers sharing the device)");
  f.add("batch-size", "128", "images per step per worker");
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
  f.add("seed", "0", "seeds initialisation, data order, augmentation, random-k and dither noise");
  f.add("log-every", "10", "steps between metric lines");
  f.add("run-dir", "runs/default", "where config.json, metrics.jsonl and checkpoints go");
  f.add("checkpoint-every", "0", "epochs between checkpoints (0: none)");
  f.add_switch("resume", "continue from RUN_DIR/checkpoint");
  f.add_switch("overwrite", "start a new run in a RUN_DIR that holds another run's files (they are removed)");
  f.add_switch("deterministic", "pick only deterministic cuDNN algorithms");
  f.add("precision", "fp32",
        "fp32; tf32 (TF32 tensor cores for convolutions and matrix products); bf16 (bf16 operands, float32 "
        "accumulation and master weights)");
  f.add("cuda-graphs", "on",
        "on: capture each step into a CUDA graph after warm-up and replay it, where the transport and algorithm "
        "allow; off: launch every kernel");
  f.add_switch("print-params", "print the model's parameter count and exit");
  f.add("crash-at-step", "0", "testing: the last rank exits abruptly after this step (0: never)");
  return f;
}

namespace {

const char* const kRunFiles[] = {"config.json", "metrics.jsonl", "checkpoint", "checkpoint.old", "checkpoint.tmp"};

// What of a run's files the folder holds (an unreadable path is the run directory's own error, later).
std::vector<std::string> run_files_in(const std::string& run_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> held;
  for (const char* name : kRunFiles) {
    std::error_code error;
    if (fs::symlink_status(fs::path(run_dir) / name, error).type() != fs::file_type::not_found && !error)
      held.push_back(name);
  }
  return held;
}

}  // namespace

void check_run_folder(const Config& c) {
  const std::vector<std::string> held = run_files_in(c.run_dir);
  if (c.resume || c.overwrite || held.empty()) return;
  fail_input("%s holds a run already (%s): --resume continues it, --overwrite replaces it", c.run_dir.c_str(),
             held[0].c_str());
}

void clear_run_folder(const std::string& run_dir) {
  for (const std::string& name : run_files_in(run_dir)) {
    std::error_code error;
    std::filesystem::remove_all(std::filesystem::path(run_dir) / name, error);
    if (error) fail_input("--overwrite: cannot remove %s/%s: %s", run_dir.c_str(), name.c_str(), error.message().c_str());
  }
}

// The checks that depend on this machine, not only on the flags: under mpirun every rank makes
// them for itself, and says so.
void check_device(const Config& c) {
  if (c.device == Device::CUDA && !cuda_available()) fail_input("--device cuda was asked for, but no CUDA GPU is available");
  // Every parameter tensor then starts 16-byte aligned in the flat vector, as cuDNN's kernels want.
  require(c.device != Device::CUDA || c.width % 4 == 0, "--width must be a multiple of 4 on the GPU, got %d", c.width);
}

Config read_config(const Flags& f) {
  // Integer settings held in an int: a value outside its range is an error, not a wrap-around.
  const auto int_flag = [&f](const char* name, long min = std::numeric_limits<int>::min(),
                             long max = std::numeric_limits<int>::max()) {
    return static_cast<int>(f.integer(name, min, max));
  };
  Config c;
  const std::string device = f.choice("device", {"auto", "cpu", "cuda"});
  c.device = device == "cuda" || (device == "auto" && cuda_available()) ? Device::CUDA : Device::CPU;
  c.comm = parse_transport(f.str("comm"));
  require(c.comm != TransportKind::Nccl || c.device == Device::CUDA, "%s",
          "--comm nccl needs --device cuda (and a GPU per rank)");
  c.model = f.str("model");
  const std::vector<std::string>& models = model_names();
  if (std::find(models.begin(), models.end(), c.model) == models.end())
    fail_input("unknown --model '%s' (expected resnet18, preact-resnet18 or preact-resnet34)", c.model.c_str());
  c.data.name = f.str("dataset");
  validate_dataset_name(c.data.name);
  c.data.dir = f.str("data-dir");
  c.data.image_size = int_flag("image-size", 0);
  require(c.data.image_size == 0 || c.data.image_size == 32 || c.data.image_size == 64,
          "--image-size must be 32 or 64 (or 0: the data set's own), got %d", c.data.image_size);
  c.data.classes = int_flag("classes", 2, 100000);
  c.data.coarse_labels = f.on("coarse-labels");
  require(!c.data.coarse_labels || c.data.name == "cifar100", "%s", "--coarse-labels goes with --dataset cifar100");
  c.run_dir = f.str("run-dir");
  require(!c.run_dir.empty(), "%s", "--run-dir is empty");
  c.augment = f.choice("augment", {"auto", "on", "off"});
  c.algorithm.name = f.str("algo");
  c.algorithm.compressor.kind = parse_compressor(f.str("compressor"));
  c.algorithm.compressor.ratio = f.number("ratio");
  c.algorithm.compressor.levels = int_flag("levels", 1, kMaxDitherLevels);
  c.algorithm.period = int_flag("period", 1);
  c.algorithm.topology = f.str("topology");
  // Checked as the float32 values training uses, reported as given (here, before
  // validate_algorithm_config, which would report the float32 value).
  c.algorithm.gamma = static_cast<float>(f.number("gamma"));
  require(c.algorithm.gamma > 0.0f && c.algorithm.gamma <= 1.0f, "--gamma must be in (0, 1] in float32, got %s",
          f.str("gamma").c_str());
  c.algorithm.l1 = static_cast<float>(f.number("l1"));
  require(c.algorithm.l1 >= 0.0f && std::isfinite(c.algorithm.l1) && (c.algorithm.l1 != 0.0f || f.number("l1") == 0.0),
          "--l1 must be non-negative and finite, and not 0 in float32 unless 0, got %s", f.str("l1").c_str());
  c.bucket_bytes = static_cast<size_t>(f.integer("bucket-bytes", 4));
  // 512 keeps PreAct-ResNet34's parameter count (x64 at 8 times the width) within an int.
  c.width = int_flag("width", 1, 512);
  c.batch_size = int_flag("batch-size", 1, 65536);
  c.log_every = int_flag("log-every", 1);
  c.eval_every = int_flag("eval-every", 1);
  c.workers = int_flag("workers", 1, 1024);
  c.algorithm.dedicated_server = f.on("dedicated-server");
  c.checkpoint_every = int_flag("checkpoint-every", 0);
  c.data.train_subset = int_flag("train-subset", 0);
  c.data.test_subset = int_flag("test-subset", 0);
  c.steps = f.integer("steps", 0, kMaxSteps);
  c.epochs = f.integer("epochs", 0, kMaxSteps);  // epochs x steps per epoch is then far from overflowing
  require(c.steps > 0 || c.epochs >= 1, "--epochs must be at least 1, got %ld", c.epochs);
  c.crash_at_step = f.integer("crash-at-step", 0, kMaxSteps);
  c.comm_timeout = f.number("comm-timeout");
  // 11 days is past any wait worth making; far larger ones overflow the clock (a deadline already past).
  require(c.comm_timeout > 0 && c.comm_timeout <= 1e6, "--comm-timeout must be in (0, 1e6] seconds, got %s",
          f.str("comm-timeout").c_str());
  c.link.gbps = f.number("link-gbps");
  // 1 kbit/s is slower than any link worth modelling; below it the times overflow any reading.
  require(c.link.gbps == 0 || (c.link.gbps >= 1e-6 && c.link.gbps <= 1e6),
          "--link-gbps must be 0 (off) or in [1e-6, 1e6], got %s", f.str("link-gbps").c_str());
  const double latency_us = f.number("link-latency-us");
  require(latency_us >= 0 && latency_us <= 1e9, "--link-latency-us must be in [0, 1e9], got %s",
          f.str("link-latency-us").c_str());
  c.link.latency_s = latency_us * 1e-6;
  const std::string compute = f.str("link-compute-s");
  c.link_compute_s = compute == "measured" ? -1.0 : f.number("link-compute-s");
  require(compute == "measured" || (c.link_compute_s >= 0 && c.link_compute_s <= 1e6),
          "--link-compute-s must be measured or seconds in [0, 1e6], got %s", compute.c_str());
  for (const char* name : {"link-latency-us", "link-compute-s"})
    require(!f.given(name) || c.link.on(), "--%s goes with a non-zero --link-gbps", name);
  // Checked as the float32 values training uses (1e-50 is 0 there), reported as given.
  c.lr = static_cast<float>(f.number("lr"));
  require(c.lr > 0.0f && std::isfinite(c.lr), "--lr must be positive and finite in float32, got %s", f.str("lr").c_str());
  c.sgd.momentum = static_cast<float>(f.number("momentum"));
  require(c.sgd.momentum >= 0.0f && c.sgd.momentum < 1.0f, "--momentum must be in [0, 1) in float32, got %s",
          f.str("momentum").c_str());
  c.sgd.weight_decay = static_cast<float>(f.number("wd"));
  require(c.sgd.weight_decay >= 0.0f && std::isfinite(c.sgd.weight_decay) &&
              (c.sgd.weight_decay != 0.0f || f.number("wd") == 0.0),
          "--wd must be non-negative and finite, and not 0 in float32 unless 0, got %s", f.str("wd").c_str());
  c.sgd.nesterov = f.on("nesterov");
  require(!c.sgd.nesterov || c.sgd.momentum != 0.0f, "%s", "--nesterov needs a non-zero --momentum");
  c.schedule = parse_lr_schedule(f.str("lr-schedule"));
  c.decay_epochs = parse_epoch_list(f.str("decay-epochs"));
  // The list as parsed ("080" is 80), so that a resume compares epochs, not spellings.
  c.decay_epochs_text.clear();
  for (long e : c.decay_epochs) c.decay_epochs_text += (c.decay_epochs_text.empty() ? "" : ",") + std::to_string(e);
  c.deterministic = f.on("deterministic");
  c.precision = parse_precision(f.str("precision"));
  c.cuda_graphs = f.choice("cuda-graphs", {"on", "off"}) == "on";
  c.resume = f.on("resume");
  c.overwrite = f.on("overwrite");
  require(!(c.resume && c.overwrite), "%s", "--resume continues the run in --run-dir and --overwrite replaces it: not both");
  c.seed = c.data.seed = c.algorithm.compressor.seed = static_cast<uint64_t>(f.integer("seed", 0));
  // Everything that can be checked before ranks start is checked here, in the main thread.
  validate_algorithm_config(c.algorithm, c.comm == TransportKind::Local ? c.local_ranks() : 0);
  refuse_inapplicable(f, c);
  return c;
}

namespace {

// A setting given as text, as a number that a checkpoint can hold exactly (FNV-1a, 32 bits).
double text_fingerprint(const std::string& text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) hash = (hash ^ c) * 16777619u;
  return hash;
}

}  // namespace

std::vector<FingerprintSetting> run_fingerprint(const Config& c, const RunShape& shape) {
  const bool run_length_matters = c.schedule == LrSchedule::Cosine || c.schedule == LrSchedule::OneCycle;
  return {{"algo", text_fingerprint(c.algorithm.name), "--algo"},
          {"compressor", text_fingerprint(compressor_name(c.algorithm.compressor.kind)), "--compressor"},
          {"ratio", c.algorithm.compressor.ratio, "--ratio"},
          {"levels", static_cast<double>(c.algorithm.compressor.levels), "--levels"},
          {"period", static_cast<double>(c.algorithm.period), "--period"},
          {"dedicated-server", c.algorithm.dedicated_server ? 1.0 : 0.0, "--dedicated-server"},
          {"bucket-bytes", static_cast<double>(c.bucket_bytes), "--bucket-bytes"},
          {"parameters", static_cast<double>(shape.parameters), "model (--model, --width or the classes)"},
          {"momentum", c.sgd.momentum, "--momentum"},
          {"batch-size", static_cast<double>(c.batch_size), "--batch-size"},
          {"steps-per-epoch", static_cast<double>(shape.steps_per_epoch), "epoch (dataset or --train-subset)"},
          // The modelled times so far were summed under these: another link would mix two models.
          {"link-gbps", c.link.gbps, "--link-gbps"},
          {"link-latency-s", c.link.latency_s, "--link-latency-us"},
          {"link-compute-s", c.link_compute_s, "--link-compute-s"},
          // The rest of the run's arithmetic and randomness.
          {"seed-high", static_cast<double>(c.seed >> 32), "--seed"},
          {"seed-low", static_cast<double>(c.seed & 0xffffffffu), "--seed"},
          {"lr", c.lr, "--lr"},
          {"lr-schedule", static_cast<double>(c.schedule), "--lr-schedule"},
          {"decay-epochs", text_fingerprint(c.decay_epochs_text), "--decay-epochs"},
          {"wd", c.sgd.weight_decay, "--wd"},
          {"nesterov", c.sgd.nesterov ? 1.0 : 0.0, "--nesterov"},
          {"augment", shape.augment ? 1.0 : 0.0, "--augment"},
          {"precision", text_fingerprint(precision_name(c.precision)), "--precision"},
          {"topology", text_fingerprint(c.algorithm.topology), "--topology"},
          {"gamma", c.algorithm.gamma, "--gamma"},
          {"l1", c.algorithm.l1, "--l1"},
          {"dataset", text_fingerprint(shape.dataset), "--dataset"},
          {"test-subset", static_cast<double>(shape.test_images), "--test-subset"},
          {"train-subset", static_cast<double>(c.data.train_subset), "--train-subset"},
          {"image-size", static_cast<double>(shape.image_size), "--image-size"},
          // Cosine and one-cycle rates depend on the run's length; constant and step ones do not.
          {"schedule-steps", run_length_matters ? static_cast<double>(shape.total_steps) : 0.0,
           "run length (--steps or --epochs: the cosine and one-cycle rates depend on it)"}};
}
