// The doctest main shared by every test binary: says up front when GPU cases will be skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>

#include "tests/helpers.h"

std::string train_binary() {
  for (const char* candidate : {"./train", "../../train", "../train"})
    if (std::filesystem::exists(candidate)) return candidate;
  return "./train";
}

int main(int argc, char** argv) {
  if (!cuda_available()) std::printf("no CUDA GPU: the GPU test cases are skipped\n");
  doctest::Context context(argc, argv);
  return context.run();
}
