// The exchange patterns the algorithms are built from, each one group of point-to-point messages
// through a Transport (so every byte is counted). Messages are byte buffers in the context's
// memory. Rank 0 is the server in server/worker patterns and also worker 0: its own message
// stays on the node (a local copy, not counted as traffic).
#pragma once

#include <cstdint>
#include <vector>

#include "comm/transport.h"

// Workers to server: every rank's `message` lands in the server's inbox[rank] (inbox is used on
// rank 0 only and needs `size()` buffers of `bytes`).
void gather_to_server(Transport& t, const uint8_t* message, size_t bytes, const std::vector<uint8_t*>& inbox);

// Server to workers: the server's `message` is copied into every worker's `message`.
void broadcast_from_server(Transport& t, uint8_t* message, size_t bytes);

// Every rank sends `message` to each neighbour and receives each neighbour's into inbox[k]
// (neighbours[k] sends to me exactly when I send to it: the graph is undirected).
void exchange_with_neighbors(Transport& t, const std::vector<int>& neighbors, const uint8_t* message, size_t bytes,
                             const std::vector<uint8_t*>& inbox);

// Every rank's x[0..n) becomes the mean over ranks (summed on the server in rank order, scaled
// once, sent back): how evaluation averages the workers' models.
void mean_over_ranks(Transport& t, float* x, size_t n);

// Variable-length messages (entropy-coded payloads): the sizes travel first, 8 bytes each,
// counted like everything else; inbox buffers must hold `capacity` bytes. Return the sizes
// received (per inbox slot; the server's own slot holds its own size).
std::vector<size_t> gather_to_server_variable(Transport& t, const uint8_t* message, size_t bytes, size_t capacity,
                                              const std::vector<uint8_t*>& inbox);
size_t broadcast_from_server_variable(Transport& t, uint8_t* message, size_t bytes, size_t capacity);
std::vector<size_t> exchange_with_neighbors_variable(Transport& t, const std::vector<int>& neighbors,
                                                     const uint8_t* message, size_t bytes, size_t capacity,
                                                     const std::vector<uint8_t*>& inbox);
