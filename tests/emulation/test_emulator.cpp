// Negative controls: small kernels with the bugs the emulator claims to catch, so that its silence on the repository's kernels means something.
#include "test_support.h"

namespace {

__global__ void divergent_syncthreads(float* out) {
  if (threadIdx.x < 32) __syncthreads();  // the first warp waits here ...
  __syncthreads();                        // ... the others here: one barrier, two places
  out[threadIdx.x] = 1.0f;
}

__global__ void divergent_shuffle(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x % 32 < 16) v = __shfl_down_sync(0xffffffffu, v, 1);  // half a warp here ...
  else v = __shfl_down_sync(0xffffffffu, v, 2);                         // ... half there
  out[threadIdx.x] = v;
}

__global__ void shuffle_after_exit(float* out) {
  if (threadIdx.x % 32 == 31) return;  // a lane leaves, yet the mask still names it
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);
}

__global__ void read_before_write(float* out) {
  EMU_SHARED(float, scratch, [32]);
  out[threadIdx.x] = scratch[threadIdx.x % 32];  // nobody wrote scratch
}

// Thread 0 publishes a value that every thread reads, without the __syncthreads between.
__global__ void missing_barrier(float* out) {
  EMU_SHARED(float, value, );
  if (threadIdx.x == 0) value = 1.0f;
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

__global__ void with_barrier(float* out) {
  EMU_SHARED(float, value, );
  if (threadIdx.x == 0) value = 1.0f;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

__global__ void race_across_shuffle(float* out) {
  EMU_SHARED(float, value, );
  if (threadIdx.x == 0) value = 1.0f;
  __syncthreads();
  const float seen = value;
  const float neighbour = __shfl_down_sync(0xffffffffu, seen, 1);  // a warp's exchange, not a barrier
  if (threadIdx.x == 0) value = 2.0f;
  out[threadIdx.x] = threadIdx.x % 32 == 31 ? seen : neighbour;
}

__global__ void too_much_shared_memory(float* out) {
  EMU_SHARED(float, tile, [13 * 1024]);  // 52 KiB
  tile[threadIdx.x] = 1.0f;
  out[threadIdx.x] = tile[threadIdx.x];
}

// Each thread passes its linear index (x fastest) one lane down: in a 16 x 2 block, warp lanes
// 16-31 are the second row, so lane 15 gets thread (0, 1)'s index, 16.
__global__ void shuffle_in_2d_block(float* out) {
  const int linear = threadIdx.y * blockDim.x + threadIdx.x;
  out[linear] = __shfl_down_sync(0xffffffffu, static_cast<float>(linear), 1);
}

}  // namespace

TEST_CASE("emulator negative control: threads of a block at different __syncthreads") {
  ExactBuffer<float> out(64);
  ::emu::launch(1, 64, 0, nullptr, "divergent_syncthreads", [&] { divergent_syncthreads(out.data()); });
  CHECK(emu::take_findings().find("divergent __syncthreads") != std::string::npos);
}

TEST_CASE("emulator negative control: lanes of a warp at different shuffles") {
  ExactBuffer<float> out(32);
  ::emu::launch(1, 32, 0, nullptr, "divergent_shuffle", [&] { divergent_shuffle(out.data()); });
  CHECK(emu::take_findings().find("divergent warp collective") != std::string::npos);
}

TEST_CASE("emulator negative control: a full-mask shuffle after a lane has returned") {
  ExactBuffer<float> out(32);
  ::emu::launch(1, 32, 0, nullptr, "shuffle_after_exit", [&] { shuffle_after_exit(out.data()); });
  CHECK(emu::take_findings().find("has 31 live") != std::string::npos);
}

TEST_CASE("emulator negative control: an invalid launch configuration") {
  ::emu::launch(1, 2048, 0, nullptr, "too_many_threads", [] {});
  CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK(emu::take_findings().find("invalid launch configuration") != std::string::npos);
}

TEST_CASE("emulator negative control: more static shared memory than a block may have") {
  ExactBuffer<float> out(32);
  ::emu::launch(1, 32, 0, nullptr, "too_much_shared_memory", [&] { too_much_shared_memory(out.data()); });
  CHECK(emu::take_findings().find("over CUDA's 49152") != std::string::npos);
}

TEST_CASE("emulator negative control: shared memory read before any write is NaN") {
  ExactBuffer<float> out(64);
  ::emu::launch(1, 64, 0, nullptr, "read_before_write", [&] { read_before_write(out.data()); });
  CHECK(std::isnan(out[0]));
  CHECK(std::isnan(out[63]));
  expect_no_findings();
}

// A block's threads take turns in three orders, one per launch for a one-block kernel: in reverse
// order thread 1 reads before thread 0 writes, so exactly one of three launches sees the poison.
// With the barrier, every launch reads the value.
TEST_CASE("emulator negative control: a missing barrier shows up in one of three launches") {
  int poisoned = 0;
  for (int launch = 0; launch < 3; ++launch) {
    ExactBuffer<float> out(64);
    ::emu::launch(1, 64, 0, nullptr, "missing_barrier", [&] { missing_barrier(out.data()); });
    poisoned += std::isnan(out[1]) ? 1 : 0;
    ::emu::launch(1, 64, 0, nullptr, "with_barrier", [&] { with_barrier(out.data()); });
    for (size_t i = 0; i < out.size(); ++i) CHECK(out[i] == 1.0f);
  }
  CHECK(poisoned == 1);
  expect_no_findings();
}

// Thread 0 overwrites what the other warps read, separated from their reads only by its own warp's
// shuffle: when warp 0 runs ahead (one of the three orders), warp 1 reads the new value.
TEST_CASE("emulator negative control: a race across a warp collective shows up when a warp runs ahead") {
  int raced = 0;
  for (int launch = 0; launch < 3; ++launch) {
    ExactBuffer<float> out(64);
    ::emu::launch(1, 64, 0, nullptr, "race_across_shuffle", [&] { race_across_shuffle(out.data()); });
    CHECK(out[0] == 1.0f);
    raced += out[32] == 2.0f ? 1 : 0;
  }
  CHECK(raced == 1);
  expect_no_findings();
}

TEST_CASE("emulator: warp lanes follow the linear thread index in a two-dimensional block") {
  ExactBuffer<float> out(32);
  ::emu::launch(1, dim3(16, 2), 0, nullptr, "shuffle_in_2d_block", [&] { shuffle_in_2d_block(out.data()); });
  CHECK(out[0] == 1.0f);
  CHECK(out[15] == 16.0f);
  CHECK(out[30] == 31.0f);
  CHECK(out[31] == 31.0f);  // no lane 32: the last lane keeps its own value, as in CUDA
  expect_no_findings();
}
