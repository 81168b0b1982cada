// ./train end to end on the CPU: it learns, it is deterministic, and bad input exits with code 2.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/helpers.h"

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
                                 "--batch-size", "--batch-size 100000 --device cpu"}) {
    INFO(args);
    const Outcome o = run_train(args + " --run-dir " + dir);
    CHECK(o.status == 2);
    CHECK(lines_of(o.err).size() == 1);
    CHECK(o.err.rfind("error: ", 0) == 0);
  }
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
