// Transport checks shared by the in-process tests (local transport) and the MPI rank program:
// messages of many sizes, zero and odd lengths included, arrive intact and in order, and the
// byte counters equal what was sent.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "comm/patterns.h"
#include "comm/topology.h"
#include "comm/transport.h"
#include "engine/tensor.h"

// Byte j of the m-th message from `from` to `to` of `size` bytes.
inline uint8_t message_byte(int from, int to, size_t size, int m, size_t j) {
  return static_cast<uint8_t>((from * 131 + to * 31 + size * 7 + m * 11 + j * 13 + (j >> 8)) & 0xff);
}

// Returns "" when every check passed, else what failed (checked on every rank).
inline std::string run_transport_checks(Transport& t) {
  Context& ctx = t.context();
  const std::vector<size_t> sizes = {0, 1, 3, 8, 1000, 4097, 65537};
  const int messages = 2;  // per pair and size, to check the order within a pair
  std::string failures;
  uint64_t expect_sent = 0, expect_received = 0;
  for (size_t size : sizes) {
    std::vector<Buffer<uint8_t>> outgoing, incoming;
    t.start_group();
    for (int m = 0; m < messages; ++m)
      for (int peer = 0; peer < t.size(); ++peer) {
        std::vector<uint8_t> data(size);
        for (size_t j = 0; j < size; ++j) data[j] = message_byte(t.rank(), peer, size, m, j);
        outgoing.emplace_back(ctx, size);
        ctx.upload(outgoing.back().data(), data.data(), size);
        t.send(outgoing.back().data(), size, peer);
        incoming.emplace_back(ctx, size);
        t.recv(incoming.back().data(), size, peer);
        expect_sent += size;
        expect_received += size;
      }
    t.end_group();
    size_t k = 0;
    for (int m = 0; m < messages; ++m)
      for (int peer = 0; peer < t.size(); ++peer, ++k) {
        std::vector<uint8_t> got(size);
        ctx.download(got.data(), incoming[k].data(), size);
        for (size_t j = 0; j < size; ++j)
          if (got[j] != message_byte(peer, t.rank(), size, m, j)) {
            failures += "rank " + std::to_string(t.rank()) + ": message " + std::to_string(m) + " of " +
                        std::to_string(size) + " bytes from rank " + std::to_string(peer) + " differs at byte " +
                        std::to_string(j) + "\n";
            break;
          }
      }
  }
  if (t.bytes_sent() != expect_sent || t.bytes_received() != expect_received)
    failures += "rank " + std::to_string(t.rank()) + ": counted " + std::to_string(t.bytes_sent()) + "/" +
                std::to_string(t.bytes_received()) + " bytes, sent " + std::to_string(expect_sent) + "/" +
                std::to_string(expect_received) + "\n";

  // The scalar all-reduce adds in rank order, identically everywhere.
  double expected = 0.0;
  for (int r = 0; r < t.size(); ++r) expected += 0.1 * (r + 1);
  if (t.all_reduce_sum(0.1 * (t.rank() + 1)) != expected) failures += "all_reduce_sum differs\n";
  t.barrier();

  // Server/worker and ring patterns, fixed and variable length.
  const size_t bytes = 999;
  Buffer<uint8_t> mine(ctx, bytes), back(ctx, bytes);
  std::vector<uint8_t> data(bytes);
  for (size_t j = 0; j < bytes; ++j) data[j] = message_byte(t.rank(), 0, bytes, 9, j);
  ctx.upload(mine.data(), data.data(), bytes);
  std::vector<Buffer<uint8_t>> inbox_storage;
  std::vector<uint8_t*> inbox;
  for (int r = 0; r < t.size(); ++r) {
    inbox_storage.emplace_back(ctx, bytes);
    inbox.push_back(inbox_storage.back().data());
  }
  const Roles shared{t.rank(), t.size(), false};  // rank 0 is also worker 0
  gather_to_server(t, shared, mine.data(), bytes, inbox);
  if (t.rank() == 0)
    for (int r = 0; r < t.size(); ++r) {
      std::vector<uint8_t> got(bytes);
      ctx.download(got.data(), inbox[r], bytes);
      if (got[5] != message_byte(r, 0, bytes, 9, 5)) failures += "gather_to_server: wrong data from " + std::to_string(r) + "\n";
    }
  ctx.copy(back.data(), mine.data(), bytes);
  broadcast_from_server(t, back.data(), bytes);
  std::vector<uint8_t> got(bytes);
  ctx.download(got.data(), back.data(), bytes);
  if (got[7] != message_byte(0, 0, bytes, 9, 7)) failures += "broadcast_from_server: wrong data\n";

  const size_t variable = 10 + 17 * t.rank();  // another length on every rank
  const std::vector<size_t> sizes_at_server = gather_to_server_variable(t, shared, mine.data(), variable, bytes, inbox);
  if (t.rank() == 0)
    for (int r = 0; r < t.size(); ++r)
      if (sizes_at_server[r] != 10 + 17 * static_cast<size_t>(r)) failures += "gather_to_server_variable: sizes\n";
  if (broadcast_from_server_variable(t, back.data(), t.rank() == 0 ? 33 : 0, bytes) != 33)
    failures += "broadcast_from_server_variable: size\n";

  if (t.size() >= 2) {
    const Topology ring = make_topology("ring", t.size());
    const auto& neighbors = ring.neighbors[t.rank()];
    const std::vector<size_t> from = exchange_with_neighbors_variable(t, neighbors, mine.data(), variable, bytes, inbox);
    for (size_t k = 0; k < neighbors.size(); ++k) {
      ctx.download(got.data(), inbox[k], from[k]);
      if (from[k] != 10 + 17 * static_cast<size_t>(neighbors[k]) || got[3] != message_byte(neighbors[k], 0, bytes, 9, 3))
        failures += "exchange_with_neighbors_variable: wrong message from " + std::to_string(neighbors[k]) + "\n";
    }
  }
  return failures;
}
