// The balanced, seeded subsets of data/subset.h.
#include "data/subset.h"

#include <algorithm>
#include <vector>

#include "engine/rng.h"

void keep_balanced_subset(Dataset& data, size_t n, uint64_t seed) {
  if (n >= data.size()) return;
  std::vector<std::vector<size_t>> by_class(data.classes);
  for (size_t i = 0; i < data.size(); ++i) by_class[data.labels[i]].push_back(i);
  // Each class in its own seeded order (Fisher-Yates), so that its first k are a random sample.
  for (int c = 0; c < data.classes; ++c) {
    Rng rng(seed, 0x5e1ec7ull + static_cast<uint64_t>(c));
    std::vector<size_t>& members = by_class[c];
    for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[rng.next_u32() % i]);
  }
  // One image per class in turn, skipping the classes already used up, until n are taken.
  std::vector<size_t> taken(data.classes, 0), kept;
  while (kept.size() < n)
    for (int c = 0; c < data.classes && kept.size() < n; ++c)
      if (taken[c] < by_class[c].size()) kept.push_back(by_class[c][taken[c]++]);
  std::sort(kept.begin(), kept.end());
  const size_t bytes = data.image_bytes();
  for (size_t k = 0; k < kept.size(); ++k) {  // kept[k] >= k: copying forward in place is safe
    data.labels[k] = data.labels[kept[k]];
    std::copy_n(data.images.begin() + static_cast<std::ptrdiff_t>(kept[k] * bytes), bytes,
                data.images.begin() + static_cast<std::ptrdiff_t>(k * bytes));
  }
  data.labels.resize(kept.size());
  data.images.resize(kept.size() * bytes);
}
