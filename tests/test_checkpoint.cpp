// Checkpoints: vectors and numbers read back exactly, damage detected, and the folder swap that
// replaces every rank's file at once (a crash at any moment leaves one whole checkpoint).
#include <filesystem>

#include "engine/check.h"
#include "engine/checkpoint.h"
#include "tests/op_checks.h"

namespace {

TEST_CASE("checkpoints: vectors and numbers read back exactly; a damaged file is detected") {
  Context& ctx = cpu_context();
  const std::string path = temp_dir("ckpt") + ".bin";
  CheckpointWriter w;
  const std::vector<float> v = random_vector(1000, 5);
  w.add_vector("params", ctx, v.data(), v.size());
  w.add_number("step", 1234);
  w.write(path);
  CHECK(!std::filesystem::exists(path + ".tmp"));
  const CheckpointReader r(path);
  std::vector<float> back(v.size());
  r.read_vector("params", ctx, back.data(), back.size());
  CHECK(back == v);
  CHECK(r.number("step") == 1234);
  CHECK(r.has("params"));
  CHECK(!r.has("momentum"));
  std::remove(path.c_str());
}

TEST_CASE("checkpoint folder: each save replaces all ranks' files at once; a crash mid-swap resumes the old one") {
  const std::string run = temp_dir("ckpt-folder");
  const CheckpointFolder folder(run);
  const auto save = [&](double step) {
    folder.begin();
    for (int rank = 0; rank < 2; ++rank) {
      CheckpointWriter w;
      w.add_number("step", step);
      w.write(folder.staging_file(rank));
    }
    folder.publish();
  };
  const auto resumed_step = [&](int rank) { return CheckpointReader(folder.file_to_resume(rank)).number("step"); };
  save(16);
  CHECK(folder.file_to_resume(1) == run + "/checkpoint/rank-1.bin");
  CHECK(resumed_step(0) == 16);
  CHECK(!std::filesystem::exists(run + "/checkpoint.tmp"));
  CHECK(!std::filesystem::exists(run + "/checkpoint.old"));
  // A save that died while the ranks were writing leaves checkpoint.tmp/ behind: the next one
  // starts it afresh, and what the dead save wrote never reaches checkpoint/.
  folder.begin();
  write_bytes(folder.staging_file(2), "torn", 4);  // a rank that the next save does not write
  save(32);
  CHECK(resumed_step(0) == 32);
  CHECK(resumed_step(1) == 32);
  CHECK(!std::filesystem::exists(run + "/checkpoint/rank-2.bin"));
  // Died between the swap's two renames: checkpoint/ gone, checkpoint.old/ whole.
  std::filesystem::rename(run + "/checkpoint", run + "/checkpoint.old");
  CHECK(folder.file_to_resume(0) == run + "/checkpoint.old/rank-0.bin");
  CHECK(resumed_step(1) == 32);
  save(48);
  CHECK(resumed_step(1) == 48);
  CHECK(!std::filesystem::exists(run + "/checkpoint.old"));
  // A run directory that cannot hold a folder is a user error, not a crash; so is a checkpoint
  // that is not there, or has no file for the rank.
  CHECK_THROWS_WITH_AS(folder.file_to_resume(2), doctest::Contains("written by 2 ranks, and this run has more"),
                       UserError);
  // A file renamed away is said to be missing, not taken for a run of fewer ranks.
  std::filesystem::rename(run + "/checkpoint/rank-0.bin", run + "/checkpoint/rank-0.bin.saved");
  CHECK_THROWS_WITH_AS(folder.file_to_resume(0), doctest::Contains("has files of ranks up to 1: a file is missing"),
                       UserError);
  std::filesystem::rename(run + "/checkpoint/rank-0.bin.saved", run + "/checkpoint/rank-0.bin");
  CHECK_THROWS_WITH_AS(CheckpointFolder(run + "/elsewhere").file_to_resume(0), doctest::Contains("no checkpoint"),
                       UserError);
  CHECK_THROWS_AS(CheckpointFolder(run + "/checkpoint/rank-0.bin").begin(), UserError);
  // A rank's part that cannot be written (here: a folder in its place) leaves no checkpoint.tmp/.
  folder.begin();
  std::filesystem::create_directories(folder.staging_file(0));
  CheckpointWriter part;
  part.add_number("step", 64);
  CHECK_THROWS_WITH_AS(part.write(folder.staging_file(0), [&] { folder.abandon(); }), doctest::Contains("cannot"),
                       UserError);
  CHECK(!std::filesystem::exists(run + "/checkpoint.tmp"));
  CHECK(resumed_step(0) == 48);  // the last complete checkpoint is untouched
  // A checkpoint folder replaced by a file is said to be one.
  const std::string replaced = temp_dir("ckpt-replaced");
  std::filesystem::create_directories(replaced);
  write_bytes(replaced + "/checkpoint", "x", 1);
  CHECK_THROWS_WITH_AS(CheckpointFolder(replaced).file_to_resume(0), doctest::Contains("is not a folder"), UserError);
  std::filesystem::remove_all(replaced);
  std::filesystem::remove_all(run);
}

}  // namespace
