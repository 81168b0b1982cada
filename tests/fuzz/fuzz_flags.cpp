// ./train's flag parser and every check read_config makes, on arbitrary command lines.
//
// Input: the arguments, one per line (argv[0] is "train"). --help and -h are dropped: they print the
// help and exit 0, as they should. An accepted command line has a run folder, workers and a batch.
#include <cstdlib>

#include "data/files.h"
#include "fuzz_support.h"
#include "train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"train"};
  for (std::string line : split_lines(std::vector<uint8_t>(data, data + size))) {
    line = line.substr(0, line.find('\0'));  // what an argv string can hold
    if (line != "--help" && line != "-h") args.push_back(line);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Flags flags = declare_flags();
  try {
    flags.parse(static_cast<int>(args.size()), argv.data());
    const Config config = read_config(flags);
    if (config.workers < 1 || config.batch_size < 1 || config.run_dir.empty()) std::abort();
  } catch (const UserError&) {
  }
  return 0;
}
