// Transport: group bookkeeping and byte counting shared by all implementations.
#include "comm/transport.h"

#include <algorithm>
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
  uint64_t sent = 0, received = 0;
  for (const Post& p : sends_) sent += p.bytes;
  for (const Post& p : recvs_) received += p.bytes;
  bytes_sent_ += sent;
  bytes_received_ += received;
  if (link_.on())
    link_log_.push_back(std::max(link_.seconds(static_cast<double>(sent), sends_.size()),
                                 link_.seconds(static_cast<double>(received), recvs_.size())));
}

double Transport::all_reduce_sum(double value) {
  double sum = 0.0;
  for (double v : all_gather({value})) sum += v;  // in rank order: the same bits on every transport
  return sum;
}

std::vector<double> Transport::all_reduce_max(const std::vector<double>& values) {
  // The counts first, so that a rank out of step is an error on all of them, not a bad read.
  const std::vector<double> counts = all_gather({static_cast<double>(values.size())});
  for (int r = 0; r < size_; ++r)
    if (counts[r] != counts[0])
      throw CommError("rank " + std::to_string(r) + " brought " + std::to_string(static_cast<size_t>(counts[r])) +
                      " values to an all-reduce, rank 0 " + std::to_string(static_cast<size_t>(counts[0])));
  const std::vector<double> all = all_gather(values);
  std::vector<double> max(values);
  for (int r = 0; r < size_; ++r)
    for (size_t i = 0; i < values.size(); ++i) max[i] = std::max(max[i], all[r * values.size() + i]);
  return max;
}
