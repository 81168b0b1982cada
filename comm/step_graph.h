// Whole training steps as CUDA graphs. After warm-up a step launches the same kernels on the same
// buffers every time (docs/design.md: the step is static; what changes per step is read from the step
// clock), so it is captured once and then replayed with one launch, which removes the host's
// launch cost: hundreds of kernels per worker per step.
//
// With the local transport on one GPU, all ranks' steps go into one graph: rank 0 begins the
// capture on its stream, every other rank's stream forks from it, each rank thread then issues its
// step exactly as in eager mode (messages become copies ordered by event edges), and the streams
// join back before rank 0 ends the capture. The workers are independent branches of that graph,
// so the GPU overlaps them. With NCCL each rank captures its own step, sends and receives included.
// The MPI transport stages through host memory and cannot be captured: its steps run eagerly.
//
// On the CPU (local transport), the same bookkeeping runs with a stand-in for the graph: capturing
// records nothing and a replay issues the step again on every rank. Results are those of eager
// execution by construction, so CI tests the part that the GPU shares with it: warm-up, capture
// and replay decisions taken alike on every rank, the collectives between them, and that every
// replay of a variant sends the bytes of the first (which a GPU replay counts without sending) and
// allocates nothing (a GPU graph holds the addresses its capture used).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "comm/transport.h"

class StepGraphs {
 public:
  // Enabled when `wanted` (--cuda-graphs on), the algorithm's step is capturable, and the
  // transport can capture. Collective.
  StepGraphs(Transport& transport, bool wanted, bool algorithm_capturable);
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  bool enabled() const { return capture_ != Transport::Capture::None; }
  // The rank that launches the graph holding `rank`'s step (and times it as Phase::Step).
  int launcher_of(int rank) const { return capture_ == Transport::Capture::AllRanks ? 0 : rank; }
  // One line for the run's start and config.json: what happens to steps, or why graphs are off.
  std::string description() const;

  // Runs one step of kind `variant` (a step whose kernels differ, such as LIEC-SGD's
  // synchronisation step, is another variant). `issue` enqueues the step. After invalidate() the
  // first step of each variant runs eagerly (it sizes buffers and picks cuDNN algorithms); the
  // next is captured, and every later one replays the graph. Collective: every rank calls it with
  // the same variant; with one graph for all ranks, rank 0 launches it and the others only count.
  void run(int variant, const std::function<void()>& issue);

  // Orders device work outside the steps (logging, evaluation, checkpoints, a new epoch's
  // shard) after every step replayed so far. Collective. Replays order themselves after such work.
  void pause();

  // Forgets the graphs, for when the buffers they use may have moved (evaluation runs the layers
  // at another batch size). They are captured again, after one eager step per variant.
  void invalidate();

 private:
  struct Graph {
    bool warm = false;      // ran eagerly once since the last invalidate()
    bool captured = false;  // on every rank, the launching ones or not
    cudaGraphExec_t exec = nullptr;  // on the ranks that launch
    uint64_t sent = 0, received = 0;  // what one step's capture posted, for the byte counters
    std::vector<double> link_seconds;  // and its groups' modelled times, for the link log
    bool bytes_known = false;
  };
  // The eager step of a variant; drops every graph if it moved a buffer (collective).
  void warm_up(int variant, const std::function<void()>& issue);
  void capture(Graph& graph, const std::function<void()>& issue);
  void replay(Graph& graph, const std::function<void()>& issue);
  // Stops with an internal error if the allocator handed out a block since `allocations_before`.
  void check_allocated_nothing(size_t allocations_before, const char* doing) const;
  // Whether this rank launches graphs (rank 0, or every rank when each captures its own).
  bool launches() const { return capture_ == Transport::Capture::ThisRank || transport_.rank() == 0; }

  Transport& transport_;
  Context& ctx_;
  const bool wanted_, algorithm_capturable_;
  Transport::Capture capture_;
  std::map<int, Graph> graphs_;
  bool eager_since_replay_ = true;   // device work outside graphs since the last replay
  bool replayed_since_pause_ = false;
};
