// Timing for the benchmarks: seconds per call of some work on a context's device (device events
// on the GPU, a steady clock on the CPU), warmed up, as the median of several timed rounds.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "engine/check.h"
#include "engine/context.h"

struct BenchRepeats {
  int warmup = 3, rounds = 5, calls_per_round = 20;
};

// `work(i)` is the i-th call (benchmarks rotate their inputs by it, so that repeats do not just
// measure the L2 cache).
inline double seconds_per_call(Context& ctx, const std::function<void(int)>& work, BenchRepeats repeats = {}) {
  int call = 0;
  for (int i = 0; i < repeats.warmup; ++i) work(call++);
  ctx.synchronize();
  cudaEvent_t begin = nullptr, end = nullptr;
  if (ctx.is_cuda()) {
    CUDA_CHECK(cudaEventCreate(&begin));
    CUDA_CHECK(cudaEventCreate(&end));
  }
  std::vector<double> per_call;
  for (int round = 0; round < repeats.rounds; ++round) {
    const auto start = std::chrono::steady_clock::now();
    if (ctx.is_cuda()) CUDA_CHECK(cudaEventRecord(begin, ctx.stream));
    for (int i = 0; i < repeats.calls_per_round; ++i) work(call++);
    double seconds;
    if (ctx.is_cuda()) {
      CUDA_CHECK(cudaEventRecord(end, ctx.stream));
      CUDA_CHECK(cudaEventSynchronize(end));
      float ms = 0.0f;
      CUDA_CHECK(cudaEventElapsedTime(&ms, begin, end));
      seconds = ms / 1e3;
    } else {
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    per_call.push_back(seconds / repeats.calls_per_round);
  }
  if (ctx.is_cuda()) {
    CUDA_CHECK(cudaEventDestroy(begin));
    CUDA_CHECK(cudaEventDestroy(end));
  }
  std::nth_element(per_call.begin(), per_call.begin() + per_call.size() / 2, per_call.end());
  return per_call[per_call.size() / 2];
}
