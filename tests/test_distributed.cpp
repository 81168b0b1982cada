// ./train as several processes under mpirun and as rank threads: a bad flag said once, the local
// and MPI transports give the same metrics, a dedicated server changes none, a killed rank stops
// the others, and a stopped run (SIGTERM) resumes bit for bit.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <numeric>
#include <regex>
#include <string>
#include <thread>

#include "tests/helpers.h"

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

}  // namespace
