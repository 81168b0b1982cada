// A rank's message buffers for one algorithm: one outgoing message and an inbox of one message per
// peer, each as large as the largest message of the algorithm's compressors. Each exchange picks
// the fixed-size pattern or the variable-size one (sizes first) from the compressor that wrote the
// message, so that the algorithms of both families (server/worker and gossip) say only whom they
// send to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "comm/roles.h"
#include "comm/transport.h"
#include "compress/compressor.h"
#include "engine/tensor.h"

class Mailbox {
 public:
  // `capacity`: the largest message in bytes; `peers`: the inbox's messages (0 where none arrive).
  Mailbox(Context& ctx, size_t capacity, int peers);

  uint8_t* outgoing() { return outgoing_.data(); }
  const uint8_t* inbox(size_t peer) const { return inbox_[peer]; }

  // Each returns the sizes of the messages received, `bytes` being the size of the outgoing one
  // (written by `c`). The patterns are those of comm/patterns.h:
  // worker k's message into the server's inbox(k) (empty sizes off the server);
  std::vector<size_t> gather_to_server(Transport& t, const Roles& roles, const Compressor& c, size_t bytes);
  // the server's message into every rank's outgoing() (its size);
  size_t broadcast_from_server(Transport& t, const Compressor& c, size_t bytes);
  // each neighbour's message into inbox(k).
  std::vector<size_t> exchange_with_neighbors(Transport& t, const std::vector<int>& neighbors, const Compressor& c,
                                              size_t bytes);

 private:
  size_t capacity_;
  Buffer<uint8_t> outgoing_;
  std::vector<Buffer<uint8_t>> inbox_storage_;
  std::vector<uint8_t*> inbox_;
};
