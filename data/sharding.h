// Which samples each worker trains on in an epoch: one permutation per (seed, epoch), cut into
// global batches of workers x batch; worker r takes the r-th slice of every global batch. The
// incomplete last global batch is dropped for everyone, so all workers take the same steps.
#pragma once

#include <cstdint>
#include <vector>

std::vector<int32_t> epoch_permutation(uint64_t seed, uint64_t epoch, int size);

int steps_per_epoch(int size, int workers, int batch);

// The indices worker `rank` uses this epoch, steps_per_epoch() batches of `batch`, in order.
std::vector<int32_t> worker_shard(uint64_t seed, uint64_t epoch, int size, int workers, int rank, int batch);
