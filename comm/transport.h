// The one small interface every exchange goes through: point-to-point sends and receives posted
// in groups that complete together, a barrier, and a scalar all-reduce for metrics. Messages live
// in the rank's Context memory (device buffers on a GPU). Every transport counts the bytes it
// moves; those counts are the communication cost a run reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "comm/link_model.h"
#include "engine/context.h"

// A peer that never answered, a size mismatch, a rank that failed: the exchange cannot go on.
struct CommError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "120" or "0.5": a timeout as it reads in an error message.
std::string seconds_text(double seconds);

enum class TransportKind { Local, Mpi, Nccl };
TransportKind parse_transport(const std::string& name);
const char* transport_name(TransportKind kind);

class Transport {
 public:
  Transport(Context& ctx, int rank, int size) : ctx_(ctx), rank_(rank), size_(size) {}
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  Context& context() { return ctx_; }
  virtual const char* name() const = 0;

  // Sends and receives posted between start_group() and end_group() are matched with the peers'
  // in posting order per (sender, receiver) pair and complete together at end_group(); buffers
  // must stay untouched until then. "Complete" on a GPU means: ordered before any later work on
  // the context's stream. A send or receive outside a group is a group of its own.
  void start_group();
  void send(const void* data, size_t bytes, int peer);
  void recv(void* data, size_t bytes, int peer);
  void end_group();

  virtual void barrier() = 0;
  // Every rank's `values` (the same count on all), concatenated in rank order; collective.
  virtual std::vector<double> all_gather(const std::vector<double>& values) = 0;
  // The sum over ranks, added in rank order so that every transport gives the same bits.
  double all_reduce_sum(double value);
  // The element-wise maximum over ranks; a rank with another count is a CommError on every rank.
  std::vector<double> all_reduce_max(const std::vector<double>& values);

  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

  // CUDA-graph capture of whole steps (comm/step_graph.h): which streams one graph can hold.
  // None: the transport works on the host (MPI stages through host memory). ThisRank: each rank
  // captures its own step, messages included (NCCL). AllRanks: the ranks are threads sharing one
  // GPU, and their steps are captured together into one graph, with rank 0's stream as origin.
  enum class Capture { None, ThisRank, AllRanks };
  virtual Capture capture() const { return Capture::None; }
  // For Capture::AllRanks, collective. fork_streams: every rank's stream waits for the work
  // enqueued so far on rank 0's (while rank 0 captures, their streams thereby join its capture).
  // join_streams: rank 0's stream waits for the work enqueued so far on every rank's.
  virtual void fork_streams() {}
  virtual void join_streams() {}
  // A replayed step sends what its capture posted, without posting it: counted here, and its
  // groups' modelled times logged as if they had been posted.
  void count_replayed(uint64_t sent, uint64_t received, const std::vector<double>& link_seconds) {
    bytes_sent_ += sent;
    bytes_received_ += received;
    link_log_.insert(link_log_.end(), link_seconds.begin(), link_seconds.end());
  }

  // The modelled network (comm/link_model.h). While it is on, every group this rank completes
  // appends its modelled time, the longer of its two directions, to the link log; the time of
  // the group over all ranks is the slowest rank's, taken at log time with all_reduce_max (every
  // rank completes the same groups, empty ones included). Only metrics: nothing waits for it.
  void model_links(const LinkModel& link) { link_ = link; }
  const LinkModel& link_model() const { return link_; }
  const std::vector<double>& link_log() const { return link_log_; }
  void clear_link_log() { link_log_.clear(); }

 protected:
  struct Post {
    void* data;  // const for sends
    size_t bytes;
    int peer;
  };
  // Runs one group: all sends and receives, matched with the peers.
  virtual void exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) = 0;
  void check_peer(int peer) const;

  Context& ctx_;
  const int rank_, size_;
  uint64_t bytes_sent_ = 0, bytes_received_ = 0;

 private:
  LinkModel link_;
  std::vector<double> link_log_;
  bool in_group_ = false;
  std::vector<Post> sends_, recvs_;
};
