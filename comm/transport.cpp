// Transport: group bookkeeping and byte counting shared by all implementations.
#include "comm/transport.h"

#include <cstdio>

#include "engine/check.h"

std::string seconds_text(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

TransportKind parse_transport(const std::string& name) {
  if (name == "local") return TransportKind::Local;
  if (name == "mpi") return TransportKind::Mpi;
  if (name == "nccl") return TransportKind::Nccl;
  fail_input("unknown --comm '%s' (expected local, mpi or nccl)", name.c_str());
}

const char* transport_name(TransportKind kind) {
  switch (kind) {
    case TransportKind::Local: return "local";
    case TransportKind::Mpi: return "mpi";
    case TransportKind::Nccl: return "nccl";
  }
  return "unknown";
}

void Transport::check_peer(int peer) const {
  if (peer < 0 || peer >= size_)
    throw CommError("rank " + std::to_string(rank_) + ": peer " + std::to_string(peer) + " outside [0, " +
                    std::to_string(size_) + ")");
}

void Transport::start_group() {
  CHECK(!in_group_, "groups do not nest");
  in_group_ = true;
  sends_.clear();
  recvs_.clear();
}

void Transport::send(const void* data, size_t bytes, int peer) {
  check_peer(peer);
  const bool own_group = !in_group_;
  if (own_group) start_group();
  sends_.push_back(Post{const_cast<void*>(data), bytes, peer});
  if (own_group) end_group();
}

void Transport::recv(void* data, size_t bytes, int peer) {
  check_peer(peer);
  const bool own_group = !in_group_;
  if (own_group) start_group();
  recvs_.push_back(Post{data, bytes, peer});
  if (own_group) end_group();
}

void Transport::end_group() {
  CHECK(in_group_, "end_group() without start_group()");
  in_group_ = false;
  exchange(sends_, recvs_);
  for (const Post& p : sends_) bytes_sent_ += p.bytes;
  for (const Post& p : recvs_) bytes_received_ += p.bytes;
}
