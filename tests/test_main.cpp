// The doctest main shared by every test binary: says up front when GPU cases will be skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/helpers.h"

std::string train_binary() {
  for (const char* candidate : {"./train", "../../train", "../train"})
    if (std::filesystem::exists(candidate)) return candidate;
  return "./train";
}

std::string temp_dir(const std::string& tag) {
  static int counter = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    ("engine_test_" + std::to_string(getpid()) + "_" + tag + "_" + std::to_string(counter++));
  std::filesystem::remove_all(path);
  return path.string();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_bytes(const std::string& path, const void* data, size_t size) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  REQUIRE(out.good());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string without_timings(const std::string& metrics) {
  return std::regex_replace(metrics, std::regex("\"(images_per_s|wall_s|train_s|sim_s|time_[a-z]+)\": [-+0-9.eE]+"), "");
}

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

namespace {
int exit_code(int raw) { return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1; }
}  // namespace

int run_shell(const std::string& command, std::string* output) {
  const std::string log = temp_dir("shell") + ".log";
  const int raw = std::system((command + " > " + log + " 2>&1").c_str());
  *output = read_text(log);
  std::remove(log.c_str());
  return exit_code(raw);
}

Outcome run_train(const std::string& args) {
  const std::string dir = temp_dir("io");
  std::filesystem::create_directories(dir);
  const std::string command = train_binary() + " " + args + " > " + dir + "/out 2> " + dir + "/err";
  const int raw = std::system(command.c_str());
  Outcome o{exit_code(raw), read_text(dir + "/out"), read_text(dir + "/err")};
  std::filesystem::remove_all(dir);
  return o;
}

std::string unpacked_test_data(const std::string& archive) {
  const char* source = std::getenv("TEST_DATA_DIR");
  REQUIRE(source != nullptr);
  const std::string target = std::filesystem::absolute("build/test-data").string();
  const std::string marker = target + "/." + archive + ".unpacked";
  if (!std::filesystem::exists(marker)) {
    std::filesystem::create_directories(target);
    const std::string command = "tar xzf '" + std::string(source) + "/" + archive + "' -C '" + target + "'";
    REQUIRE(std::system(command.c_str()) == 0);
    std::ofstream(marker).put('\n');
  }
  return target;
}

int main(int argc, char** argv) {
  if (!cuda_available()) std::printf("no CUDA GPU: the GPU test cases are skipped\n");
  doctest::Context context(argc, argv);
  return context.run();
}
