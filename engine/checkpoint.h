// Checkpoint files: named float vectors and named numbers in one file with a checksum, written to
// a temporary file and renamed into place, so a file is either whole or absent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/context.h"

class CheckpointWriter {
 public:
  // Copies n floats from the context's memory now (the caller may overwrite them afterwards).
  void add_vector(const std::string& name, Context& ctx, const float* data, size_t n);
  void add_number(const std::string& name, double value);
  // Stops with a one-line error if the file cannot be written.
  void write(const std::string& path) const;

 private:
  std::map<std::string, std::vector<float>> vectors_;
  std::map<std::string, double> numbers_;
};

class CheckpointReader {
 public:
  // Stops with a one-line error (exit code 2) on a missing, truncated or corrupt file.
  explicit CheckpointReader(const std::string& path);
  // Copies the named vector into the context's memory; its length must be n.
  void read_vector(const std::string& name, Context& ctx, float* data, size_t n) const;
  double number(const std::string& name) const;
  bool has(const std::string& name) const { return vectors_.count(name) || numbers_.count(name); }

 private:
  std::string path_;
  std::map<std::string, std::vector<float>> vectors_;
  std::map<std::string, double> numbers_;
};
