// Stand-in for <cuda_runtime.h> in the emulated build: the CUDA surface the kernels use is in tests/emulation/emulator.h.
#pragma once
#include "emulator.h"
