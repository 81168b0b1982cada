// Stand-in for <nvtx3/nvToolsExt.h> in the emulated build: profiler ranges do nothing.
#pragma once
inline int nvtxRangePushA(const char*) { return 0; }
inline int nvtxRangePop() { return 0; }
