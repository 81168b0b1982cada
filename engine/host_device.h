// HOST_DEVICE marks functions that both the CPU reference and the CUDA kernels call.
#pragma once

#ifdef __CUDACC__
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif
