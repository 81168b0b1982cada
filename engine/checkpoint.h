// Checkpoints: files of named float vectors and numbers with a checksum, written to a temporary
// file and renamed into place (a file is whole or absent), and the run's folder of one file per rank.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/context.h"

class CheckpointWriter {
 public:
  // Copies n floats from the context's memory now (the caller may overwrite them afterwards).
  void add_vector(const std::string& name, Context& ctx, const float* data, size_t n);
  void add_number(const std::string& name, double value);
  // Stops with a one-line error if the file cannot be written, after `on_failure` (clean-up).
  void write(const std::string& path, const std::function<void()>& on_failure = {}) const;

 private:
  std::map<std::string, std::vector<float>> vectors_;
  std::map<std::string, double> numbers_;
};

// The checksum a checkpoint file ends with, over the bytes before it.
uint64_t checkpoint_checksum(const uint8_t* bytes, size_t length);

class CheckpointReader {
 public:
  // Stops with a one-line error (exit code 2) on a missing, truncated or corrupt file.
  explicit CheckpointReader(const std::string& path);
  // The same checks on a file's bytes, named `path` in errors (any bytes are safe input:
  // tests/fuzz/fuzz_checkpoint.cpp).
  CheckpointReader(const std::vector<uint8_t>& bytes, const std::string& path);
  // Copies the named vector into the context's memory; its length must be n.
  void read_vector(const std::string& name, Context& ctx, float* data, size_t n) const;
  double number(const std::string& name) const;
  bool has(const std::string& name) const { return vectors_.count(name) || numbers_.count(name); }
  // Everything the file holds, by name (on the host).
  const std::map<std::string, std::vector<float>>& vectors() const { return vectors_; }
  const std::map<std::string, double>& numbers() const { return numbers_; }

 private:
  std::string path_;
  std::map<std::string, std::vector<float>> vectors_;
  std::map<std::string, double> numbers_;
};

// A run's checkpoint is RUN_DIR/checkpoint/, one file per rank, replaced as a whole: the ranks
// write into checkpoint.tmp/, and once all have, one rank swaps it in. The previous folder stays as
// checkpoint.old/ between the swap's two renames, so whenever the run stops there is one complete
// checkpoint to resume from. Folder errors (an unwritable run directory) are user errors.
class CheckpointFolder {
 public:
  explicit CheckpointFolder(const std::string& run_dir);
  void begin() const;                              // one rank, before any writes: empty checkpoint.tmp/
  std::string staging_file(int rank) const;        // where a rank writes its part
  void abandon() const;                            // a rank's part failed (a full disk): no checkpoint.tmp/ left
  void publish() const;                            // one rank, once every rank has written
  // The complete checkpoint's file for this rank; none (or none for this rank) is a user error.
  std::string file_to_resume(int rank) const;

 private:
  std::string dir_, staging_, old_;
};
