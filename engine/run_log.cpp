// JSON lines and the run directory.
#include "engine/run_log.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "engine/atomic_file.h"
#include "engine/check.h"

void JsonObject::key(const std::string& name) {
  if (!body_.empty()) body_ += ", ";
  body_ += "\"" + json_escape(name) + "\": ";
}

JsonObject& JsonObject::add(const std::string& name, double value) {
  key(name);
  if (!std::isfinite(value)) {
    body_ += "null";  // JSON has no NaN or infinity
    return *this;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  body_ += text;
  return *this;
}

JsonObject& JsonObject::add(const std::string& name, long value) {
  key(name);
  body_ += std::to_string(value);
  return *this;
}

JsonObject& JsonObject::add(const std::string& name, const std::string& value) {
  key(name);
  body_ += "\"" + json_escape(value) + "\"";
  return *this;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += c;
        }
    }
  }
  return out;
}

RunLog::RunLog(const std::string& directory, long keep_through_step)
    : directory_(directory), metrics_path_(directory + "/metrics.jsonl") {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) fail_input("cannot create run directory %s: %s", directory.c_str(), error.message().c_str());
  std::string kept;
  if (keep_through_step >= 0)
    if (std::FILE* old = std::fopen(metrics_path_.c_str(), "r")) {
      char line[4096];
      while (std::fgets(line, sizeof line, old) != nullptr) {
        const char* step = std::strstr(line, "\"step\": ");
        if (step != nullptr && std::strtol(step + 8, nullptr, 10) <= keep_through_step) kept += line;
      }
      std::fclose(old);
    }
  write_file_atomically(metrics_path_, kept.data(), kept.size());
  metrics_ = std::fopen(metrics_path_.c_str(), "a");
  if (metrics_ == nullptr) fail_input("cannot write %s: %s", metrics_path_.c_str(), std::strerror(errno));
}

RunLog::~RunLog() {
  if (metrics_ != nullptr) std::fclose(metrics_);
}

void RunLog::write_config(const JsonObject& config) {
  const std::string text = config.str() + "\n";
  write_file_atomically(directory_ + "/config.json", text.data(), text.size());
}

void RunLog::append_metrics(const JsonObject& record) {
  // Flushed at once, so that a reader (or a crash) sees every finished line; a line the disk
  // could not take stops the run rather than leave a log with holes.
  if (std::fprintf(metrics_, "%s\n", record.str().c_str()) < 0 || std::fflush(metrics_) != 0)
    fail_input("cannot write %s: %s", metrics_path_.c_str(), std::strerror(errno));
}
