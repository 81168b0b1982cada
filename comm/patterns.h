// The exchange patterns the algorithms are built from, each one group of point-to-point messages
// through a Transport (so every byte is counted). Messages are byte buffers in the context's
// memory. Server/worker patterns follow Roles: rank 0 is the server, and when it is also worker 0
// its own message stays on the node (a local copy, not counted as traffic).
#pragma once

#include <cstdint>
#include <vector>

#include "comm/roles.h"
#include "comm/transport.h"

// Workers to server: worker k's `message` lands in the server's inbox[k] (inbox is used on the
// server only and needs roles.workers() buffers of `bytes`). A dedicated server sends nothing.
void gather_to_server(Transport& t, const Roles& roles, const uint8_t* message, size_t bytes,
                      const std::vector<uint8_t*>& inbox);

// Server to every other rank: the server's `message` is copied into theirs.
void broadcast_from_server(Transport& t, uint8_t* message, size_t bytes);

// Worker 0's `message` is copied into every rank's (through the server when that is dedicated).
void broadcast_from_worker0(Transport& t, const Roles& roles, uint8_t* message, size_t bytes);

// Every rank sends `message` to each neighbour and receives each neighbour's into inbox[k]
// (neighbours[k] sends to me exactly when I send to it: the graph is undirected).
void exchange_with_neighbors(Transport& t, const std::vector<int>& neighbors, const uint8_t* message, size_t bytes,
                             const std::vector<uint8_t*>& inbox);

// Every rank's x[0..n) becomes the mean over the workers' (summed on the server in worker order,
// scaled once, sent back to every rank): how evaluation averages the workers' models.
void mean_over_workers(Transport& t, const Roles& roles, float* x, size_t n);

// Variable-length messages (entropy-coded payloads): the sizes travel first, 8 bytes each,
// counted like everything else; inbox buffers must hold `capacity` bytes. Return the sizes
// received (per worker, the server's own included when it is worker 0; empty off the server).
std::vector<size_t> gather_to_server_variable(Transport& t, const Roles& roles, const uint8_t* message, size_t bytes,
                                              size_t capacity, const std::vector<uint8_t*>& inbox);
size_t broadcast_from_server_variable(Transport& t, uint8_t* message, size_t bytes, size_t capacity);
std::vector<size_t> exchange_with_neighbors_variable(Transport& t, const std::vector<int>& neighbors,
                                                     const uint8_t* message, size_t bytes, size_t capacity,
                                                     const std::vector<uint8_t*>& inbox);
