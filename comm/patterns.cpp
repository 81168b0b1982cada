// Exchange patterns over point-to-point groups.
#include "comm/patterns.h"

#include "engine/check.h"
#include "engine/tensor.h"
#include "engine/vector_ops.h"

void gather_to_server(Transport& t, const Roles& roles, const uint8_t* message, size_t bytes,
                      const std::vector<uint8_t*>& inbox) {
  t.start_group();
  if (roles.is_server()) {
    CHECK(inbox.size() == static_cast<size_t>(roles.workers()), "the server needs an inbox per worker");
    for (int k = 0; k < roles.workers(); ++k)
      if (roles.rank_of(k) != t.rank()) t.recv(inbox[k], bytes, roles.rank_of(k));
  } else {
    t.send(message, bytes, 0);
  }
  t.end_group();
  if (roles.is_server() && roles.is_worker()) t.context().copy(inbox[0], message, bytes);
}

void broadcast_from_server(Transport& t, uint8_t* message, size_t bytes) {
  t.start_group();
  if (t.rank() == 0)
    for (int worker = 1; worker < t.size(); ++worker) t.send(message, bytes, worker);
  else
    t.recv(message, bytes, 0);
  t.end_group();
}

void broadcast_from_worker0(Transport& t, const Roles& roles, uint8_t* message, size_t bytes) {
  if (roles.dedicated_server) {  // worker 0 hands it to the server first
    if (t.rank() == roles.rank_of(0)) t.send(message, bytes, 0);
    if (roles.is_server()) t.recv(message, bytes, roles.rank_of(0));
  }
  broadcast_from_server(t, message, bytes);
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

void mean_over_workers(Transport& t, const Roles& roles, float* x, size_t n) {
  Context& ctx = t.context();
  std::vector<Tensor> storage;
  std::vector<uint8_t*> inbox;
  for (int k = 0; k < (roles.is_server() ? roles.workers() : 0); ++k) {
    storage.push_back(Tensor::empty(ctx, {static_cast<int>(n)}));
    inbox.push_back(reinterpret_cast<uint8_t*>(storage.back().data()));
  }
  gather_to_server(t, roles, reinterpret_cast<const uint8_t*>(x), n * sizeof(float), inbox);
  if (roles.is_server()) {
    ctx.copy(x, storage[0].data(), n * sizeof(float));
    for (int k = 1; k < roles.workers(); ++k) axpy(ctx, x, 1.0f, storage[k].data(), n);
    scale(ctx, x, 1.0f / roles.workers(), n);
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

// The ranks of the workers the server receives from: every worker but itself.
std::vector<int> remote_workers(const Roles& roles) {
  std::vector<int> ranks;
  for (int k = 0; k < roles.workers(); ++k)
    if (roles.rank_of(k) != 0) ranks.push_back(roles.rank_of(k));
  return ranks;
}

// The ranks the server sends to: every rank but itself.
std::vector<int> other_ranks(const Transport& t) {
  std::vector<int> ranks;
  for (int r = 1; r < t.size(); ++r) ranks.push_back(r);
  return ranks;
}

}  // namespace

std::vector<size_t> gather_to_server_variable(Transport& t, const Roles& roles, const uint8_t* message, size_t bytes,
                                              size_t capacity, const std::vector<uint8_t*>& inbox) {
  const std::vector<int> remote = remote_workers(roles);
  const bool server = roles.is_server();
  const std::vector<size_t> sizes =
      exchange_sizes(t, bytes, server ? std::vector<int>{} : std::vector<int>{0}, server ? remote : std::vector<int>{});
  check_capacity(sizes, capacity);
  t.start_group();
  if (server)
    for (size_t j = 0; j < remote.size(); ++j) t.recv(inbox[remote[j] - roles.first_worker()], sizes[j], remote[j]);
  else
    t.send(message, bytes, 0);
  t.end_group();
  if (!server) return {};
  if (!roles.is_worker()) return sizes;
  t.context().copy(inbox[0], message, bytes);
  std::vector<size_t> all = {bytes};
  all.insert(all.end(), sizes.begin(), sizes.end());
  return all;
}

size_t broadcast_from_server_variable(Transport& t, uint8_t* message, size_t bytes, size_t capacity) {
  const bool server = t.rank() == 0;
  const std::vector<size_t> sizes = exchange_sizes(t, bytes, server ? other_ranks(t) : std::vector<int>{},
                                                   server ? std::vector<int>{} : std::vector<int>{0});
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
