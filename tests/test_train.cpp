// ./train end to end in one process: it learns (float32 and bf16), the same seed gives the same
// bits, bad flags exit with code 2, the modelled network's times are their closed forms, graph
// replay gives eager execution's losses (on a GPU), and every algorithm runs.
#include <cmath>
#include <filesystem>
#include <numeric>
#include <regex>
#include <string>

#include "tests/helpers.h"

namespace {

const char* kTiny = "--device cpu --dataset synthetic --width 8 --batch-size 32";

TEST_CASE("train: the loss on synthetic data falls below half its first value in 60 CPU steps") {
  const std::string dir = temp_dir("learn");
  const Outcome o = run_train(std::string(kTiny) + " --steps 60 --lr 0.05 --log-every 1 --run-dir " + dir);
  REQUIRE(o.status == 0);
  const std::string metrics = read_text(dir + "/metrics.jsonl");
  const std::vector<double> loss = series(metrics, "loss");
  REQUIRE(loss.size() == 60);
  const double first = loss[0];
  double last10 = 0.0;
  for (int i = 50; i < 60; ++i) last10 += loss[i];
  last10 /= 10;
  MESSAGE("first loss " << first << ", mean of the last 10 steps " << last10);
  CHECK(first > 2.0);  // about ln 10 at initialisation
  CHECK(last10 < first / 2);
  for (const char* key : {"step", "loss", "acc", "lr", "images_per_s"})
    CHECK(!std::isnan(field(lines_of(metrics)[0], key)));
  const std::string config = read_text(dir + "/config.json");
  CHECK(config.find("\"batch-size\": \"32\"") != std::string::npos);
  CHECK(config.find("\"commit\"") != std::string::npos);
  CHECK(series(metrics, "test_acc").size() == 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: --precision bf16 learns on the CPU (emulated bf16 roundings), and is another arithmetic") {
  std::map<std::string, std::vector<double>> losses;
  for (const std::string precision : {"fp32", "bf16"}) {
    const std::string dir = temp_dir(precision);
    const Outcome o = run_train(std::string(kTiny) + " --steps 40 --lr 0.05 --log-every 1 --precision " + precision +
                                " --run-dir " + dir);
    INFO(o.err);
    REQUIRE(o.status == 0);
    losses[precision] = series(read_text(dir + "/metrics.jsonl"), "loss");
    REQUIRE(losses[precision].size() == 40);
    std::filesystem::remove_all(dir);
  }
  const std::vector<double>& bf16 = losses["bf16"];
  double last5 = 0.0;
  for (int i = 35; i < 40; ++i) last5 += bf16[i] / 5;
  MESSAGE("bf16: first loss " << bf16[0] << ", mean of the last 5 " << last5 << "; fp32 last " << losses["fp32"][39]);
  CHECK(last5 < bf16[0] / 2);
  CHECK(bf16 != losses["fp32"]);
}

TEST_CASE("train: the same seed gives bit-identical metrics on the CPU") {
  std::vector<std::string> runs;
  for (int i = 0; i < 2; ++i) {
    const std::string dir = temp_dir("repeat");
    REQUIRE(run_train(std::string(kTiny) + " --steps 12 --log-every 3 --augment on --seed 7 --run-dir " + dir).status == 0);
    // Everything but the timings must agree exactly.
    runs.push_back(without_timings(read_text(dir + "/metrics.jsonl")));
    std::filesystem::remove_all(dir);
  }
  CHECK(!runs[0].empty());
  CHECK(runs[0] == runs[1]);
  const std::string dir = temp_dir("other");
  REQUIRE(run_train(std::string(kTiny) + " --steps 12 --log-every 3 --augment on --seed 8 --run-dir " + dir).status == 0);
  const std::string other = without_timings(read_text(dir + "/metrics.jsonl"));
  CHECK(other != runs[0]);  // and another seed really is another run
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: bad flags and impossible values stop with one line and exit code 2") {
  const std::string dir = temp_dir("bad");
  for (const std::string args : {"--batch-size 0", "--dataset imagenet-21k", "--no-such-flag 1", "--lr abc",
                                 "--steps -3", "--device tpu", "--model resnet9000", "--width 0", "--momentum 1.5",
                                 "--batch-size", "--batch-size 100000 --device cpu", "--precision fp64",
                                 "--algo liec --period 0", "--compressor topk --ratio 0", "--cuda-graphs maybe",
                                 "--comm-timeout 1e300", "--wd inf", "--l1 nan", "--width 900", "--levels 4294967297",
                                 "--epochs 4611686018427387904", "--seed 18446744073709551615",
                                 "--dedicated-server --algo malcom", "--comm nccl --device cpu",
                                 "--workers 3 --train-subset 64 --batch-size 32",
                                 "--link-gbps -1", "--link-latency-us 5", "--link-gbps 1 --link-compute-s soon",
                                 "--link-gbps 1 --link-latency-us -2",
                                 // Settings that would not take effect, and repeated ones.
                                 "--algo malcom --compressor sign", "--algo psgd --compressor sign", "--gamma 0.3",
                                 "--algo memsgd --compressor sign --ratio 0.1", "--period 4", "--algo choco --l1 0.1",
                                 "--lr-schedule step --decay-epochs 80,40", "--lr-schedule step --decay-epochs 40,40",
                                 "--decay-epochs 40", "--steps 1 --steps 2", "--data-dir /tmp", "--bucket-bytes 4096",
                                 "--dataset cifar10 --classes 100", "--device cpu --precision tf32",
                                 "--resume --overwrite", "--steps 4 --epochs 2", "--device cpu --deterministic",
                                 "--run-dir --resume", "--model resnet50", "--crash-at-step -5", "--link-gbps 1e-300",
                                 "--train-subset 100000000", "--lr-schedule step --decay-epochs 3,", "--lr ' 0.1'",
                                 "--steps 0x10", "--image-size 33 --print-params", "--algo malcom --gamma 1.000001",
                                 "--wd 1e-50", "--algo malcom --l1 1e-50", "--print-params --dataset cifar10 --classes 5",
                                 "--dataset cifar10 --data-dir /etc/hostname", "--inspect --lr 5",
                                 "--model 'res\nnet\x1b[2J'"}) {  // a newline and a control code in the echoed value
    INFO(args);
    const Outcome o = run_train(args + " --run-dir " + dir);
    CHECK(o.status == 2);
    CHECK(lines_of(o.err).size() == 1);
    CHECK(o.err.rfind("error: ", 0) == 0);
  }
  // A float32 setting out of range is reported as it was typed, not as its float32 rounding.
  CHECK(run_train("--algo malcom --gamma 1.000001 --run-dir " + dir).err ==
        "error: --gamma must be in (0, 1] in float32, got 1.000001\n");
  const Outcome empty = run_train("--device cpu --width 4 --steps 1 --run-dir ''");
  CHECK(empty.status == 2);
  CHECK(empty.err == "error: --run-dir is empty\n");
  if (!cuda_available()) {
    const Outcome o = run_train("--device cuda --run-dir " + dir);
    CHECK(o.status == 2);
    CHECK(o.err.find("no CUDA GPU") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: --print-params and --help") {
  const Outcome p = run_train("--print-params --model preact-resnet34 --classes 100");
  CHECK(p.status == 0);
  CHECK(p.out.find("21325476 parameters") != std::string::npos);
  // A real dataset's model has that dataset's classes: CIFAR-100's is the 100-class one above.
  CHECK(run_train("--print-params --model preact-resnet34 --dataset cifar100").out.find("21325476 parameters (100 classes") !=
        std::string::npos);
  CHECK(run_train("--print-params --dataset tinyimagenet").out.find("(200 classes") != std::string::npos);
  CHECK(run_train("--print-params --dataset cifar100 --coarse-labels").out.find("(20 classes") != std::string::npos);
  // A switch turned off asks for nothing, whatever applies.
  CHECK(run_train("--device cpu --deterministic=false --width 4 --steps 1 --batch-size 8 --run-dir " +
                  temp_dir("off")).status == 0);
  const Outcome h = run_train("--help");
  CHECK(h.status == 0);
  for (const char* flag : {"--device", "--model", "--width", "--dataset", "--batch-size", "--steps", "--lr",
                           "--momentum", "--wd", "--seed", "--log-every", "--run-dir", "--print-params"})
    CHECK(h.out.find(flag) != std::string::npos);
  CHECK(h.out.find("(default: 128)") != std::string::npos);
}

std::string compare_graphs_with_eager(const std::string& args, const std::string& graphs_said) {
  const std::string eager = temp_dir("eager"), graph = temp_dir("graph");
  const Outcome e = run_train(args + " --cuda-graphs off --run-dir " + eager);
  const Outcome g = run_train(args + " --cuda-graphs on --comm-timeout 20 --run-dir " + graph);
  INFO(e.err << g.err);
  REQUIRE(e.status == 0);
  REQUIRE(g.status == 0);
  CHECK(g.out.find("cuda graphs: " + graphs_said) != std::string::npos);
  CHECK(e.out.find("cuda graphs: off") != std::string::npos);
  const std::string metrics = read_text(graph + "/metrics.jsonl");
  CHECK(without_timings(metrics) == without_timings(read_text(eager + "/metrics.jsonl")));
  std::filesystem::remove_all(eager);
  std::filesystem::remove_all(graph);
  return metrics;
}

TEST_CASE("train: the modelled network: P-SGD's time_network is its closed form, sim_s adds the compute, losses unchanged") {
  // 4 workers, 256 images: epochs of 4 steps, a line every 2 steps, evaluated after each epoch.
  const std::string args = "--device cpu --dataset synthetic --width 4 --batch-size 16 --workers 4 --train-subset 256 "
                           "--steps 8 --log-every 2 --seed 5 ";
  const double gbps = 2.5, latency = 10e-6, compute = 0.002;
  const std::string on = temp_dir("link-on"), off = temp_dir("link-off");
  REQUIRE(run_train(args + "--link-gbps 2.5 --link-latency-us 10 --link-compute-s 0.002 --run-dir " + on).status == 0);
  REQUIRE(run_train(args + "--run-dir " + off).status == 0);
  std::smatch m;
  const std::string printed = run_train("--width 4 --print-params").out;
  REQUIRE(std::regex_search(printed, m, std::regex("([0-9]+) parameters")));
  const double d = std::stod(m[1]);
  // Per step: the gather's 3 messages on the server's incoming link, then the broadcast's 3 on
  // its outgoing one, each message a 32-byte header and d floats (worker 0 is the server's own).
  const double step = 2 * (latency + 3 * (32 + 4 * d) * 8 / (gbps * 1e9));
  const std::string metrics = read_text(on + "/metrics.jsonl");
  const std::vector<double> network = series(metrics, "time_network"), sim = series(metrics, "sim_s");
  const std::vector<double> evaluated = series(metrics, "network_s");
  REQUIRE(network.size() == 4);
  REQUIRE(sim.size() == 6);  // 4 metric lines and 2 evaluations
  for (size_t i = 0; i < network.size(); ++i) CHECK(network[i] == doctest::Approx(2 * step).epsilon(1e-12));
  CHECK(sim[1] == doctest::Approx(2 * (2 * step + 2 * compute)).epsilon(1e-12));
  CHECK(sim[2] == sim[1]);  // the first evaluation, after step 4: the same time as that step's line
  REQUIRE(evaluated.size() == 2);
  CHECK(evaluated[0] == network[0] + network[1]);
  CHECK(evaluated[1] == doctest::Approx(8 * step).epsilon(1e-12));
  CHECK(sim.back() == doctest::Approx(8 * (step + compute)).epsilon(1e-12));
  // The model only adds metrics.
  const std::regex modelled(", \"(time_network|sim_s|network_s)\": [-+0-9.eE]+");
  CHECK(std::regex_replace(metrics, modelled, "").size() < metrics.size());
  CHECK(without_timings(std::regex_replace(metrics, modelled, "")) == without_timings(read_text(off + "/metrics.jsonl")));
  CHECK(read_text(off + "/metrics.jsonl").find("sim_s") == std::string::npos);
  CHECK(read_text(on + "/config.json").find("\"link-gbps\": \"2.5\"") != std::string::npos);
  // The measured compute: positive, on top of the same network time.
  const std::string measured = temp_dir("link-measured");
  REQUIRE(run_train(args + "--link-gbps 2.5 --link-latency-us 10 --run-dir " + measured).status == 0);
  const std::string measured_metrics = read_text(measured + "/metrics.jsonl");
  CHECK(series(measured_metrics, "network_s").back() == evaluated.back());
  CHECK(series(measured_metrics, "sim_s").back() > evaluated.back());
  for (const std::string& dir : {on, off, measured}) std::filesystem::remove_all(dir);
}

TEST_CASE("train: the step-graph bookkeeping (its CPU stand-in) gives eager execution's metrics") {
  // 3 LIEC-SGD workers, H = 3 (two step variants), an epoch of 10 steps evaluated each time
  // (graphs dropped, warmed up and captured again): every decision of comm/step_graph.cpp is
  // taken alike on every rank, or the ranks would deadlock or count bytes differently.
  const std::string metrics = compare_graphs_with_eager(
      "--device cpu --dataset synthetic --train-subset 512 --width 4 --batch-size 16 --workers 3 --algo liec "
      "--period 3 --compressor sign --momentum 0.9 --augment on --steps 30 --log-every 1 --seed 4",
      "CPU stand-in");
  CHECK(lines_of(metrics).size() == 33);  // 30 steps and 3 evaluations
  // A dedicated server's step is another one than its workers' (no forward or backward).
  compare_graphs_with_eager(
      "--device cpu --dataset synthetic --train-subset 512 --width 4 --batch-size 16 --workers 2 --dedicated-server "
      "--algo doublesqueeze --compressor sign --momentum 0.9 --steps 20 --log-every 1 --seed 4",
      "CPU stand-in");
}

TEST_CASE("train: CUDA-graph replay gives eager execution's losses bit for bit over 50 steps" * REQUIRES_GPU) {
  // 4 LIEC-SGD workers with blockwise sign on one GPU, in one graph. 1024 images make 8 steps an
  // epoch, evaluated every 2 epochs (graphs dropped and captured again); with H = 4 both step
  // variants are captured and replayed between evaluations. Momentum, deterministic cuDNN.
  const std::string metrics = compare_graphs_with_eager(
      "--device cuda --deterministic --dataset synthetic --train-subset 1024 --width 16 --batch-size 32 --workers 4 "
      "--algo liec --period 4 --compressor sign --bucket-bytes 65536 --momentum 0.9 --augment on --steps 50 "
      "--log-every 1 --eval-every 2 --seed 11",
      "on, one graph for all 4 ranks");
  double replayed = 0.0;
  for (double seconds : series(metrics, "time_step")) replayed += seconds;
  CHECK(replayed > 0.0);  // steps really were replayed graphs
  CHECK(lines_of(metrics).size() > 50);
  // With a dedicated server, whose branch of the graph has no forward or backward.
  compare_graphs_with_eager(
      "--device cuda --deterministic --dataset synthetic --train-subset 512 --width 16 --batch-size 32 --workers 2 "
      "--dedicated-server --algo doublesqueeze --compressor sign --momentum 0.9 --steps 20 --log-every 1 --seed 11",
      "on, one graph for all 3 ranks");
}

TEST_CASE("train: every algorithm runs end to end with 3 local workers") {
  for (const std::string algo : {"psgd", "memsgd", "doublesqueeze", "neolithic", "cser", "liec", "choco", "malcom"}) {
    INFO(algo);
    const std::string dir = temp_dir(algo);
    // Each with the settings it takes (any other is refused).
    std::string settings = algo == "psgd" ? "" : " --compressor sign";
    if (algo == "choco" || algo == "malcom") settings = " --levels 64";
    if (algo == "malcom") settings += " --l1 0.0001";
    if (algo == "liec" || algo == "cser") settings += " --period 4";
    const Outcome o = run_train("--device cpu --dataset synthetic --width 4 --batch-size 16 --steps 8 --log-every 4 "
                                "--workers 3 --algo " + algo + settings + " --run-dir " + dir);
    INFO(o.err);
    REQUIRE(o.status == 0);
    const std::string metrics = read_text(dir + "/metrics.jsonl");
    CHECK(metrics.find("\"test_acc\"") != std::string::npos);
    if (algo == "liec" || algo == "doublesqueeze" || algo == "neolithic")
      CHECK(metrics.find("\"server_error_norm\"") != std::string::npos);
    if (algo == "malcom") CHECK(metrics.find("\"sparsity\"") != std::string::npos);
    std::filesystem::remove_all(dir);
  }
}

}  // namespace
