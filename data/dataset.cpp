// Dataset helpers.
#include "data/dataset.h"

std::vector<int> Dataset::class_counts() const {
  std::vector<int> counts(classes, 0);
  for (int32_t label : labels) ++counts[label];
  return counts;
}
