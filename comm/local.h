// The local transport: ranks are threads of one process, each with its own Context (and stream).
// A receiver copies straight out of the sender's buffer; on a GPU the copy waits for an event the
// sender recorded after producing the data, and the receiver makes the sender's stream wait for
// an event it recorded after the copy (before telling the sender), so no thread ever waits for
// the device and no event is waited on after its owner reuses it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "comm/transport.h"

// What the rank threads of one process share: the mailboxes, the barrier, the all-gather slots.
class LocalHub {
 public:
  LocalHub(int size, double timeout_seconds);
  int size() const { return size_; }

  // The rank whose failure stopped the others (-1 while none has failed).
  int first_failed_rank() {
    std::lock_guard<std::mutex> lock(mutex_);
    return first_failed_rank_;
  }

  // Marks the whole group of ranks as failed (one rank threw): every waiting rank throws too, and
  // no message of the failed rank (whose buffers are about to go) can be received any more.
  void fail(int rank, const std::string& why);

 private:
  friend class LocalTransport;
  struct Completion {
    bool copied = false;  // and, on a GPU, the sender's stream ordered after the copy
  };
  struct Message {
    const void* data;
    size_t bytes;
    cudaEvent_t ready;             // null for host memory
    cudaStream_t sender_stream;    // the receiver makes it wait for the copy
    std::shared_ptr<Completion> done;
  };

  // Waits on the condition until `ready()` or the deadline; throws CommError on timeout or failure.
  void wait(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready, int rank, const std::string& what);
  std::deque<Message>& mailbox(int from, int to) { return mailboxes_[static_cast<size_t>(from) * size_ + to]; }

  const int size_;
  const double timeout_seconds_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::deque<Message>> mailboxes_;
  bool failed_ = false;
  int first_failed_rank_ = -1;
  std::string failure_;
  uint64_t barrier_generation_ = 0;
  int barrier_arrived_ = 0;
  std::vector<std::vector<double>> gather_values_;  // each rank's contribution to the current all-gather
  uint64_t gather_generation_ = 0;
  int gather_arrived_ = 0;
  std::vector<double> gather_result_;
  static constexpr int kUnknown = -1, kCpu = -2;
  std::vector<int> gpus_;                  // each rank's GPU, kCpu, or kUnknown before its transport exists
  std::vector<cudaEvent_t> stream_marks_;  // each rank's fork/join event, for the others to wait on
};

class LocalTransport : public Transport {
 public:
  LocalTransport(Context& ctx, LocalHub& hub, int rank);
  ~LocalTransport() override;
  const char* name() const override { return "local"; }
  void barrier() override;
  std::vector<double> all_gather(const std::vector<double>& values) override;
  // One graph for all ranks when they are threads on the same GPU.
  Capture capture() const override;
  void fork_streams() override;
  void join_streams() override;

 protected:
  void exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) override;

 private:
  void exchange_or_throw(const std::vector<Post>& sends, const std::vector<Post>& recvs);
  cudaEvent_t pooled_event(size_t index);  // reused every group, so steps create none
  // Publishes an event recorded now on this rank's stream, for the others to wait on.
  void publish_stream_mark();
  LocalHub& hub_;
  std::vector<cudaEvent_t> events_;
  cudaEvent_t stream_mark_ = nullptr;
};

// Runs body(rank) on `ranks` threads and waits for all of them. If a rank throws, the others are
// released with an error and the first exception is rethrown here.
void run_local_ranks(int ranks, double timeout_seconds, const std::function<void(LocalHub&, int rank)>& body);
