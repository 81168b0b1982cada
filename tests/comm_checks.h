// Transport checks shared by the in-process tests (local transport) and the MPI rank program:
// messages of many sizes, zero and odd lengths included, arrive intact and in order, the byte
// counters equal what was sent, and the exchange patterns deliver what they promise (with a
// shared and a dedicated server).
#pragma once

#include <algorithm>
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

// The message a rank sends in the pattern checks.
inline std::vector<uint8_t> pattern_message(int rank, size_t bytes) {
  std::vector<uint8_t> data(bytes);
  for (size_t j = 0; j < bytes; ++j) data[j] = message_byte(rank, 0, bytes, 9, j);
  return data;
}

// The server/worker patterns under `roles`: worker k's message lands in the server's inbox slot
// k (fixed and variable length), the server's and worker 0's messages reach every rank, and the
// mean over workers is their values' sum in worker order, scaled once. "" when all hold.
inline std::string run_server_worker_checks(Transport& t, const Roles& roles) {
  Context& ctx = t.context();
  std::string failures;
  const std::string where =
      std::string(roles.dedicated_server ? "dedicated" : "shared") + " server, rank " + std::to_string(t.rank()) + ": ";
  const size_t bytes = 999, variable = 10 + 17 * t.rank();  // another length on every rank
  const std::vector<uint8_t> data = pattern_message(t.rank(), bytes);
  Buffer<uint8_t> mine(ctx, bytes), back(ctx, bytes);
  ctx.upload(mine.data(), data.data(), bytes);
  std::vector<Buffer<uint8_t>> inbox_storage;
  std::vector<uint8_t*> inbox;
  for (int k = 0; k < (roles.is_server() ? roles.workers() : 0); ++k) {
    inbox_storage.emplace_back(ctx, bytes);
    inbox.push_back(inbox_storage.back().data());
  }
  std::vector<uint8_t> got(bytes);
  gather_to_server(t, roles, mine.data(), bytes, inbox);
  for (size_t k = 0; k < inbox.size(); ++k) {
    ctx.download(got.data(), inbox[k], bytes);
    if (got != pattern_message(roles.rank_of(static_cast<int>(k)), bytes))
      failures += where + "gather_to_server: wrong data from worker " + std::to_string(k) + "\n";
  }
  const auto check_everyone_got = [&](const char* pattern, int from) {
    ctx.download(got.data(), back.data(), bytes);
    if (got != pattern_message(from, bytes)) failures += where + pattern + ": wrong data\n";
  };
  ctx.copy(back.data(), mine.data(), bytes);
  broadcast_from_server(t, back.data(), bytes);
  check_everyone_got("broadcast_from_server", 0);
  ctx.copy(back.data(), mine.data(), bytes);
  broadcast_from_worker0(t, roles, back.data(), bytes);
  check_everyone_got("broadcast_from_worker0", roles.rank_of(0));

  const std::vector<size_t> sizes = gather_to_server_variable(t, roles, mine.data(), variable, bytes, inbox);
  if (sizes.size() != inbox.size())
    failures += where + "gather_to_server_variable: " + std::to_string(sizes.size()) + " sizes\n";
  for (size_t k = 0; k < std::min(sizes.size(), inbox.size()); ++k) {
    const int from = roles.rank_of(static_cast<int>(k));
    ctx.download(got.data(), inbox[k], sizes[k]);
    if (sizes[k] != 10 + 17 * static_cast<size_t>(from) || got[9] != pattern_message(from, bytes)[9])
      failures += where + "gather_to_server_variable: wrong message from worker " + std::to_string(k) + "\n";
  }
  if (broadcast_from_server_variable(t, back.data(), t.rank() == 0 ? 33 : 0, bytes) != 33)
    failures += where + "broadcast_from_server_variable: size\n";

  // Worker 0 holds 1 and the others 2^-24 each (a dedicated server 1000, which must not count):
  // in worker order every addition rounds back to 1, in any other order with three or more
  // workers the small ones add up first, so a wrong order or a wrong member shows in the bits.
  const auto value = [&roles](int rank) {
    return rank < roles.first_worker() ? 1000.0f : rank == roles.rank_of(0) ? 1.0f : 0x1p-24f;
  };
  Tensor x = Tensor::empty(ctx, {5});
  x.copy_from_host(ctx, std::vector<float>(5, value(t.rank())));
  mean_over_workers(t, roles, x.data(), 5);
  float sum = value(roles.rank_of(0));
  for (int k = 1; k < roles.workers(); ++k) sum += value(roles.rank_of(k));
  if (x.to_host(ctx) != std::vector<float>(5, sum * (1.0f / roles.workers())))
    failures += where + "mean_over_workers: wrong mean\n";
  return failures;
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

  // The element-wise maximum: every rank holds the largest of each position, whoever brought it.
  const std::vector<double> max = t.all_reduce_max({static_cast<double>(t.rank()), -static_cast<double>(t.rank()), 0.5});
  if (max != std::vector<double>{t.size() - 1.0, 0.0, 0.5}) failures += "rank " + std::to_string(t.rank()) + ": all_reduce_max differs\n";
  // A rank that brings another count is an error on every rank, not a read past its values.
  if (t.size() >= 2) {
    try {
      t.all_reduce_max(std::vector<double>(t.rank() == 1 ? 3 : 2, 1.0));
      failures += "rank " + std::to_string(t.rank()) + ": all_reduce_max took unequal counts\n";
    } catch (const CommError&) {
    }
  }
  t.barrier();

  // Server/worker patterns, with rank 0 as worker 0 and as a dedicated server; the ring pattern.
  failures += run_server_worker_checks(t, Roles{t.rank(), t.size(), false});
  if (t.size() >= 2) failures += run_server_worker_checks(t, Roles{t.rank(), t.size(), true});
  if (t.size() >= 2) {
    const size_t bytes = 999, variable = 10 + 17 * t.rank();  // another length on every rank
    const std::vector<uint8_t> data = pattern_message(t.rank(), bytes);
    Buffer<uint8_t> mine(ctx, bytes);
    ctx.upload(mine.data(), data.data(), bytes);
    std::vector<Buffer<uint8_t>> inbox_storage;
    std::vector<uint8_t*> inbox;
    for (int k = 0; k < 2; ++k) {
      inbox_storage.emplace_back(ctx, bytes);
      inbox.push_back(inbox_storage.back().data());
    }
    const Topology ring = make_topology("ring", t.size());
    const auto& neighbors = ring.neighbors[t.rank()];
    const std::vector<size_t> from = exchange_with_neighbors_variable(t, neighbors, mine.data(), variable, bytes, inbox);
    std::vector<uint8_t> got(bytes);
    for (size_t k = 0; k < neighbors.size(); ++k) {
      ctx.download(got.data(), inbox[k], from[k]);
      if (from[k] != 10 + 17 * static_cast<size_t>(neighbors[k]) || got[3] != message_byte(neighbors[k], 0, bytes, 9, 3))
        failures += "exchange_with_neighbors_variable: wrong message from " + std::to_string(neighbors[k]) + "\n";
    }
  }
  return failures;
}
