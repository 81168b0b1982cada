// The precisions' names for flags and logs: apart from the contexts, so that the flag checks link
// no CUDA.
#include "engine/check.h"
#include "engine/context.h"

Precision parse_precision(const std::string& name) {
  for (Precision p : {Precision::FP32, Precision::TF32, Precision::BF16})
    if (name == precision_name(p)) return p;
  fail_input("unknown --precision '%s' (expected fp32, tf32 or bf16)", name.c_str());
}

const char* precision_name(Precision precision) {
  switch (precision) {
    case Precision::TF32: return "tf32";
    case Precision::BF16: return "bf16";
    case Precision::FP32: break;
  }
  return "fp32";
}
