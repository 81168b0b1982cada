// Run ids: drawn, printed, and checked against config.json.
#include "engine/run_id.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <regex>
#include <vector>

#include "data/files.h"
#include "engine/check.h"

double new_run_id() {
  std::random_device entropy;
  return static_cast<double>((static_cast<uint64_t>(entropy()) << 16 ^ entropy()) & ((uint64_t(1) << 48) - 1));
}

std::string run_id_text(double id) {
  char text[20];
  std::snprintf(text, sizeof text, "%012llx", static_cast<unsigned long long>(id));
  return text;
}

void check_config_run_id(const std::string& run_dir, double id, const std::string& checkpoint_file) {
  const std::vector<uint8_t> bytes = read_file_bytes(run_dir + "/config.json");
  const std::string text(bytes.begin(), bytes.end());
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\"run_id\": \"([0-9a-f]+)\"")))
    fail_input("%s/config.json names no run: the checkpoint %s cannot be checked against it", run_dir.c_str(),
               checkpoint_file.c_str());
  if (m[1] != run_id_text(id))
    fail_input("the checkpoint %s is from another run (%s) than %s/config.json (%s)", checkpoint_file.c_str(),
               run_id_text(id).c_str(), run_dir.c_str(), m[1].str().c_str());
}
