// A run folder holds one run: errors in rank threads end the run in one line, a checkpoint resumes
// only under its own settings and run, a folder in use or with another run's files is refused,
// metrics lines are whole, and a damaged checkpoint stops the resume.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "engine/checkpoint.h"
#include "engine/run_folder_lock.h"
#include "tests/helpers.h"

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

TEST_CASE("train: a command that fails leaves no new run folder behind") {
  const std::string dir = temp_dir("never");
  CHECK(run_train("--device cpu --width 4 --steps 2 --resume --run-dir " + dir).status == 2);
  CHECK(!std::filesystem::exists(dir));
  CHECK(run_train("--device cpu --dataset cifar10 --data-dir /nonexistent --run-dir " + dir).status == 2);
  CHECK(!std::filesystem::exists(dir));
}

TEST_CASE("train: a resume keeps a whole last line without its newline, refuses a damaged line inside the log") {
  const std::string dir = temp_dir("damaged-log");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --log-every 2 --checkpoint-every 1 "
                           "--lr-schedule step --run-dir " + dir;
  REQUIRE(run_train(args + " --epochs 1 --decay-epochs 80").status == 0);
  const std::string whole = read_text(dir + "/metrics.jsonl");
  const std::vector<std::string> lines = lines_of(whole);
  REQUIRE(lines.size() >= 3);
  // Damage inside the log: refused, the file left as it was.
  std::string damaged = whole;
  damaged.replace(damaged.find(lines[1]), lines[1].size(), "garbage{");
  write_bytes(dir + "/metrics.jsonl", damaged.data(), damaged.size());
  const Outcome refused = run_train(args + " --epochs 2 --resume --decay-epochs 80");
  CHECK(refused.status == 2);
  CHECK(refused.err.find("line 2 is not a record this program wrote") != std::string::npos);
  CHECK(read_text(dir + "/metrics.jsonl") == damaged);
  // The last line whole but for its newline: kept. The decay epochs spelled otherwise ("080" is
  // 80): the same run.
  write_bytes(dir + "/metrics.jsonl", whole.data(), whole.size() - 1);
  const Outcome resumed = run_train(args + " --epochs 2 --resume --decay-epochs 080");
  INFO(resumed.err);
  REQUIRE(resumed.status == 0);
  CHECK(read_text(dir + "/metrics.jsonl").rfind(whole, 0) == 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("train: a metrics line cut short (a crash, a full disk) is dropped by the resume, not glued to the next") {
  const std::string dir = temp_dir("cut");
  const std::string args = "--device cpu --width 4 --batch-size 16 --train-subset 64 --log-every 2 --checkpoint-every 1 "
                           "--run-dir " + dir;
  REQUIRE(run_train(args + " --epochs 1").status == 0);
  const std::string whole = read_text(dir + "/metrics.jsonl");
  std::ofstream(dir + "/metrics.jsonl", std::ios::app) << "{\"step\": 3, \"epoch\": 0, \"lo";
  const Outcome run = run_train(args + " --epochs 2 --resume");
  REQUIRE(run.status == 0);
  CHECK(run.out.find("dropped the last line of " + dir + "/metrics.jsonl, cut short (27 bytes)") != std::string::npos);
  const std::string resumed = read_text(dir + "/metrics.jsonl");
  CHECK(resumed.rfind(whole, 0) == 0);  // the old lines, then the new ones
  for (const std::string& line : lines_of(resumed)) {
    INFO(line);
    CHECK(line.front() == '{');
    CHECK(line.back() == '}');
  }
  std::filesystem::remove_all(dir);
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

}  // namespace
