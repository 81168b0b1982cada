// Exchange patterns over point-to-point groups.
#include "comm/patterns.h"

#include "engine/check.h"
#include "engine/tensor.h"
#include "engine/vector_ops.h"

void gather_to_server(Transport& t, const uint8_t* message, size_t bytes, const std::vector<uint8_t*>& inbox) {
  t.start_group();
  if (t.rank() == 0) {
    CHECK(inbox.size() == static_cast<size_t>(t.size()), "the server needs an inbox per rank");
    for (int worker = 1; worker < t.size(); ++worker) t.recv(inbox[worker], bytes, worker);
  } else {
    t.send(message, bytes, 0);
  }
  t.end_group();
  if (t.rank() == 0) t.context().copy(inbox[0], message, bytes);
}

void broadcast_from_server(Transport& t, uint8_t* message, size_t bytes) {
  t.start_group();
  if (t.rank() == 0)
    for (int worker = 1; worker < t.size(); ++worker) t.send(message, bytes, worker);
  else
    t.recv(message, bytes, 0);
  t.end_group();
}

void exchange_with_neighbors(Transport& t, const std::vector<int>& neighbors, const uint8_t* message, size_t bytes,
                             const std::vector<uint8_t*>& inbox) {
  CHECK(inbox.size() >= neighbors.size(), "an inbox slot per neighbour is needed");
  t.start_group();
  for (size_t k = 0; k < neighbors.size(); ++k) {
    t.send(message, bytes, neighbors[k]);
    t.recv(inbox[k], bytes, neighbors[k]);
  }
  t.end_group();
}

void mean_over_ranks(Transport& t, float* x, size_t n) {
  Context& ctx = t.context();
  std::vector<Tensor> storage;
  std::vector<uint8_t*> inbox;
  for (int r = 0; r < (t.rank() == 0 ? t.size() : 0); ++r) {
    storage.push_back(Tensor::empty(ctx, {static_cast<int>(n)}));
    inbox.push_back(reinterpret_cast<uint8_t*>(storage.back().data()));
  }
  gather_to_server(t, reinterpret_cast<const uint8_t*>(x), n * sizeof(float), inbox);
  if (t.rank() == 0) {
    for (int r = 1; r < t.size(); ++r) axpy(ctx, x, 1.0f, storage[r].data(), n);
    scale(ctx, x, 1.0f / t.size(), n);
  }
  broadcast_from_server(t, reinterpret_cast<uint8_t*>(x), n * sizeof(float));
}

namespace {

// One 8-byte size to each of `to`, one from each of `from`, through context memory (device
// memory on a GPU, where NCCL needs it). Sizes are only needed for messages whose length the
// host already knows, so the download's wait costs nothing extra.
std::vector<size_t> exchange_sizes(Transport& t, size_t mine, const std::vector<int>& to, const std::vector<int>& from) {
  Context& ctx = t.context();
  Buffer<uint64_t> slots(ctx, 1 + from.size());
  const uint64_t value = mine;
  ctx.upload(slots.data(), &value, sizeof value);
  t.start_group();
  for (int peer : to) t.send(slots.data(), sizeof(uint64_t), peer);
  for (size_t k = 0; k < from.size(); ++k) t.recv(slots.data() + 1 + k, sizeof(uint64_t), from[k]);
  t.end_group();
  std::vector<uint64_t> received(from.size());
  ctx.download(received.data(), slots.data() + 1, received.size() * sizeof(uint64_t));
  return std::vector<size_t>(received.begin(), received.end());
}

void check_capacity(const std::vector<size_t>& sizes, size_t capacity) {
  for (size_t s : sizes)
    if (s > capacity)
      throw CommError("a message of " + std::to_string(s) + " bytes does not fit its " + std::to_string(capacity) +
                      "-byte buffer");
}

}  // namespace

std::vector<size_t> gather_to_server_variable(Transport& t, const uint8_t* message, size_t bytes, size_t capacity,
                                              const std::vector<uint8_t*>& inbox) {
  std::vector<int> workers;
  for (int r = 1; r < t.size(); ++r) workers.push_back(r);
  const bool server = t.rank() == 0;
  const std::vector<size_t> sizes =
      exchange_sizes(t, bytes, server ? std::vector<int>{} : std::vector<int>{0}, server ? workers : std::vector<int>{});
  check_capacity(sizes, capacity);
  t.start_group();
  if (server)
    for (int worker = 1; worker < t.size(); ++worker) t.recv(inbox[worker], sizes[worker - 1], worker);
  else
    t.send(message, bytes, 0);
  t.end_group();
  if (!server) return {};
  t.context().copy(inbox[0], message, bytes);
  std::vector<size_t> all = {bytes};
  all.insert(all.end(), sizes.begin(), sizes.end());
  return all;
}

size_t broadcast_from_server_variable(Transport& t, uint8_t* message, size_t bytes, size_t capacity) {
  std::vector<int> workers;
  for (int r = 1; r < t.size(); ++r) workers.push_back(r);
  const bool server = t.rank() == 0;
  const std::vector<size_t> sizes =
      exchange_sizes(t, bytes, server ? workers : std::vector<int>{}, server ? std::vector<int>{} : std::vector<int>{0});
  check_capacity(sizes, capacity);
  const size_t size = server ? bytes : sizes[0];
  broadcast_from_server(t, message, size);
  return size;
}

std::vector<size_t> exchange_with_neighbors_variable(Transport& t, const std::vector<int>& neighbors,
                                                     const uint8_t* message, size_t bytes, size_t capacity,
                                                     const std::vector<uint8_t*>& inbox) {
  const std::vector<size_t> sizes = exchange_sizes(t, bytes, neighbors, neighbors);
  check_capacity(sizes, capacity);
  t.start_group();
  for (size_t k = 0; k < neighbors.size(); ++k) {
    t.send(message, bytes, neighbors[k]);
    t.recv(inbox[k], sizes[k], neighbors[k]);
  }
  t.end_group();
  return sizes;
}
