// Step graphs: capture (forking every rank's stream from rank 0's for one graph of all ranks),
// instantiate, replay, and the stream ordering between replays and eager work.
#include "comm/step_graph.h"

#include "engine/check.h"
#include "engine/nvtx.h"

StepGraphs::StepGraphs(Transport& transport, bool wanted, bool algorithm_capturable)
    : transport_(transport), ctx_(transport.context()), wanted_(wanted),
      algorithm_capturable_(algorithm_capturable), capture_(Transport::Capture::None) {
  transport_.barrier();  // every rank's transport is complete: all ranks see the same capture()
  if (wanted && algorithm_capturable) capture_ = transport_.capture();
}

std::string StepGraphs::description() const {
  if (!wanted_) return "off (--cuda-graphs off)";
  if (!algorithm_capturable_)
    return "off: this algorithm and compressor draw from per-step keys or code on the host (graphs need identity, "
           "sign or topk with a server/worker algorithm)";
  switch (capture_) {
    case Transport::Capture::AllRanks:
      if (!ctx_.is_cuda())
        return "CPU stand-in: the graph bookkeeping of a GPU run, each step issued again instead of replayed";
      return transport_.size() == 1 ? "on" : "on, one graph for all " + std::to_string(transport_.size()) + " ranks";
    case Transport::Capture::ThisRank: return "on, one graph per rank";
    case Transport::Capture::None: break;
  }
  return std::string("off: the ") + transport_.name() +
         " transport cannot be captured (local workers on several GPUs, or MPI)";
}

StepGraphs::~StepGraphs() { invalidate(); }

void StepGraphs::invalidate() {
  for (auto& [variant, graph] : graphs_)
    if (graph.exec != nullptr) cudaGraphExecDestroy(graph.exec);
  graphs_.clear();
}

void StepGraphs::run(int variant, const std::function<void()>& issue) {
  if (!enabled()) return issue();
  if (!graphs_[variant].warm) return warm_up(variant, issue);
  Graph& graph = graphs_[variant];
  if (!graph.captured) {
    capture(graph, issue);  // counted by the transport as it posts, like an eager step
  } else if (ctx_.is_cuda()) {
    transport_.count_replayed(graph.sent, graph.received, graph.link_seconds);  // the CPU's stand-in posts them itself
  }
  replay(graph, issue);
}

void StepGraphs::warm_up(int variant, const std::function<void()>& issue) {
  pause();  // eager device work must follow the replayed steps
  const size_t allocations = ctx_.allocator->allocations(), workspace = ctx_.workspace_bytes();
  issue();
  eager_since_replay_ = true;
  // A buffer that was allocated (anew or from the cache) or a workspace that grew may have moved:
  // the other variants' graphs would still use the old one. Decided together, since every rank
  // must hold the same graphs.
  const bool moved = ctx_.allocator->allocations() != allocations || ctx_.workspace_bytes() != workspace;
  if (transport_.all_reduce_sum(moved ? 1.0 : 0.0) > 0.0) invalidate();
  graphs_[variant].warm = true;
}

void StepGraphs::capture(Graph& graph, const std::function<void()>& issue) {
  NVTX_RANGE("capture_step");
  const bool all_ranks = capture_ == Transport::Capture::AllRanks;
  // The graph starts on the origin stream: the others' eager work so far must come before it.
  if (all_ranks && eager_since_replay_) transport_.join_streams();
  const size_t allocations = ctx_.allocator->allocations();
  const uint64_t sent = transport_.bytes_sent(), received = transport_.bytes_received();
  const size_t links_before = transport_.link_log().size();
  ctx_.timer.set_enabled(false);  // its events would be recorded only at capture time
  bool capturing = false;
  try {
    if (launches() && ctx_.is_cuda()) {
      CUDA_CHECK(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeRelaxed));
      capturing = true;
    }
    if (all_ranks) transport_.fork_streams();
    if (ctx_.is_cuda()) issue();  // the CPU's stand-in records nothing: its replay issues the step
    if (all_ranks) transport_.join_streams();
    if (launches() && ctx_.is_cuda()) {
      cudaGraph_t captured = nullptr;
      capturing = false;
      CUDA_CHECK(cudaStreamEndCapture(ctx_.stream, &captured));
      CUDA_CHECK(cudaGraphInstantiate(&graph.exec, captured, 0));
      CUDA_CHECK(cudaGraphDestroy(captured));
    }
  } catch (...) {
    // A peer failed mid-capture (the transport threw): close the capture before the streams and
    // buffers go away with the unwinding.
    if (capturing) {
      cudaGraph_t partial = nullptr;
      if (cudaStreamEndCapture(ctx_.stream, &partial) == cudaSuccess && partial != nullptr) cudaGraphDestroy(partial);
    }
    ctx_.timer.set_enabled(true);
    throw;
  }
  ctx_.timer.set_enabled(true);
  check_allocated_nothing(allocations, "capturing");
  graph.captured = true;
  graph.sent = transport_.bytes_sent() - sent;
  graph.received = transport_.bytes_received() - received;
  graph.link_seconds.assign(transport_.link_log().begin() + static_cast<std::ptrdiff_t>(links_before),
                            transport_.link_log().end());
  graph.bytes_known = ctx_.is_cuda();  // the CPU's stand-in posted nothing: its first replay will
  eager_since_replay_ = false;
}

void StepGraphs::replay(Graph& graph, const std::function<void()>& issue) {
  const bool all_ranks = capture_ == Transport::Capture::AllRanks;
  if (all_ranks && eager_since_replay_) transport_.join_streams();
  if (!ctx_.is_cuda()) {
    // Every rank issues the step, its messages exchanged as it runs. What a GPU replay takes for
    // granted is checked here: every replay of a variant posts the bytes of the first.
    const uint64_t sent = transport_.bytes_sent(), received = transport_.bytes_received();
    const size_t allocations = ctx_.allocator->allocations();
    issue();
    check_allocated_nothing(allocations, "replaying");
    const uint64_t step_sent = transport_.bytes_sent() - sent, step_received = transport_.bytes_received() - received;
    if (!graph.bytes_known) {
      graph.sent = step_sent;
      graph.received = step_received;
      graph.bytes_known = true;
    }
    CHECK(step_sent == graph.sent && step_received == graph.received,
          "rank %d: a replayed step sent %llu and received %llu bytes, its first replay %llu and %llu",
          transport_.rank(), static_cast<unsigned long long>(step_sent), static_cast<unsigned long long>(step_received),
          static_cast<unsigned long long>(graph.sent), static_cast<unsigned long long>(graph.received));
  } else if (launches()) {
    ctx_.timer.mark(Phase::Step);
    CUDA_CHECK(cudaGraphLaunch(graph.exec, ctx_.stream));
  }
  // Host threads only: the ranks that do not launch stay within one step of rank 0, whose launch
  // may block while the GPU catches up, so that every later wait for it lasts about a step and
  // never approaches --comm-timeout. No device synchronisation.
  if (all_ranks) transport_.barrier();
  eager_since_replay_ = false;
  replayed_since_pause_ = true;
}

// A block allocated while capturing would be baked into the graph (see CachingAllocator::allocations).
void StepGraphs::check_allocated_nothing(size_t allocations_before, const char* doing) const {
  CHECK(ctx_.allocator->allocations() == allocations_before,
        "rank %d allocated memory while %s a step: its buffers must all exist after the warm-up step",
        transport_.rank(), doing);
}

void StepGraphs::pause() {
  if (!replayed_since_pause_) return;
  if (capture_ == Transport::Capture::AllRanks) transport_.fork_streams();
  replayed_since_pause_ = false;
  eager_since_replay_ = true;
}
