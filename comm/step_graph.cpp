// Step graphs: capture (forking every rank's stream from rank 0's for one graph of all ranks),
// instantiate, replay, and the stream ordering between replays and eager work.
#include "comm/step_graph.h"

#include "engine/check.h"
#include "engine/nvtx.h"

StepGraphs::StepGraphs(Transport& transport, bool wanted)
    : transport_(transport), ctx_(transport.context()), capture_(Transport::Capture::None) {
  transport_.barrier();  // every rank's transport is complete: all ranks see the same capture()
  if (wanted && ctx_.is_cuda()) capture_ = transport_.capture();
}

StepGraphs::~StepGraphs() { invalidate(); }

void StepGraphs::invalidate() {
  for (auto& [variant, graph] : graphs_)
    if (graph.exec != nullptr) cudaGraphExecDestroy(graph.exec);
  graphs_.clear();
}

void StepGraphs::run(int variant, const std::function<void()>& issue) {
  if (!enabled()) return issue();
  Graph& graph = graphs_[variant];
  if (!graph.warm) {
    pause();  // eager device work of the other ranks must follow the replayed steps
    issue();
    graph.warm = true;
    eager_since_replay_ = true;
    return;
  }
  if (graph.exec == nullptr) {
    capture(graph, issue);  // counted by the transport as it posts, like an eager step
  } else {
    transport_.count_replayed(graph.sent, graph.received);
  }
  replay(graph);
}

void StepGraphs::capture(Graph& graph, const std::function<void()>& issue) {
  NVTX_RANGE("capture_step");
  const bool all_ranks = capture_ == Transport::Capture::AllRanks;
  // The graph starts on the origin stream: the others' eager work so far must come before it.
  if (all_ranks && eager_since_replay_) transport_.join_streams();
  const size_t allocations = ctx_.allocator->system_allocations();
  const uint64_t sent = transport_.bytes_sent(), received = transport_.bytes_received();
  ctx_.timer.set_enabled(false);  // its events would be recorded only at capture time
  if (launches()) CUDA_CHECK(cudaStreamBeginCapture(ctx_.stream, cudaStreamCaptureModeRelaxed));
  if (all_ranks) transport_.fork_streams();
  issue();
  if (all_ranks) transport_.join_streams();
  cudaGraph_t captured = nullptr;
  if (launches()) {
    CUDA_CHECK(cudaStreamEndCapture(ctx_.stream, &captured));
    CUDA_CHECK(cudaGraphInstantiate(&graph.exec, captured, 0));
    CUDA_CHECK(cudaGraphDestroy(captured));
  }
  ctx_.timer.set_enabled(true);
  // A block allocated during capture would be baked into the graph and could be handed out again.
  CHECK(ctx_.allocator->system_allocations() == allocations,
        "rank %d allocated device memory while capturing a step; the warm-up step should have", transport_.rank());
  graph.sent = transport_.bytes_sent() - sent;
  graph.received = transport_.bytes_received() - received;
  if (all_ranks) transport_.barrier();  // rank 0 holds the graph before anyone goes on
  eager_since_replay_ = false;
}

void StepGraphs::replay(Graph& graph) {
  if (capture_ == Transport::Capture::AllRanks && eager_since_replay_) transport_.join_streams();
  if (launches()) {
    ctx_.timer.mark(Phase::Step);
    CUDA_CHECK(cudaGraphLaunch(graph.exec, ctx_.stream));
  }
  eager_since_replay_ = false;
  replayed_since_pause_ = true;
}

void StepGraphs::pause() {
  if (!replayed_since_pause_) return;
  if (capture_ == Transport::Capture::AllRanks) transport_.fork_streams();
  replayed_since_pause_ = false;
  eager_since_replay_ = true;
}
