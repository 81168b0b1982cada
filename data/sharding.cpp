// Epoch permutations (Fisher-Yates from a Philox stream) and per-worker slices.
#include "data/sharding.h"

#include <numeric>
#include <utility>

#include "engine/rng.h"

std::vector<int32_t> epoch_permutation(uint64_t seed, uint64_t epoch, int size) {
  std::vector<int32_t> order(size);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed, /*stream=*/(1ull << 40) + epoch);  // a stream of its own, apart from initialisation
  for (int i = size - 1; i > 0; --i) std::swap(order[i], order[rng.below(static_cast<uint32_t>(i) + 1)]);
  return order;
}

int steps_per_epoch(int size, int workers, int batch) { return size / (workers * batch); }

std::vector<int32_t> worker_shard(uint64_t seed, uint64_t epoch, int size, int workers, int rank, int batch) {
  const std::vector<int32_t> order = epoch_permutation(seed, epoch, size);
  const int steps = steps_per_epoch(size, workers, batch);
  std::vector<int32_t> shard;
  shard.reserve(static_cast<size_t>(steps) * batch);
  for (int step = 0; step < steps; ++step) {
    const auto start = order.begin() + (static_cast<long>(step) * workers + rank) * batch;
    shard.insert(shard.end(), start, start + batch);
  }
  return shard;
}
