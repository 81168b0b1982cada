// The local transport: mailboxes per (sender, receiver) pair under one mutex.
#include "comm/local.h"

#include <chrono>
#include <cstring>
#include <thread>

#include "engine/check.h"

LocalHub::LocalHub(int size, double timeout_seconds)
    : size_(size), timeout_seconds_(timeout_seconds), mailboxes_(static_cast<size_t>(size) * size),
      gather_values_(size), gpus_(size, kUnknown), stream_marks_(size, nullptr) {}

void LocalHub::fail(int rank, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!failed_) {
    failed_ = true;
    first_failed_rank_ = rank;
    failure_ = "rank " + std::to_string(rank) + " failed: " + why;
  }
  for (auto& box : mailboxes_) box.clear();  // copies happen under this lock: none is under way
  changed_.notify_all();
}

void LocalHub::wait(std::unique_lock<std::mutex>& lock, const std::function<bool()>& ready, int rank,
                    const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_seconds_);
  for (;;) {
    if (failed_) throw CommError("rank " + std::to_string(rank) + " stopped: " + failure_);
    if (ready()) return;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && !ready()) {
      if (failed_) throw CommError("rank " + std::to_string(rank) + " stopped: " + failure_);
      throw CommError("rank " + std::to_string(rank) + " waited " + seconds_text(timeout_seconds_) +
                      " s for " + what + " (did a rank stop early?)");
    }
  }
}

LocalTransport::LocalTransport(Context& ctx, LocalHub& hub, int rank) : Transport(ctx, rank, hub.size()), hub_(hub) {
  if (ctx.is_cuda()) CUDA_CHECK(cudaEventCreateWithFlags(&stream_mark_, cudaEventDisableTiming));
  std::lock_guard<std::mutex> lock(hub_.mutex_);
  hub_.gpus_[rank] = ctx.is_cuda() ? ctx.gpu : LocalHub::kCpu;
}

LocalTransport::~LocalTransport() {
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (stream_mark_ != nullptr) cudaEventDestroy(stream_mark_);
}

Transport::Capture LocalTransport::capture() const {
  std::lock_guard<std::mutex> lock(hub_.mutex_);
  // Every rank must have registered a context on the same GPU, or all on the CPU (whose stand-in
  // for graphs runs the same bookkeeping: comm/step_graph.h).
  for (int gpu : hub_.gpus_)
    if (gpu == LocalHub::kUnknown || gpu != hub_.gpus_[0]) return Capture::None;
  return Capture::AllRanks;
}

void LocalTransport::publish_stream_mark() {
  CUDA_CHECK(cudaEventRecord(stream_mark_, ctx_.stream));
  std::lock_guard<std::mutex> lock(hub_.mutex_);
  hub_.stream_marks_[rank_] = stream_mark_;
}

// The barriers make every wait see the record made just before them, and keep the owner from
// recording its event again before every wait on it is enqueued. On the CPU there are no
// streams: the barriers alone keep the collective order.
void LocalTransport::fork_streams() {
  const bool device = ctx_.is_cuda();
  if (device && rank_ == 0) publish_stream_mark();
  barrier();
  if (device && rank_ != 0) CUDA_CHECK(cudaStreamWaitEvent(ctx_.stream, hub_.stream_marks_[0], 0));
  barrier();
}

void LocalTransport::join_streams() {
  const bool device = ctx_.is_cuda();
  if (device && rank_ != 0) publish_stream_mark();
  barrier();
  if (device && rank_ == 0)
    for (int r = 1; r < size_; ++r) CUDA_CHECK(cudaStreamWaitEvent(ctx_.stream, hub_.stream_marks_[r], 0));
  barrier();
}

cudaEvent_t LocalTransport::pooled_event(size_t index) {
  while (events_.size() <= index) {
    cudaEvent_t e;
    CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    events_.push_back(e);
  }
  return events_[index];
}

void LocalTransport::exchange(const std::vector<Post>& sends, const std::vector<Post>& recvs) {
  try {
    exchange_or_throw(sends, recvs);
  } catch (const std::exception& e) {
    hub_.fail(rank_, e.what());  // before this rank's buffers can go away with its stack
    throw;
  }
}

void LocalTransport::exchange_or_throw(const std::vector<Post>& sends, const std::vector<Post>& recvs) {
  const bool device = ctx_.is_cuda();
  size_t next_event = 0;
  std::vector<std::shared_ptr<LocalHub::Completion>> pending;
  {
    std::lock_guard<std::mutex> lock(hub_.mutex_);
    for (const Post& s : sends) {
      cudaEvent_t ready = nullptr;
      if (device) {
        ready = pooled_event(next_event++);
        CUDA_CHECK(cudaEventRecord(ready, ctx_.stream));
      }
      pending.push_back(std::make_shared<LocalHub::Completion>());
      hub_.mailbox(rank_, s.peer).push_back(LocalHub::Message{s.data, s.bytes, ready, ctx_.stream, pending.back()});
    }
    hub_.changed_.notify_all();
  }
  std::unique_lock<std::mutex> lock(hub_.mutex_);
  for (const Post& r : recvs) {
    auto& box = hub_.mailbox(r.peer, rank_);
    hub_.wait(lock, [&] { return !box.empty(); }, rank_, "a message from rank " + std::to_string(r.peer));
    LocalHub::Message m = box.front();
    box.pop_front();
    if (m.bytes != r.bytes)
      throw CommError("rank " + std::to_string(rank_) + " expected " + std::to_string(r.bytes) + " bytes from rank " +
                      std::to_string(r.peer) + ", got " + std::to_string(m.bytes));
    if (device) {
      CUDA_CHECK(cudaStreamWaitEvent(ctx_.stream, m.ready, 0));
      if (m.bytes > 0) CUDA_CHECK(cudaMemcpyAsync(r.data, m.data, m.bytes, cudaMemcpyDeviceToDevice, ctx_.stream));
      const cudaEvent_t copied = pooled_event(next_event++);
      CUDA_CHECK(cudaEventRecord(copied, ctx_.stream));
      // Enqueued now, while the event holds this record: later reuse of the event cannot move it.
      CUDA_CHECK(cudaStreamWaitEvent(m.sender_stream, copied, 0));
    } else if (m.bytes > 0) {
      std::memcpy(r.data, m.data, m.bytes);
    }
    m.done->copied = true;
    hub_.changed_.notify_all();
  }
  // The senders' buffers may be reused only once every receiver has taken its copy (on a GPU:
  // once the receiver has ordered this stream after it).
  for (size_t i = 0; i < sends.size(); ++i)
    hub_.wait(lock, [&] { return pending[i]->copied; }, rank_,
              "rank " + std::to_string(sends[i].peer) + " to receive a message");
}

void LocalTransport::barrier() {
  std::unique_lock<std::mutex> lock(hub_.mutex_);
  const uint64_t generation = hub_.barrier_generation_;
  if (++hub_.barrier_arrived_ == size_) {
    hub_.barrier_arrived_ = 0;
    ++hub_.barrier_generation_;
    hub_.changed_.notify_all();
    return;
  }
  hub_.wait(lock, [&] { return hub_.barrier_generation_ != generation; }, rank_, "the other ranks at a barrier");
}

std::vector<double> LocalTransport::all_gather(const std::vector<double>& values) {
  std::unique_lock<std::mutex> lock(hub_.mutex_);
  const uint64_t generation = hub_.gather_generation_;
  hub_.gather_values_[rank_] = values;
  if (++hub_.gather_arrived_ == size_) {
    hub_.gather_result_.clear();
    for (const std::vector<double>& v : hub_.gather_values_)
      hub_.gather_result_.insert(hub_.gather_result_.end(), v.begin(), v.end());
    hub_.gather_arrived_ = 0;
    ++hub_.gather_generation_;
    hub_.changed_.notify_all();
    return hub_.gather_result_;
  }
  hub_.wait(lock, [&] { return hub_.gather_generation_ != generation; }, rank_, "the other ranks at an all-gather");
  return hub_.gather_result_;
}

void run_local_ranks(int ranks, double timeout_seconds, const std::function<void(LocalHub&, int rank)>& body) {
  LocalHub hub(ranks, timeout_seconds);
  std::vector<std::exception_ptr> errors(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    try {
      threads.emplace_back([&, r] {
        try {
          body(hub, r);
        } catch (const std::exception& e) {
          errors[r] = std::current_exception();
          hub.fail(r, e.what());
        }
      });
    } catch (const std::exception& e) {  // the system's thread or memory limit
      // The ranks already running would wait for this one until --comm-timeout: release them.
      hub.fail(r, "its thread could not start");
      for (std::thread& t : threads) t.join();
      fail_input("cannot start a thread for each of %d workers (%s): try fewer --workers", ranks, e.what());
    }
  }
  for (std::thread& t : threads) t.join();
  // The root cause: the error of the rank that failed first, not of those it released.
  const int first = hub.first_failed_rank();
  if (first >= 0 && errors[first]) std::rethrow_exception(errors[first]);
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}
