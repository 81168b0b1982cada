// The scripts and make targets a user runs: plots, reproduce.sh, make run on damaged data, make
// rebuilding nothing that is up to date, gpu-check's plan, and docs/flags.md against ./train --help.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "tests/helpers.h"

// The plots need gnuplot, which scripts/install-deps.sh may not have been able to install (offline).
#define REQUIRES_GNUPLOT doctest::skip(std::system("command -v gnuplot >/dev/null 2>&1") != 0)

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
  // An output folder that is a file: one line, exit code 2.
  const std::string file_out = temp_dir("plots_file");
  write_bytes(file_out, "x", 1);
  CHECK(run_shell("bash scripts/plots.sh " + file_out + " " + a, &output) == 2);
  CHECK(output == "plots: " + file_out + " is not a folder (the plots go into OUT_DIR)\n");
  std::filesystem::remove(file_out);
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
  for (const char* object : {"build/tests/test_scripts.cpp.o", "build/tests/test_data.cpp.o",
                             "build/tests/bench/bench_compress.cu.o", "build/tests/test_main.cpp.o"})
    CHECK_MESSAGE(std::filesystem::exists(object), object);
  // The flags the objects were built with are on record, so that other flags rebuild them.
  CHECK(read_text("build/flags.txt").find("-std=c++17") != std::string::npos);
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
