// The networks make_model builds, by name: apart from the networks, so that the flag checks, which
// refuse an unknown --model before anything loads, link none of them.
#include "models/model.h"

const std::vector<std::string>& model_names() {
  static const std::vector<std::string> names = {"resnet18", "preact-resnet18", "preact-resnet34"};
  return names;
}
