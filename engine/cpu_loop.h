// The CPU side of the element-wise ops: op(i) for every i < n, vectorised, over the calling rank's
// OpenMP threads (train.cu's share_cores sets how many). Each element is independent, so the bits
// do not depend on the thread count. Short loops stay on one thread: waking the others would cost
// more than it saves.
#pragma once

#include <cstddef>

constexpr size_t kCpuParallelFrom = size_t{1} << 14;

template <typename Op>
inline void cpu_for_each(size_t n, const Op& op) {
#pragma omp parallel for simd schedule(static) if (n >= kCpuParallelFrom)
  for (size_t i = 0; i < n; ++i) op(i);
}
