// What a run writes to its directory: config.json once, metrics.jsonl one JSON object per line.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

// A flat JSON object built field by field; numbers printed so that equal values print equally.
class JsonObject {
 public:
  JsonObject& add(const std::string& key, double value);
  JsonObject& add(const std::string& key, long value);
  JsonObject& add(const std::string& key, int value) { return add(key, static_cast<long>(value)); }
  JsonObject& add(const std::string& key, const std::string& value);
  JsonObject& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(const std::string& name);
  std::string body_;
};

std::string json_escape(const std::string& text);

class RunLog {
 public:
  // Creates the directory (and its parents); an unusable path is a user error. With
  // keep_through_step >= 0 (a resumed run) metrics.jsonl keeps its whole lines up to that step
  // and continues after them (a line cut short is dropped); otherwise it starts empty.
  explicit RunLog(const std::string& directory, long keep_through_step = -1);
  ~RunLog();
  RunLog(const RunLog&) = delete;
  RunLog& operator=(const RunLog&) = delete;

  // Written to a temporary file and renamed, so that a config.json is never half-written.
  void write_config(const JsonObject& config);
  void append_metrics(const JsonObject& record);
  const std::string& directory() const { return directory_; }

 private:
  std::string directory_, metrics_path_;
  int metrics_ = -1;          // opened for appending
  size_t metrics_bytes_ = 0;  // its length after the last whole line
};
