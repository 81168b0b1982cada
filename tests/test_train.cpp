// ./train end to end: it learns, it is deterministic, it resumes bit for bit, a dedicated server
// changes no metric, bad input exits with code 2; graph replay against eager steps (on a GPU); the
// plots and reproduce.sh pipelines.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <regex>
#include <sstream>

#include "engine/checkpoint.h"
#include "engine/run_folder_lock.h"
#include "tests/helpers.h"

// The plots need gnuplot, which scripts/install-deps.sh may not have been able to install (offline).
#define REQUIRES_GNUPLOT doctest::skip(std::system("command -v gnuplot >/dev/null 2>&1") != 0)

namespace {

// The value of "key": number in a JSON line, or NaN when absent.
double field(const std::string& line, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(line, m, std::regex("\"" + key + "\": ([-+0-9.eE]+)"))) return std::nan("");
  return std::stod(m[1]);
}

std::vector<double> series(const std::string& metrics, const std::string& key) {
  std::vector<double> values;
  for (const std::string& line : lines_of(metrics))
    if (line.find("\"" + key + "\"") != std::string::npos) values.push_back(field(line, key));
  return values;
}

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
  const Outcome h = run_train("--help");
  CHECK(h.status == 0);
  for (const char* flag : {"--device", "--model", "--width", "--dataset", "--batch-size", "--steps", "--lr",
                           "--momentum", "--wd", "--seed", "--log-every", "--run-dir", "--print-params"})
    CHECK(h.out.find(flag) != std::string::npos);
  CHECK(h.out.find("(default: 128)") != std::string::npos);
}

}  // namespace

namespace {

std::string mpirun_train(int ranks, const std::string& args) {
  return "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(ranks) + " " + train_binary() +
         " --comm mpi " + args;
}

const char* kDistributed = "--device cpu --dataset synthetic --width 4 --batch-size 16 --algo liec --compressor sign "
                           "--period 3 --log-every 2 --augment on --seed 3";

TEST_CASE("train: under mpirun a bad flag is said once, by the first rank") {
  {  // A forgotten --comm mpi would make N independent runs write into one folder at once.
    std::string output;
    CHECK(run_shell("mpirun --allow-run-as-root --oversubscribe -np 2 " + train_binary() +
                        " --device cpu --width 4 --steps 1 --run-dir " + temp_dir("mpirun-local"), &output) != 0);
    CHECK(output.find("give --comm mpi") != std::string::npos);
  }
  // Bad values, and settings that only the rank count makes impossible.
  for (const auto& [args, said_line] :
       {std::pair<std::string, std::string>{"--lr fast", "error: --lr must be"},
        {"--momentum 0.5 --momentum 0.9", "error: --momentum is given twice"},
        {"--dedicated-server --workers 3", "error: --workers 3 disagrees"},
        {"--dataset synthetic --train-subset 64 --batch-size 32", "error: 3 workers x batch 32 is more than"}}) {
    std::string output;
    CHECK(run_shell(mpirun_train(3, "--device cpu " + args), &output) != 0);
    INFO(output);
    size_t said = 0;
    for (const std::string& line : lines_of(output)) said += line.rfind(said_line, 0) == 0;
    CHECK(said == 1);
  }
}

TEST_CASE("train: the local and MPI transports give the same metrics for the same seeded run") {
  const std::string local_dir = temp_dir("local"), mpi_dir = temp_dir("mpi");
  const Outcome local = run_train(std::string(kDistributed) + " --steps 8 --workers 4 --run-dir " + local_dir);
  REQUIRE(local.status == 0);
  std::string output;
  const int status = run_shell(mpirun_train(4, std::string(kDistributed) + " --steps 8 --run-dir " + mpi_dir), &output);
  INFO(output);
  REQUIRE(status == 0);
  const std::string a = without_timings(read_text(local_dir + "/metrics.jsonl"));
  const std::string b = without_timings(read_text(mpi_dir + "/metrics.jsonl"));
  CHECK(!a.empty());
  CHECK(a == b);
  CHECK(a.find("\"bytes_up\": 0,") == std::string::npos);  // traffic was counted
  std::filesystem::remove_all(local_dir);
  std::filesystem::remove_all(mpi_dir);
}

TEST_CASE("train: a dedicated server changes no metric (threads or MPI), and its run resumes bit for bit") {
  // 2 LIEC-SGD workers with momentum: 256 images make 8 steps an epoch, each evaluated, with a
  // checkpoint after each. The crash comes after step 12, in the second epoch.
  const std::string args =
      std::string(kDistributed) + " --train-subset 256 --steps 16 --momentum 0.9 --checkpoint-every 1 ";
  const std::string shared = temp_dir("shared"), dedicated = temp_dir("dedicated"), mpi = temp_dir("mpi");
  REQUIRE(run_train(args + "--workers 2 --run-dir " + shared).status == 0);
  const std::string expected = without_timings(read_text(shared + "/metrics.jsonl"));
  CHECK(lines_of(expected).size() == 10);  // 8 metric lines, 2 evaluations

  const Outcome crashed = run_train(args + "--workers 2 --dedicated-server --crash-at-step 12 --run-dir " + dedicated);
  CHECK(crashed.status == 1);
  CHECK(crashed.out.find("2 workers and a dedicated server") != std::string::npos);
  CHECK(std::filesystem::exists(dedicated + "/checkpoint/rank-2.bin"));  // the server's and two workers'
  const Outcome resumed = run_train(args + "--workers 2 --dedicated-server --resume --run-dir " + dedicated);
  INFO(resumed.err);
  REQUIRE(resumed.status == 0);
  CHECK(resumed.out.find("resumed from") != std::string::npos);
  CHECK(without_timings(read_text(dedicated + "/metrics.jsonl")) == expected);

  std::string output;
  const int status = run_shell(mpirun_train(3, args + "--dedicated-server --run-dir " + mpi), &output);
  INFO(output);
  REQUIRE(status == 0);
  CHECK(without_timings(read_text(mpi + "/metrics.jsonl")) == expected);

  // Neither server's checkpoint resumes a run with the other (the dedicated one's has as many
  // workers' files as the shared run needs: its fingerprint alone refuses it).
  const Outcome into_dedicated = run_train(args + "--workers 2 --dedicated-server --resume --run-dir " + shared);
  CHECK(into_dedicated.status == 2);
  CHECK(std::regex_search(into_dedicated.err,
                          std::regex("written by 2 ranks, and this run has more|another --dedicated-server")));
  const Outcome into_shared = run_train(args + "--workers 2 --resume --run-dir " + dedicated);
  CHECK(into_shared.status == 2);
  CHECK(into_shared.err.find("written with another --dedicated-server") != std::string::npos);
  for (const std::string& dir : {shared, dedicated, mpi}) std::filesystem::remove_all(dir);
}

TEST_CASE("train: with 3 workers and entropy-coded messages a dedicated server changes no loss or accuracy") {
  // Three terms make the server's sum depend on its order; dither messages differ in size by
  // worker. The per-worker byte means may differ (worker 0's messages now count), so they are
  // not compared; the phase times are worker 0's, not the server's.
  const std::string args = "--device cpu --dataset synthetic --width 4 --batch-size 16 --train-subset 384 --steps 12 "
                           "--log-every 2 --algo memsgd --compressor dither --levels 8 --workers 3 --seed 9 ";
  const std::string shared = temp_dir("shared"), dedicated = temp_dir("dedicated");
  REQUIRE(run_train(args + "--run-dir " + shared).status == 0);
  REQUIRE(run_train(args + "--dedicated-server --run-dir " + dedicated).status == 0);
  const std::string a = read_text(shared + "/metrics.jsonl"), b = read_text(dedicated + "/metrics.jsonl");
  for (const char* key : {"loss", "acc", "test_loss", "test_acc"}) {
    INFO(key);
    CHECK(!series(a, key).empty());
    CHECK(series(b, key) == series(a, key));
  }
  // A worker's forward and backward, not the server's nothing (about a thousandth of it).
  const auto total = [](const std::vector<double>& s) { return std::accumulate(s.begin(), s.end(), 0.0); };
  CHECK(total(series(b, "time_compute")) > 0.1 * total(series(a, "time_compute")));
  std::filesystem::remove_all(shared);
  std::filesystem::remove_all(dedicated);
}

TEST_CASE("train: kill one MPI rank, the others stop with an error; resuming reproduces the uninterrupted run") {
  // 2 workers x 32 images: 16 steps per epoch on 1024 synthetic images; a checkpoint after every
  // epoch; LIEC-SGD with momentum, so error memories, momentum and BN statistics must all come
  // back for the runs to agree. The crash comes after step 24, in the second epoch.
  const std::string args = "--device cpu --dataset synthetic --train-subset 1024 --width 4 --batch-size 32 --algo liec "
                           "--compressor sign --period 5 --log-every 4 --epochs 3 --checkpoint-every 1 --augment on "
                           "--seed 5 ";
  const std::string whole = temp_dir("whole"), broken = temp_dir("broken");
  std::string output;
  REQUIRE(run_shell(mpirun_train(2, args + "--run-dir " + whole), &output) == 0);

  const auto start = std::chrono::steady_clock::now();
  const int status = run_shell(mpirun_train(2, args + "--crash-at-step 24 --comm-timeout 10 --run-dir " + broken), &output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO(output);
  CHECK(status != 0);
  CHECK(seconds < 60.0);
  CHECK(output.find("exiting abruptly after step 24") != std::string::npos);
  CHECK(std::filesystem::exists(broken + "/checkpoint/rank-0.bin"));
  CHECK(std::filesystem::exists(broken + "/checkpoint/rank-1.bin"));

  REQUIRE(run_shell(mpirun_train(2, args + "--resume --run-dir " + broken), &output) == 0);
  CHECK(output.find("resumed from") != std::string::npos);
  const std::string expected = without_timings(read_text(whole + "/metrics.jsonl"));
  const std::string resumed = without_timings(read_text(broken + "/metrics.jsonl"));
  CHECK(lines_of(expected).size() > 12);
  CHECK(resumed == expected);
  std::filesystem::remove_all(whole);
  std::filesystem::remove_all(broken);
}

TEST_CASE("train: SIGTERM saves a checkpoint and exits 3; --resume then continues bit for bit") {
  // LIEC-SGD with momentum and a period of 3, so the step, error memories, momentum, BN statistics
  // and the interval's sums must all come back. First the stop lands mid-epoch (128 steps an
  // epoch, a log interval every 5); then at an epoch's end (8 steps an epoch, a log interval
  // every 8, a checkpoint every other epoch), whose evaluation must not be lost.
  const std::string common = "--device cpu --dataset synthetic --width 4 --batch-size 16 --workers 2 --algo liec "
                             "--compressor sign --period 3 --seed 7 ";
  for (const std::string shape :
       {"--steps 200 --log-every 5", "--steps 96 --train-subset 256 --log-every 8 --checkpoint-every 2"}) {
    INFO(shape);
    const std::string args = common + shape + " ";
    const std::string whole = temp_dir("whole"), stopped = temp_dir("stopped");
    REQUIRE(run_train(args + "--run-dir " + whole).status == 0);
    // Signalled once its first metric line is out, long before its last step; twice, as `timeout`
    // does (the process, then its group; 0.2 s apart so that they cannot merge into one pending
    // signal): still one request, not "stop at once".
    std::string output;
    const int status = run_shell("(" + train_binary() + " " + args + "--run-dir " + stopped + " & pid=$!; " +
                                     "for i in $(seq 1200); do [ -s " + stopped + "/metrics.jsonl ] && break; " +
                                     "sleep 0.05; done; kill -TERM $pid; sleep 0.2; kill -TERM $pid; wait $pid)",
                                 &output);
    INFO(output);
    CHECK(status == 3);
    CHECK(output.find("stop requested: saving a checkpoint") != std::string::npos);
    CHECK(output.find("stopped on request at step") != std::string::npos);
    REQUIRE(std::filesystem::exists(stopped + "/checkpoint/rank-1.bin"));
    const Outcome resumed = run_train(args + "--resume --run-dir " + stopped);
    CHECK(resumed.status == 0);
    CHECK(resumed.out.find("resumed from") != std::string::npos);
    const std::string expected = without_timings(read_text(whole + "/metrics.jsonl"));
    CHECK(lines_of(expected).size() > 12);
    CHECK(without_timings(read_text(stopped + "/metrics.jsonl")) == expected);
    std::filesystem::remove_all(whole);
    std::filesystem::remove_all(stopped);
  }
}

// Runs `args` with --cuda-graphs off and on; returns the metrics of the run with graphs, after
// checking that it said `graphs_said` at start and logged what the eager run logged (losses,
// accuracies, byte counts, ||e_s||, test metrics: everything but the timings).
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

namespace {

TEST_CASE("plots: accuracy against epoch, time, bits and modelled time for several runs, as PNG files" * REQUIRES_GNUPLOT) {
  const std::string a = temp_dir("plot_a"), b = temp_dir("plot_b"), out = temp_dir("plots");
  const std::string common = "--device cpu --width 4 --batch-size 32 --epochs 2 --train-subset 256 --workers 2 ";
  REQUIRE(run_train(common + "--algo liec --compressor sign --link-gbps 1 --run-dir " + a).status == 0);
  REQUIRE(run_train(common + "--algo psgd --run-dir " + b).status == 0);
  std::string output;
  REQUIRE(run_shell("bash scripts/plots.sh " + out + " " + a + " " + b, &output) == 0);
  for (const char* file :
       {"accuracy_vs_epoch.png", "accuracy_vs_time.png", "accuracy_vs_bits.png", "accuracy_vs_modelled_time.png"}) {
    const std::string png = read_text(out + "/" + file);
    CHECK(png.size() > 1000);
    CHECK(png.compare(0, 4, "\x89PNG") == 0);
  }
  // The fourth view only where some run has the modelled network; the table says "-" for the others.
  const std::string unmodelled = temp_dir("plots_unmodelled");
  REQUIRE(run_shell("bash scripts/plots.sh " + unmodelled + " " + b, &output) == 0);
  CHECK(std::filesystem::exists(unmodelled + "/accuracy_vs_bits.png"));
  CHECK(!std::filesystem::exists(unmodelled + "/accuracy_vs_modelled_time.png"));
  REQUIRE(run_shell("bash scripts/results_table.sh " + a + " " + b, &output) == 0);
  REQUIRE(lines_of(output).size() == 4);
  CHECK(std::regex_search(lines_of(output)[2], std::regex("\\| [0-9.]+ s \\| [0-9.]+ s \\| `")));  // modelled, measured
  CHECK(lines_of(output)[3].find("| - | ") != std::string::npos);
  // Only whole evaluation lines count: a null accuracy, or a last line cut short (a run still
  // writing), adds no point and changes no table row. The copy has a's folder name, and is plotted
  // beside it as its own series.
  const std::string bad_lines =
      "{\"step\": 9, \"epoch\": 2, \"test_loss\": null, \"test_acc\": null, \"bytes_up_total\": 1, "
      "\"bytes_down_total\": 1, \"train_s\": 9.0}\n{\"step\": 9, \"epoch\": 2, \"test_loss\": 2.0, \"test_acc\": 0.3";
  const std::string twin_parent = temp_dir("plot_twin");
  const std::string twin = twin_parent + "/" + std::filesystem::path(a).filename().string();
  std::filesystem::create_directories(twin);
  std::ofstream(twin + "/metrics.jsonl") << read_text(a + "/metrics.jsonl") << bad_lines;
  CHECK(run_shell("bash scripts/plots.sh " + out + " " + a + " " + twin, &output) == 0);
  REQUIRE(run_shell("bash scripts/results_table.sh " + a + " " + twin, &output) == 0);
  const std::vector<std::string> rows = lines_of(output);
  REQUIRE(rows.size() == 4);
  CHECK(rows[3] == rows[2]);
  // A run without one whole evaluation line is refused with a message, before OUT_DIR is made.
  const std::string cut = temp_dir("plot_cut"), none = temp_dir("plots_none");
  std::filesystem::create_directories(cut);
  std::ofstream(cut + "/metrics.jsonl") << bad_lines;
  CHECK(run_shell("bash scripts/plots.sh " + none + " " + cut, &output) == 2);
  CHECK(output.find("has no evaluation lines yet") != std::string::npos);
  CHECK(!std::filesystem::exists(none));
  for (const std::string& dir : {a, b, out, twin_parent, cut, none, unmodelled}) std::filesystem::remove_all(dir);
}

TEST_CASE("reproduce: --quick runs experiments by name, records their commands, builds the table and plots" *
          REQUIRES_GNUPLOT) {
  // On a machine without a GPU and (here) without CIFAR-10: width-8 runs on synthetic data. With a
  // GPU, --quick trains the full network for 2 epochs: a job for scripts/gpu-check.sh, not a unit test.
  if (cuda_available()) return;
  const std::string runs = temp_dir("reproduce");
  const std::string env = "RUNS_DIR=" + runs + " CIFAR10_DIR=" + runs + "/absent ";
  std::string output;
  const int status = run_shell(env + "bash scripts/reproduce.sh --quick c10-psgd c10-liec32-bsign", &output);
  INFO(output);
  REQUIRE(status == 0);
  const std::string table = read_text(runs + "/quick/results.md");
  CHECK(lines_of(table).size() == 4);  // header, rule, two runs
  CHECK(table.find("| c10-liec32-bsign | ") != std::string::npos);
  const std::string command = read_text(runs + "/quick/c10-liec32-bsign/command.txt");
  CHECK(command.find("--algo liec --period 32 --compressor sign --bucket-bytes 5242880") != std::string::npos);
  CHECK(table.find(command) != std::string::npos);  // the exact command is in the table
  CHECK(std::filesystem::exists(runs + "/quick/c10-psgd/done"));
  CHECK(read_text(runs + "/quick/plots/accuracy_vs_bits.png").compare(0, 4, "\x89PNG") == 0);
  // A second call finds them finished; an unknown name is refused.
  REQUIRE(run_shell(env + "bash scripts/reproduce.sh --quick c10-psgd", &output) == 0);
  CHECK(output.find("c10-psgd finished earlier") != std::string::npos);
  CHECK(run_shell(env + "bash scripts/reproduce.sh --quick c10-nothing", &output) == 2);
  CHECK(output.find("unknown run 'c10-nothing'") != std::string::npos);
  std::filesystem::remove_all(runs);
}

}  // namespace

namespace {

TEST_CASE("train: errors inside rank threads exit with code 2 or 1 and one line, never a crash") {
  const std::string dir = temp_dir("threads");
  // A user error only a rank sees (here: a checkpoint that is not there) is still exit code 2.
  Outcome o = run_train("--device cpu --width 4 --batch-size 16 --steps 2 --workers 3 --resume --run-dir " + dir);
  CHECK(o.status == 2);
  CHECK(lines_of(o.err).size() == 1);
  CHECK(o.err.find("checkpoint") != std::string::npos);
  // A peer that misses its deadline: every rank stops, the first failure is reported, exit code 1.
  for (int attempt = 0; attempt < 3; ++attempt) {
    o = run_train("--device cpu --width 4 --batch-size 16 --steps 3 --workers 4 --algo memsgd --compressor topk "
                  "--comm-timeout 0.001 --run-dir " + dir);
    CHECK((o.status == 0 || o.status == 1));  // a fast machine may make every deadline
    if (o.status == 1) CHECK(o.err.find("did a rank stop early?") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: a checkpoint refuses to resume under other settings, or past the run's end") {
  const std::string dir = temp_dir("settings");
  const std::string args = "--device cpu --batch-size 32 --checkpoint-every 1 --compressor sign --run-dir " + dir;
  const std::string subset = " --train-subset 128", net = " --width 4", two = " --workers 2";
  REQUIRE(run_train(args + subset + net + two + " --algo memsgd --epochs 1").status == 0);
  const std::vector<std::pair<std::string, std::string>> mismatches = {
      {subset + net + two + " --algo doublesqueeze --epochs 2", "another --algo"},
      {subset + " --width 8" + two + " --algo memsgd --epochs 2", "another model"},
      {" --train-subset 256" + net + two + " --algo memsgd --epochs 2", "another epoch"},
      {subset + net + two + " --algo memsgd --epochs 2 --seed 7", "another --seed"},
      {subset + net + two + " --algo memsgd --epochs 2 --lr 0.05", "another --lr"},
      {" --train-subset 130" + net + two + " --algo memsgd --epochs 2", "another --train-subset"},
      {subset + net + two + " --algo memsgd --epochs 2 --image-size 64", "another --image-size"},
      {subset + net + " --workers 1 --algo memsgd --epochs 2", "from 2 workers"},
      // Rank 2's file is missing, or ranks 0 and 1 see 2 workers and not 3 (whichever says it first).
      {subset + net + " --workers 3 --algo memsgd --epochs 2", "written by 2 ranks, and this run has more|from 2 workers"},
      {subset + net + two + " --algo memsgd --epochs 2 --dedicated-server",
       "written by 2 ranks, and this run has more|another --dedicated-server"},
      {subset + net + two + " --algo memsgd --steps 1", "past this run's end at step 1"}};
  for (const auto& [other, said] : mismatches) {
    INFO(other);
    const Outcome o = run_train(args + other + " --resume");
    CHECK(o.status == 2);
    CHECK(lines_of(o.err).size() == 1);
    CHECK(std::regex_search(o.err, std::regex(said)));
  }
  const Outcome finished = run_train(args + subset + net + two + " --algo memsgd --epochs 1 --resume");  // at its end
  CHECK(finished.status == 0);
  CHECK(finished.out.find("nothing left to train") != std::string::npos);
  CHECK(run_train(args + subset + net + two + " --algo memsgd --epochs 2 --resume").status == 0);
  std::filesystem::remove_all(dir);
}

}  // namespace

namespace {

TEST_CASE("train: a run folder holds one run: a new run into it needs --overwrite, a refused resume changes nothing") {
  const std::string dir = temp_dir("folder");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --workers 2 --log-every 2 "
                           "--checkpoint-every 1 --run-dir " + dir;
  REQUIRE(run_train(args + " --epochs 1").status == 0);
  const std::string config = read_text(dir + "/config.json"), metrics = read_text(dir + "/metrics.jsonl");
  const Outcome again = run_train(args + " --epochs 1 --seed 4");
  CHECK(again.status == 2);
  CHECK(again.err.find("holds a run already") != std::string::npos);
  CHECK(read_text(dir + "/config.json") == config);  // untouched
  // Rank 1 refuses its file (another rank's): rank 0 has read its own, and still writes nothing.
  std::filesystem::copy_file(dir + "/checkpoint/rank-0.bin", dir + "/checkpoint/rank-1.bin",
                             std::filesystem::copy_options::overwrite_existing);
  const Outcome swapped = run_train(args + " --epochs 2 --resume");
  CHECK(swapped.status == 2);
  CHECK(swapped.err.find("is rank 0's, not rank 1's") != std::string::npos);
  CHECK(read_text(dir + "/config.json") == config);
  CHECK(read_text(dir + "/metrics.jsonl") == metrics);
  // A rank file of another run with the same settings: refused by its run id.
  const std::string other = temp_dir("folder-other");
  REQUIRE(run_train("--device cpu --width 4 --batch-size 16 --train-subset 64 --workers 2 --log-every 2 "
                    "--checkpoint-every 1 --epochs 1 --run-dir " + other).status == 0);
  std::filesystem::copy_file(other + "/checkpoint/rank-1.bin", dir + "/checkpoint/rank-1.bin",
                             std::filesystem::copy_options::overwrite_existing);
  const Outcome mixed = run_train(args + " --epochs 2 --resume");
  CHECK(mixed.status == 2);
  CHECK(mixed.err.find("from another run") != std::string::npos);
  // A checkpoint folder copied in from another run: refused against config.json's run id.
  std::filesystem::remove_all(dir + "/checkpoint");
  std::filesystem::copy(other + "/checkpoint", dir + "/checkpoint");
  const Outcome copied = run_train(args + " --epochs 2 --resume");
  CHECK(copied.status == 2);
  CHECK(copied.err.find("config.json") != std::string::npos);
  // --overwrite that fails for another reason (here: no such dataset) leaves the old run whole.
  const Outcome refused = run_train(args + " --epochs 1 --overwrite --dataset cifar10 --data-dir /nonexistent");
  CHECK(refused.status == 2);
  CHECK(read_text(dir + "/config.json") == config);
  CHECK(std::filesystem::exists(dir + "/checkpoint"));
  // --overwrite starts afresh: no checkpoint of the old run is left to resume.
  const Outcome fresh = run_train(args + " --epochs 1 --seed 4 --overwrite");
  REQUIRE(fresh.status == 0);
  CHECK(read_text(dir + "/config.json") != config);
  CHECK(read_text(dir + "/config.json").find("\"seed\": \"4\"") != std::string::npos);
  for (const std::string& d : {dir, other}) std::filesystem::remove_all(d);
}

TEST_CASE("train: a run folder in use by a run that has not ended is refused, whatever it holds") {
  const std::string dir = temp_dir("locked");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --steps 2 --run-dir " + dir;
  {
    const RunFolderLock running(dir);  // as a run started a moment before holds it
    const Outcome second = run_train(args);
    CHECK(second.status == 2);
    CHECK(second.err == "error: " + dir + " is in use by another run that has not ended: wait for it, or give another "
                        "--run-dir\n");
    CHECK(!std::filesystem::exists(dir + "/metrics.jsonl"));
  }
  CHECK(run_train(args).status == 0);  // released when its holder ends
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: a resume whose metrics end before the checkpoint's step is refused, and changes nothing") {
  const std::string dir = temp_dir("short-log");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --log-every 2 --checkpoint-every 1 "
                           "--run-dir " + dir;
  REQUIRE(run_train(args + " --epochs 1").status == 0);
  const std::vector<std::string> lines = lines_of(read_text(dir + "/metrics.jsonl"));
  REQUIRE(lines.size() >= 2);
  const std::string first_line = lines[0] + "\n";  // step 2 of the checkpoint's 4
  write_bytes(dir + "/metrics.jsonl", first_line.data(), first_line.size());
  const Outcome o = run_train(args + " --epochs 2 --resume");
  CHECK(o.status == 2);
  CHECK(o.err.find("ends at step 2, before the checkpoint's step 4") != std::string::npos);
  CHECK(read_text(dir + "/metrics.jsonl") == first_line);
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: a metrics line cut short (a crash, a full disk) is dropped by the resume, not glued to the next") {
  const std::string dir = temp_dir("cut");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --log-every 2 --checkpoint-every 1 "
                           "--run-dir " + dir;
  REQUIRE(run_train(args + " --epochs 1").status == 0);
  const std::string whole = read_text(dir + "/metrics.jsonl");
  std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"step\": 3, \"epoch\": 0, \"lo";
  REQUIRE(run_train(args + " --epochs 2 --resume").status == 0);
  const std::string resumed = read_text(dir + "/metrics.jsonl");
  CHECK(resumed.rfind(whole, 0) == 0);  // the old lines, then the new ones
  for (const std::string& line : lines_of(resumed)) {
    INFO(line);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("make run: damaged data is an error, not a reason to train on synthetic data") {
  const std::string data = temp_dir("damaged-data"), run = temp_dir("damaged-run");
  std::filesystem::create_directories(data + "/cifar-10-batches-bin");
  write_bytes(data + "/cifar-10-batches-bin/data_batch_1.bin", "not cifar", 9);
  std::string output;
  const int status = run_shell("DATA_DIR=" + data + " RUN_DIR=" + run + " bash scripts/run-default.sh", &output);
  INFO(output);
  CHECK(status == 2);
  CHECK(output.find("cannot be used") != std::string::npos);
  CHECK(output.find("synthetic") == std::string::npos);
  CHECK(!std::filesystem::exists(run + "/metrics.jsonl"));
  for (const std::string& d : {data, run}) std::filesystem::remove_all(d);
}

TEST_CASE("make: the objects of the test programs stay after the build, so the next make rebuilds nothing") {
  // make deleted them as intermediates, and `make run` after `make test` compiled 10 programs again.
  for (const char* object : {"build/tests/test_train.cpp.o", "build/tests/test_data.cpp.o",
                             "build/tests/bench/bench_compress.cu.o", "build/tests/test_main.cpp.o"})
    CHECK_MESSAGE(std::filesystem::exists(object), object);
  // The flags the objects were built with are on record, so that other flags rebuild them.
  CHECK(read_text("build/flags.txt").find("-std=c++17") != std::string::npos);
}

TEST_CASE("train: a damaged checkpoint stops the resume with one line; --flag=value works") {
  const std::string dir = temp_dir("damaged");
  const std::string args = "--device cpu --width 4 --batch-size=32 --train-subset=128 --checkpoint-every 1 "
                           "--run-dir=" + dir;
  REQUIRE(run_train(args + " --epochs=1").status == 0);
  std::string bytes = read_text(dir + "/checkpoint/rank-0.bin");
  REQUIRE(bytes.size() > 100);
  bytes[bytes.size() / 2] ^= 0x5a;
  write_bytes(dir + "/checkpoint/rank-0.bin", bytes.data(), bytes.size());
  Outcome o = run_train(args + " --epochs 2 --resume");
  CHECK(o.status == 2);
  CHECK(o.err.find("truncated or corrupt") != std::string::npos);
  write_bytes(dir + "/checkpoint/rank-0.bin", bytes.data(), 50);
  o = run_train(args + " --epochs 2 --resume");
  CHECK(o.status == 2);
  CHECK(o.err.find("truncated") != std::string::npos);  // too short for its checksum
  std::filesystem::remove_all(dir);
}

TEST_CASE("gpu-check: --plan lists every part, and the budgets add up to at most 480 s") {
  // A GPU machine is lent for one call of about 8 minutes: the plan must fit in it, and print
  // (like a bad flag's error) without a GPU.
  std::string output;
  REQUIRE(run_shell("bash scripts/gpu-check.sh --plan", &output) == 0);
  const std::regex part_line("  ([a-z0-9-]+) +([0-9]+) s  .+");
  std::string parts = " ";
  int count = 0, sum = 0;
  for (const std::string& line : lines_of(output)) {
    std::smatch m;
    if (!std::regex_match(line, m, part_line)) continue;
    parts += m[1].str() + " ";
    ++count;
    sum += std::stoi(m[2].str());
  }
  CHECK(count >= 8);
  CHECK(sum > 0);
  CHECK(sum <= 480);
  for (const char* part : {"probe", "conv", "engine", "binaries", "graphs-test", "throughput", "graphs-equal", "nccl",
                           "sanitizer", "cifar10", "host-waits"})
    CHECK_MESSAGE(parts.find(std::string(" ") + part + " ") != std::string::npos, part);

  // A typo must not start an 8-minute run: one line, exit code 2.
  CHECK(run_shell("bash scripts/gpu-check.sh --bogus", &output) == 2);
  CHECK(lines_of(output).size() == 1);
  CHECK(output.find("'--bogus'") != std::string::npos);
  CHECK(run_shell("bash scripts/gpu-check.sh --only conv,nothing --plan", &output) == 2);
  CHECK(lines_of(output).size() == 1);

  // Without a GPU it says so in one line and stops at once.
  if (!cuda_available() && std::system("command -v nvidia-smi >/dev/null 2>&1") != 0) {
    const std::string out = temp_dir("gpu_check");
    CHECK(run_shell("bash scripts/gpu-check.sh --out " + out, &output) == 2);
    CHECK(lines_of(output).size() == 1);
    CHECK(output.find("no GPU") != std::string::npos);
    std::filesystem::remove_all(out);
  }
}

}  // namespace

namespace {

// A file of the repository, from the project root (make test) or from build/tests.
std::string repository_text(const std::string& path) {
  for (const std::string root : {"", "../../", "../"})
    if (std::filesystem::exists(root + path)) return read_text(root + path);
  return "";
}

TEST_CASE("docs: docs/flags.md holds ./train --help as it is, and the README's flag table names real flags") {
  const Outcome help = run_train("--help");
  REQUIRE(help.status == 0);
  REQUIRE(!help.out.empty());

  // The lines between the markers, less the ``` fence lines around them.
  std::string copy;
  bool inside = false, closed = false;
  for (const std::string& line : lines_of(repository_text("docs/flags.md"))) {
    if (line == "<!-- ./train --help -->") {
      inside = true;
    } else if (line == "<!-- end -->") {
      closed = inside;
      break;
    } else if (inside && line.rfind("```", 0) != 0) {
      copy += line + "\n";
    }
  }
  REQUIRE_MESSAGE(closed, "docs/flags.md lacks the lines <!-- ./train --help --> and <!-- end -->");
  CHECK_MESSAGE(copy == help.out, "docs/flags.md is not ./train --help as it is: run bash scripts/flags-doc.sh");

  // Every --name in the README's flag table (its rows start with "| `--") is one that --help lists.
  const std::regex flag_name("--[a-z0-9][a-z0-9-]*");
  int rows = 0;
  for (const std::string& line : lines_of(repository_text("README.md"))) {
    if (line.rfind("| `--", 0) != 0) continue;
    ++rows;
    for (std::sregex_iterator m(line.begin(), line.end(), flag_name), end; m != end; ++m) {
      const std::string name = m->str();
      CHECK_MESSAGE(help.out.find("\n  " + name + " ") != std::string::npos, name << " is no ./train flag");
    }
  }
  CHECK(rows >= 10);  // the table is there, and found
}

}  // namespace
