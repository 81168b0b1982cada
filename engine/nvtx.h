// NVTX ranges, so that Nsight timelines show each launcher and each training phase by name.
#pragma once

#include <nvtx3/nvToolsExt.h>

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) { nvtxRangePushA(name); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

#define NVTX_CONCAT_INNER(a, b) a##b
#define NVTX_CONCAT(a, b) NVTX_CONCAT_INNER(a, b)
#define NVTX_RANGE(name) NvtxRange NVTX_CONCAT(nvtx_range_, __LINE__)(name)
// A range named after the enclosing function, as every launcher opens one: the name in a timeline
// is the function's own and cannot drift from it.
#define NVTX_FUNCTION() NVTX_RANGE(__func__)
