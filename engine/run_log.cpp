// JSON lines and the run directory.
#include "engine/run_log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <fcntl.h>
#include <unistd.h>

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
  // A resumed run keeps the lines up to its step, not those of the steps it will train again. Every
  // line this program writes is whole: a damaged line in the middle is refused, and a last line
  // cut short (a crash or a full disk mid-write), which would glue itself to the next record, is
  // dropped and said so; a whole last line that only lacks its newline is kept.
  std::string kept;
  if (keep_through_step >= 0) {
    std::ifstream old(metrics_path_, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(old)), std::istreambuf_iterator<char>());
    long last_kept = 0;
    size_t number = 0;
    for (size_t at = 0; at < text.size();) {
      const size_t newline = text.find('\n', at);
      const bool last = newline == std::string::npos;
      const std::string line = text.substr(at, last ? std::string::npos : newline - at);
      at = last ? text.size() : newline + 1;
      ++number;
      const bool whole = !line.empty() && line.front() == '{' && line.back() == '}';
      const size_t found = line.find("\"step\": ");
      if (!whole || found == std::string::npos) {
        if (!last)
          fail_input("%s: line %zu is not a record this program wrote (damaged?): put the file back, or start again "
                     "with --overwrite", metrics_path_.c_str(), number);
        std::printf("resume: dropped the last line of %s, cut short (%zu bytes)\n", metrics_path_.c_str(), line.size());
        continue;
      }
      const long step = std::strtol(line.c_str() + found + 8, nullptr, 10);
      if (step < 0 || step > keep_through_step) continue;
      kept += line + "\n";
      last_kept = std::max(last_kept, step);
    }
    // Every checkpoint is written after a metrics line for its step: a log that ends before it is
    // another run's, or has lost lines, and the resumed run's log would have a hole.
    if (last_kept < keep_through_step)
      fail_input("%s ends at step %ld, before the checkpoint's step %ld: it is not this run's whole log (put it back, "
                 "or start again with --overwrite)",
                 metrics_path_.c_str(), last_kept, keep_through_step);
  }
  write_file_atomically(metrics_path_, kept.data(), kept.size());
  metrics_ = ::open(metrics_path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (metrics_ < 0) fail_input("cannot write %s: %s", metrics_path_.c_str(), std::strerror(errno));
  metrics_bytes_ = kept.size();
}

RunLog::~RunLog() {
  if (metrics_ >= 0) ::close(metrics_);
}

void RunLog::write_config(const JsonObject& config) {
  const std::string text = config.str() + "\n";
  write_file_atomically(directory_ + "/config.json", text.data(), text.size());
}

void RunLog::append_metrics(const JsonObject& record) {
  // One write of the whole line, so that a reader (or a crash) sees every finished line; a line
  // the disk takes only in part is cut off again, and stops the run rather than leave a log with
  // a broken record or a hole.
  const std::string line = record.str() + "\n";
  size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(metrics_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int cause = n < 0 ? errno : ENOSPC;
      if (::ftruncate(metrics_, static_cast<off_t>(metrics_bytes_)) != 0) {
        // Nothing more can be done: the resume drops the cut line.
      }
      fail_input("cannot write %s: %s", metrics_path_.c_str(), std::strerror(cause));
    }
    written += static_cast<size_t>(n);
  }
  metrics_bytes_ += line.size();
}
