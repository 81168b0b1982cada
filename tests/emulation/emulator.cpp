// The emulated execution model behind emulator.h: launches, per-thread fibers, barriers, warp exchanges, shared memory and findings.
#include "emulator.h"

#include <ucontext.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <vector>

// AddressSanitizer must be told when the stack changes under it (a fiber switch), or it takes
// the fiber's stack for a corrupted one. (It still warns once that it "doesn't fully support
// makecontext/swapcontext"; these annotations are what keep its reports on fiber stacks right.)
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_START_SWITCH(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define EMU_FINISH_SWITCH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define EMU_START_SWITCH(save, bottom, size) ((void)0)
#define EMU_FINISH_SWITCH(save, bottom, size) ((void)0)
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace emu {
namespace {

std::string g_findings;
std::map<std::string, std::vector<dim3>> g_launches;  // per kernel name, each launch's grid
cudaError_t g_last_error = cudaSuccess;
const char* g_kernel = "";  // the kernel now running, for findings

void finding(const char* format, ...) __attribute__((format(printf, 1, 2)));
void finding(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  g_findings += std::string(g_kernel) + ": " + line + "\n";
}

// Where a CUDA thread is: running or runnable, waiting at a barrier, or returned.
enum class State { Ready, AtSyncthreads, AtWarpExchange, Done };

struct Thread {
  ucontext_t context;
  State state = State::Ready;
  bool started = false;
  const char* file = "";  // where it waits
  int line = 0;
};

struct Block {
  explicit Block(int n) : threads(n), warp_slots((n + 31) / 32) {}
  std::vector<Thread> threads;
  std::vector<std::array<uint64_t, 32>> warp_slots;  // warp_exchange deposits, per warp and lane
  struct Shared {
    std::unique_ptr<unsigned char[]> bytes;
    size_t size;
  };
  std::map<const void*, Shared> shared;  // per __shared__ declaration
};

// A block's static __shared__ memory may not exceed 48 KiB (more needs dynamic shared memory).
constexpr size_t kStaticSharedLimit = 48 * 1024;

// One fiber stack per thread of the largest block so far, reused by every launch.
constexpr size_t kStackBytes = 64 * 1024;
std::vector<std::unique_ptr<char[]>> g_stacks;

Block* g_block = nullptr;  // the block now running
int g_tid = 0;             // the running thread's linear index in it
ucontext_t g_scheduler;
const void* g_scheduler_stack = nullptr;
size_t g_scheduler_stack_size = 0;
void (*g_body)(void*) = nullptr;
void* g_body_data = nullptr;

bool same_place(const Thread& a, const Thread& b) { return a.line == b.line && std::strcmp(a.file, b.file) == 0; }

// The running thread waits in `state` until the scheduler makes it Ready again.
void wait_at(State state, const char* file, int line) {
  Thread& t = g_block->threads[g_tid];
  t.state = state;
  t.file = file;
  t.line = line;
  void* fake_stack = nullptr;
  EMU_START_SWITCH(&fake_stack, g_scheduler_stack, g_scheduler_stack_size);
  swapcontext(&t.context, &g_scheduler);
  EMU_FINISH_SWITCH(fake_stack, nullptr, nullptr);
}

void thread_entry() {
  EMU_FINISH_SWITCH(nullptr, &g_scheduler_stack, &g_scheduler_stack_size);
  g_body(g_body_data);
  g_block->threads[g_tid].state = State::Done;
  EMU_START_SWITCH(nullptr, g_scheduler_stack, g_scheduler_stack_size);  // nullptr: this fiber ends
  setcontext(&g_scheduler);
}

// Runs thread `tid` until it waits or returns.
void resume(int tid) {
  Thread& t = g_block->threads[tid];
  g_tid = tid;
  threadIdx = uint3{tid % blockDim.x, tid / blockDim.x % blockDim.y, tid / (blockDim.x * blockDim.y)};
  t.state = State::Ready;
  if (!t.started) {
    t.started = true;
    getcontext(&t.context);
    t.context.uc_stack.ss_sp = g_stacks[tid].get();
    t.context.uc_stack.ss_size = kStackBytes;
    t.context.uc_link = nullptr;
    makecontext(&t.context, thread_entry, 0);
  }
  void* fake_stack = nullptr;
  EMU_START_SWITCH(&fake_stack, g_stacks[tid].get(), kStackBytes);
  swapcontext(&g_scheduler, &t.context);
  EMU_FINISH_SWITCH(fake_stack, nullptr, nullptr);
}

// Opens the exchange of the warp whose first thread is `first` if all its live lanes wait at one;
// false if it cannot open.
bool open_warp_exchange(Block& b, int first) {
  const int end = std::min(static_cast<int>(b.threads.size()), first + 32);
  const Thread* leader = nullptr;
  int waiting = 0, live = 0;
  for (int t = first; t < end; ++t) {
    const Thread& lane = b.threads[t];
    if (lane.state == State::Done) continue;
    ++live;
    if (lane.state != State::AtWarpExchange) continue;
    ++waiting;
    if (leader == nullptr) leader = &lane;
    else if (!same_place(lane, *leader))
      finding("divergent warp collective in warp %d: lanes at %s:%d and %s:%d", first / 32, leader->file, leader->line,
              lane.file, lane.line);
  }
  if (waiting == 0 || waiting != live) return false;
  if (live != 32)  // every collective in the repository names all 32 lanes (the mask is checked at the call)
    finding("warp collective at %s:%d names all 32 lanes but warp %d has %d live", leader->file, leader->line,
            first / 32, live);
  for (int t = first; t < end; ++t)
    if (b.threads[t].state == State::AtWarpExchange) b.threads[t].state = State::Ready;
  return true;
}

bool open_warp_exchanges(Block& b) {
  bool opened = false;
  for (int first = 0; first < static_cast<int>(b.threads.size()); first += 32) opened |= open_warp_exchange(b, first);
  return opened;
}

// Opens __syncthreads when every live thread of the block waits at it (threads that returned do
// not take part, as on sm_70 and later); false if it cannot open.
bool open_syncthreads(Block& b) {
  const Thread* leader = nullptr;
  for (const Thread& t : b.threads) {
    if (t.state == State::Done) continue;
    if (t.state != State::AtSyncthreads) return false;
    if (leader == nullptr) leader = &t;
    else if (!same_place(t, *leader))
      finding("divergent __syncthreads: threads at %s:%d and %s:%d", leader->file, leader->line, t.file, t.line);
  }
  if (leader == nullptr) return false;
  for (Thread& t : b.threads) if (t.state == State::AtSyncthreads) t.state = State::Ready;
  return true;
}

[[noreturn]] void deadlock(const Block& b) {
  std::fprintf(stderr, "emulator: deadlock in %s, block (%u,%u,%u): a barrier some threads never reach\n", g_kernel,
               blockIdx.x, blockIdx.y, blockIdx.z);
  for (size_t t = 0; t < b.threads.size(); ++t)
    if (b.threads[t].state != State::Done)
      std::fprintf(stderr, "  thread %zu waits at %s:%d\n", t, b.threads[t].file, b.threads[t].line);
  std::abort();
}

// The order in which a block's threads take turns. Forward and Reverse run every thread as far as
// it can go (up to a barrier or a warp collective) before any collective opens, so a collective
// acts as a barrier for the whole block. WarpByWarp runs one warp at a time through its own
// collectives up to the next __syncthreads, as a warp may run ahead of the others on a GPU: a
// race between warps that only a warp collective separates shows up there.
enum class Order { Forward, Reverse, WarpByWarp };

// Resumes the Ready threads among [first, end) in the given direction; false if none was.
bool resume_ready(Block& b, int first, int end, bool reversed) {
  bool ran = false;
  for (int i = first; i < end; ++i) {
    const int tid = reversed ? end - 1 - (i - first) : i;
    if (b.threads[tid].state != State::Ready) continue;
    resume(tid);
    ran = true;
  }
  return ran;
}

// Runs every thread of the block to completion.
void run_block(Block& b, Order order) {
  const int n = static_cast<int>(b.threads.size());
  for (;;) {
    bool progressed = false;
    if (order == Order::WarpByWarp) {
      for (int first = 0; first < n; first += 32)
        while (resume_ready(b, first, std::min(n, first + 32), false) || open_warp_exchange(b, first)) progressed = true;
    } else {
      progressed = resume_ready(b, 0, n, order == Order::Reverse) || open_warp_exchanges(b);
    }
    if (progressed || open_syncthreads(b)) continue;
    for (const Thread& t : b.threads)
      if (t.state != State::Done) deadlock(b);
    return;
  }
}

bool valid_configuration(dim3 grid, dim3 block) {
  const unsigned long threads = static_cast<unsigned long>(block.x) * block.y * block.z;
  return threads >= 1 && threads <= 1024 && block.z <= 64 && grid.x >= 1 && grid.y >= 1 && grid.z >= 1 &&
         grid.x <= 2147483647u && grid.y <= 65535 && grid.z <= 65535;
}

unsigned long g_launch_number = 0;

}  // namespace

void launch_body(dim3 grid, dim3 block, size_t dynamic_shared_bytes, const char* kernel, void (*body)(void*),
                 void* data) {
  g_kernel = kernel;
  if (!valid_configuration(grid, block)) {
    finding("invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u)", grid.x, grid.y, grid.z, block.x, block.y,
            block.z);
    g_last_error = cudaErrorInvalidConfiguration;
    return;
  }
  if (dynamic_shared_bytes != 0) {  // valid on a GPU; no kernel of ours uses it
    finding("%zu bytes of dynamic shared memory: not emulated", dynamic_shared_bytes);
    return;
  }
  g_launches[kernel].push_back(grid);
  const unsigned long launch_number = g_launch_number++;
  const int threads = static_cast<int>(block.x * block.y * block.z);
  while (g_stacks.size() < static_cast<size_t>(threads)) g_stacks.emplace_back(new char[kStackBytes]);
  g_body = body;
  g_body_data = data;
  gridDim = grid;
  blockDim = block;
  const unsigned long blocks = static_cast<unsigned long>(grid.x) * grid.y * grid.z;
  // Odd launches run their blocks last to first, and the blocks take the three thread orders in
  // turn, starting from a different one at each launch (so that a one-block kernel sees all three
  // over three launches): a result that depends on the order differs from the reference.
  constexpr Order kOrders[] = {Order::Forward, Order::Reverse, Order::WarpByWarp};
  for (unsigned long k = 0; k < blocks; ++k) {
    const unsigned long i = launch_number % 2 == 1 ? blocks - 1 - k : k;
    blockIdx = uint3{static_cast<unsigned>(i % grid.x), static_cast<unsigned>(i / grid.x % grid.y),
                     static_cast<unsigned>(i / (static_cast<unsigned long>(grid.x) * grid.y))};
    Block b(threads);
    g_block = &b;
    run_block(b, kOrders[(k + launch_number) % 3]);
    g_block = nullptr;
  }
}

void* shared_storage(const void* key, size_t bytes, size_t alignment) {
  if (alignment > alignof(std::max_align_t)) finding("__shared__ alignment %zu is not emulated", alignment);
  auto found = g_block->shared.find(key);
  if (found == g_block->shared.end()) {
    Block::Shared storage{std::unique_ptr<unsigned char[]>(new unsigned char[bytes]), bytes};  // exact size
    std::memset(storage.bytes.get(), 0xFF, bytes);  // NaN: a read before any write shows up
    found = g_block->shared.emplace(key, std::move(storage)).first;
    size_t total = 0;
    for (const auto& [declaration, s] : g_block->shared) total += s.size;
    if (total > kStaticSharedLimit && total - bytes <= kStaticSharedLimit)  // said once, when crossed
      finding("%zu bytes of static __shared__ memory in one block: over CUDA's %zu", total, kStaticSharedLimit);
  }
  return found->second.bytes.get();
}

void syncthreads(const char* file, int line) { wait_at(State::AtSyncthreads, file, line); }

void warp_exchange(unsigned mask, uint64_t value, uint64_t lanes[32], const char* file, int line) {
  if (mask != 0xffffffffu) finding("warp collective at %s:%d with mask %#x, not the full warp", file, line, mask);
  auto& slots = g_block->warp_slots[g_tid / 32];
  slots[g_tid % 32] = value;
  wait_at(State::AtWarpExchange, file, line);  // every lane has deposited
  std::memcpy(lanes, slots.data(), sizeof slots);
  wait_at(State::AtWarpExchange, file, line);  // every lane has read: the slots may be reused
}

int lane() { return g_tid % 32; }

std::string take_findings() { return std::exchange(g_findings, std::string()); }

long launch_count(const std::string& name) {
  long total = 0;
  for (const auto& [kernel, grids] : g_launches)
    if (kernel.find(name) != std::string::npos) total += static_cast<long>(grids.size());
  return total;
}

long launch_count(const std::string& name, dim3 grid) {
  long total = 0;
  for (const auto& [kernel, grids] : g_launches)
    if (kernel.find(name) != std::string::npos)
      total += std::count_if(grids.begin(), grids.end(),
                             [&](dim3 g) { return g.x == grid.x && g.y == grid.y && g.z == grid.z; });
  return total;
}

}  // namespace emu

cudaError_t cudaGetLastError() { return std::exchange(emu::g_last_error, cudaSuccess); }

const char* cudaGetErrorString(cudaError_t error) {
  return error == cudaSuccess ? "no error" : "invalid configuration argument (emulated launch check)";
}
